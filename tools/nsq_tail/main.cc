// nsq_tail: prints the messages of one or more topics to stdout (NSQ's apps/nsq_tail),
// by default on a random ephemeral channel; -n exits after that many messages.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/consumer.h"
#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "spdlog/spdlog.h"
#include "tools/flags/tool_flags.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "nsq_tail";

int Run(int argc, char** argv) {
  process::BlockShutdownSignals();
  process::IgnoreSigpipe();
  std::vector<std::string> topics;
  std::string channel;
  int64_t max_in_flight = 200;
  int64_t total = 0;
  bool print_topic = false;
  std::string log_level = "warn";
  SourceFlags source;
  flags::FlagSet fs(kTool);
  fs.AddStringList("topic", &topics, "NSQ topic (may be given multiple times)");
  fs.AddString("channel", &channel, "NSQ channel (default: a random tail<N>#ephemeral)");
  fs.AddInt64("max-in-flight", &max_in_flight, "max number of messages to allow in flight");
  fs.AddInt64("n", &total, "total messages to show (will wait if starved)");
  fs.AddBool("print-topic", &print_topic, "print topic name where message was received");
  fs.AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  source.Register(&fs);
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  if (auto st = logging::InitLogging(log_level, "[nsq_tail] "); !st.ok()) return Fail(kTool, st);
  if (auto st = CheckTopics(topics); !st.ok()) return Fail(kTool, st);
  if (channel.empty()) channel = RandomTailChannel();
  if (auto st = CheckName("channel", channel, "channel"); !st.ok()) return Fail(kTool, st);
  if (max_in_flight < 1) return Fail(kTool, absl::InvalidArgumentError("--max-in-flight must be >= 1"));
  if (total < 0) return Fail(kTool, absl::InvalidArgumentError("-n must be >= 0"));
  if (total > 0 && total < max_in_flight) max_in_flight = total;
  if (auto st = source.Validate(); !st.ok()) return Fail(kTool, st);

  absl::Mutex out_mu;
  int64_t shown = 0;  // guarded by out_mu
  absl::Notification done;
  std::vector<std::unique_ptr<client::Consumer>> consumers;
  for (const std::string& topic : topics) {
    client::ConsumerOptions o;
    o.topic = topic;
    o.channel = channel;
    o.config.user_agent = "nsq_tail/1.3.0 nsq-cpp";
    if (auto st = source.Apply(&o); !st.ok()) return Fail(kTool, st);
    o.config.max_in_flight = max_in_flight;
    o.stop_timeout = absl::Seconds(5);
    consumers.push_back(std::make_unique<client::Consumer>(o, [&, topic](const client::Message& m) {
      absl::MutexLock lock(&out_mu);
      if (total > 0 && shown >= total) return false;  // past -n: back to the channel
      if (print_topic) {
        std::fwrite(topic.data(), 1, topic.size(), stdout);
        std::fwrite(" | ", 1, 3, stdout);
      }
      std::fwrite(m.body.data(), 1, m.body.size(), stdout);
      std::fputc('\n', stdout);
      ++shown;
      if (total > 0 && shown >= total) {
        std::fflush(stdout);
        if (!done.HasBeenNotified()) done.Notify();
      }
      return true;
    }));
  }
  for (auto& c : consumers) {
    if (auto st = c->Start(); !st.ok()) return Fail(kTool, st);
  }
  // Flush stdout now and then (it may be a pipe), until -n is reached or a signal.
  for (;;) {
    if (done.WaitForNotificationWithTimeout(absl::Milliseconds(100))) break;
    {
      absl::MutexLock lock(&out_mu);
      std::fflush(stdout);
    }
    if (auto sig = process::WaitForShutdownSignalFor(absl::ZeroDuration())) {
      if (*sig != SIGHUP) break;
    }
  }
  for (auto& c : consumers) c->Stop();
  absl::MutexLock lock(&out_mu);
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
