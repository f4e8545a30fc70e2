// to_nsq: publishes stdin, one message per --delimiter-separated record, to every given
// broker (NSQ's apps/to_nsq). Records read together are published together (MPUB) when
// --rate is 0; with --rate, at most that many records per second.

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/producer.h"
#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "tools/flags/tool_flags.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "to_nsq";
constexpr size_t kMaxBatch = 200;

int Run(int argc, char** argv) {
  process::IgnoreSigpipe();
  std::string topic;
  std::string delimiter = "\n";
  int64_t rate = 0;
  std::string log_level = "info";
  DestinationFlags dest;
  flags::FlagSet fs(kTool);
  fs.AddString("topic", &topic, "NSQ topic to publish to");
  fs.AddString("delimiter", &delimiter, "character to split input from stdin");
  fs.AddInt64("rate", &rate, "throttle messages per second (0 = unthrottled)");
  fs.AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  dest.Register(&fs);
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  if (auto st = logging::InitLogging(log_level, "[to_nsq] "); !st.ok()) return Fail(kTool, st);
  if (topic.empty()) return Fail(kTool, absl::InvalidArgumentError("--topic required"));
  if (auto st = CheckName("topic", topic, "topic"); !st.ok()) return Fail(kTool, st);
  if (delimiter.size() != 1) return Fail(kTool, absl::InvalidArgumentError("--delimiter must be a single byte"));
  if (rate < 0) return Fail(kTool, absl::InvalidArgumentError("--rate must be >= 0"));
  if (auto st = dest.Validate(); !st.ok()) return Fail(kTool, st);
  client::ProducerOptions po;
  if (auto st = dest.Apply(&po); !st.ok()) return Fail(kTool, st);
  po.max_retries = 0;
  client::Producer producer(po);

  const char delim = delimiter[0];
  const absl::Duration interval = rate > 0 ? absl::Seconds(1) / rate : absl::ZeroDuration();
  absl::Time next = absl::Now();
  std::vector<std::string> batch;
  auto publish = [&]() -> bool {
    if (batch.empty()) return true;
    for (size_t i = 0; i < producer.size(); ++i) {
      if (auto st = producer.PublishTo(i, topic, batch); !st.ok()) {
        std::cerr << kTool << ": publish to " << producer.address(i) << ": " << st.message() << std::endl;
        return false;
      }
    }
    batch.clear();
    return true;
  };
  std::string pending;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(kTool, absl::UnavailableError(absl::StrCat("read stdin: ", std::strerror(errno))));
    const bool eof = n == 0;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (;;) {
      const size_t end = pending.find(delim, start);
      if (end == std::string::npos) break;
      if (end > start) batch.push_back(pending.substr(start, end - start));
      start = end + 1;
      if (rate > 0 && !batch.empty()) {
        const absl::Time now = absl::Now();
        if (next > now) absl::SleepFor(next - now);
        next = std::max(next, now) + interval;
        if (!publish()) return 1;
      } else if (batch.size() >= kMaxBatch) {
        if (!publish()) return 1;
      }
    }
    pending.erase(0, start);
    if (eof) {
      if (!pending.empty()) batch.push_back(pending);  // the last record needs no delimiter
      return publish() ? 0 : 1;
    }
    if (!publish()) return 1;  // what this read completed
  }
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
