// nsq_to_file: writes topics to files (NSQ's apps/nsq_to_file). A message is FINished
// only after its bytes are fsynced; SIGHUP closes and reopens the files, SIGINT/SIGTERM
// syncs, closes and moves them, then exits.

#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/consumer.h"
#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "re2/re2.h"
#include "spdlog/spdlog.h"
#include "tools/flags/tool_flags.h"
#include "tools/nsq_to_file/output_file.h"
#include "tools/nsq_to_file/topic_writer.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "nsq_to_file";

int Run(int argc, char** argv) {
  process::BlockShutdownSignals();
  process::IgnoreSigpipe();
  std::vector<std::string> topics;
  std::string topic_pattern;
  absl::Duration topic_refresh = absl::Minutes(1);
  std::string channel = "nsq_to_file";
  int64_t max_in_flight = 200;
  absl::Duration sync_interval = absl::Seconds(30);
  int gzip_level = 6;
  std::string log_level = "info";
  std::string log_prefix = "[nsq_to_file] ";
  FileOptions fo;
  SourceFlags source;
  flags::FlagSet fs(kTool);
  fs.AddStringList("topic", &topics, "nsq topic (may be given multiple times)");
  fs.AddString("topic-pattern", &topic_pattern, "only log topics matching the following pattern");
  fs.AddDuration("topic-refresh", &topic_refresh, "how frequently the topic list should be refreshed");
  fs.AddString("channel", &channel, "nsq channel");
  fs.AddInt64("max-in-flight", &max_in_flight, "max number of messages to allow in flight");
  fs.AddString("output-dir", &fo.output_dir, "directory to write output files to");
  fs.AddString("work-dir", &fo.work_dir, "directory for in-progress files before moving to output-dir");
  fs.AddString("datetime-format", &fo.datetime_format, "strftime compatible format for <DATETIME> in filename format");
  fs.AddString("filename-format", &fo.filename_format, "output filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. <REV> is increased when file already exists)");
  fs.AddString("host-identifier", &fo.host_identifier, "value to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> are valid replacement tokens");
  fs.AddBool("gzip", &fo.gzip, "gzip output files.");
  fs.AddInt("gzip-level", &gzip_level, "gzip compression level (1-9, 1=BestSpeed, 9=BestCompression)");
  fs.AddBool("skip-empty-files", &fo.skip_empty_files, "skip writing empty files");
  fs.AddInt64("rotate-size", &fo.rotate_size, "rotate the file when it grows bigger than `rotate-size` bytes");
  fs.AddDuration("rotate-interval", &fo.rotate_interval, "rotate the file every duration");
  fs.AddDuration("sync-interval", &sync_interval, "sync file to disk every duration");
  fs.AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  fs.AddString("log-prefix", &log_prefix, "log message prefix");
  source.Register(&fs);
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  if (auto st = logging::InitLogging(log_level, log_prefix); !st.ok()) return Fail(kTool, st);
  auto bad = [](std::string m) { return Fail(kTool, absl::InvalidArgumentError(std::move(m))); };
  if (topics.empty() && topic_pattern.empty()) return bad("--topic or --topic-pattern required");
  if (!topics.empty() && !topic_pattern.empty()) return bad("use --topic or --topic-pattern, not both");
  for (const std::string& t : topics) {
    if (auto st = CheckName("topic", t, "topic"); !st.ok()) return Fail(kTool, st);
  }
  std::unique_ptr<RE2> pattern;
  if (!topic_pattern.empty()) {
    pattern = std::make_unique<RE2>(topic_pattern, RE2::Quiet);
    if (!pattern->ok()) return bad(absl::StrCat("--topic-pattern ", topic_pattern, ": ", pattern->error()));
    if (!source.has_discovery()) return bad("--topic-pattern requires --lookupd-http-address or --discovery-address");
    if (topic_refresh <= absl::ZeroDuration()) return bad("--topic-refresh must be positive");
  }
  if (auto st = CheckName("channel", channel, "channel"); !st.ok()) return Fail(kTool, st);
  if (max_in_flight < 1) return bad("--max-in-flight must be >= 1");
  if (gzip_level < 1 || gzip_level > 9) return bad("--gzip-level must be in 1..9");
  fo.gzip_level = gzip_level;
  if (fo.rotate_size < 0) return bad("--rotate-size must be >= 0");
  if (sync_interval <= absl::ZeroDuration()) return bad("--sync-interval must be positive");
  if (fo.output_dir.empty()) return bad("--output-dir must not be empty");
  if (fo.work_dir.empty()) fo.work_dir = fo.output_dir;
  if (auto st = ComputeFilenameFormat(fo, "topic"); !st.ok()) return Fail(kTool, st.status());
  if (auto st = source.Validate(); !st.ok()) return Fail(kTool, st);

  std::map<std::string, std::unique_ptr<TopicWriter>> writers;
  auto start_topic = [&](const std::string& topic) -> absl::Status {
    if (writers.count(topic) != 0) return absl::OkStatus();
    client::ConsumerOptions o;
    o.topic = topic;
    o.channel = channel;
    o.config.user_agent = "nsq_to_file/1.3.0 nsq-cpp";
    // A message that cannot be written is requeued, never given up on.
    o.config.max_attempts = 0;
    if (auto st = source.Apply(&o); !st.ok()) return st;
    o.config.max_in_flight = max_in_flight;
    auto format = ComputeFilenameFormat(fo, topic);
    if (!format.ok()) return format.status();
    auto w = std::make_unique<TopicWriter>(o, fo, *format, sync_interval);
    if (auto st = w->Start(); !st.ok()) return st;
    spdlog::info("[{}/{}] writing to {}", topic, channel, fo.output_dir);
    writers[topic] = std::move(w);
    return absl::OkStatus();
  };
  auto refresh = [&] {
    auto all = source.ListTopics();
    if (!all.ok()) {
      spdlog::warn("topic refresh: {}", std::string(all.status().message()));
      return;
    }
    for (const std::string& t : *all) {
      if (RE2::PartialMatch(t, *pattern)) {
        if (auto st = start_topic(t); !st.ok()) spdlog::error("topic {}: {}", t, std::string(st.message()));
      }
    }
  };
  for (const std::string& t : topics) {
    if (auto st = start_topic(t); !st.ok()) return Fail(kTool, st);
  }
  if (pattern) refresh();
  for (;;) {
    auto sig = process::WaitForShutdownSignalFor(pattern ? topic_refresh : absl::Hours(1));
    if (!sig) {
      if (pattern) refresh();
      continue;
    }
    if (*sig == SIGHUP) {
      spdlog::info("SIGHUP: reopening files");
      for (auto& [t, w] : writers) w->Reopen();
      continue;
    }
    spdlog::info("signal {}: stopping", *sig);
    break;
  }
  for (auto& [t, w] : writers) w->Stop();
  return 0;
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
