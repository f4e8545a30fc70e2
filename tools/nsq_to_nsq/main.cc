// nsq_to_nsq: republishes topics to other brokers (NSQ's apps/nsq_to_nsq): from NSQ's
// protocol or our gRPC to either. Messages are batched into MPUBs; a message is
// FINished only after the destination acknowledged it, and requeued (with backoff) when
// the publish failed.

#include <csignal>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "spdlog/spdlog.h"
#include "tools/flags/tool_flags.h"
#include "tools/nsq_to_nsq/json_filter.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "nsq_to_nsq";
constexpr int kPublishers = 2;  // MPUBs in flight per topic

// One source topic: a consumer feeding publisher threads.
class Forwarder {
 public:
  Forwarder(client::ConsumerOptions co, client::Producer* producer, std::string destination_topic,
            const JsonFilter* filter, int64_t status_every)
      : producer_(producer),
        topic_(std::move(destination_topic)),
        filter_(filter),
        status_every_(status_every),
        batch_(static_cast<size_t>(std::max<int64_t>(1, co.config.max_in_flight / kPublishers))) {
    consumer_ = std::make_unique<client::Consumer>(std::move(co), client::Async{[this](client::Message m) {
                                                     absl::MutexLock lock(&mu_);
                                                     queue_.push_back(std::move(m));
                                                   }});
  }

  absl::Status Start() {
    if (auto st = consumer_->Start(); !st.ok()) return st;
    for (int i = 0; i < kPublishers; ++i) threads_.emplace_back([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() {
    consumer_->Stop();  // lets the in-flight messages be published and FINished first
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (auto& t : threads_) t.join();
  }

 private:
  void Run() {
    for (;;) {
      std::vector<client::Message> batch;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stop_; };
        mu_.Await(absl::Condition(&ready));
        if (queue_.empty()) return;
        while (!queue_.empty() && batch.size() < batch_) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      std::vector<std::string> bodies;
      std::vector<client::Message> sent, dropped;
      for (client::Message& m : batch) {
        if (auto b = filter_->Apply(m.body)) {
          bodies.push_back(std::move(*b));
          sent.push_back(std::move(m));
        } else {
          dropped.push_back(std::move(m));
        }
      }
      client::FinishAll(dropped);
      if (bodies.empty()) continue;
      auto r = producer_->Publish(topic_, bodies);
      if (!r.ok()) {
        spdlog::error("publish to {}: {}: requeueing {} messages", topic_, std::string(r.status().message()),
                      sent.size());
        for (const client::Message& m : sent) m.Requeue();
        continue;
      }
      client::FinishAll(sent);
      const int64_t before = forwarded_.fetch_add(static_cast<int64_t>(sent.size()));
      if (status_every_ > 0 && (before + static_cast<int64_t>(sent.size())) / status_every_ > before / status_every_) {
        spdlog::info("{} messages forwarded to {}", before + static_cast<int64_t>(sent.size()), topic_);
      }
    }
  }

  client::Producer* const producer_;
  const std::string topic_;
  const JsonFilter* const filter_;
  const int64_t status_every_;
  const size_t batch_;
  std::unique_ptr<client::Consumer> consumer_;
  absl::Mutex mu_;
  std::deque<client::Message> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> forwarded_{0};
  std::vector<std::thread> threads_;
};

int Run(int argc, char** argv) {
  process::BlockShutdownSignals();
  process::IgnoreSigpipe();
  std::vector<std::string> topics;
  std::string channel = "nsq_to_nsq";
  std::string destination_topic;
  std::string mode = "hostpool";
  int64_t max_in_flight = 200;
  int64_t status_every = 250;
  std::string log_level = "info";
  JsonFilter filter;
  SourceFlags source;
  DestinationFlags dest;
  flags::FlagSet fs(kTool);
  fs.AddStringList("topic", &topics, "nsq topic (may be given multiple times)");
  fs.AddString("channel", &channel, "nsq channel");
  fs.AddString("destination-topic", &destination_topic, "use this destination topic for all consumed topics (default is consumed topic name)");
  fs.AddString("mode", &mode, "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy");
  fs.AddInt64("max-in-flight", &max_in_flight, "max number of messages to allow in flight");
  fs.AddInt64("status-every", &status_every, "the # of requests between logging status (per destination), 0 disables");
  fs.AddStringList("whitelist-json-field", &filter.whitelist, "for JSON messages: pass this field (may be given multiple times)");
  fs.AddString("require-json-field", &filter.require_field, "for JSON messages: only pass messages that contain this field");
  fs.AddString("require-json-value", &filter.require_value, "for JSON messages: only pass messages in which the required field has this value");
  fs.AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  source.Register(&fs);
  dest.Register(&fs, "destination-");
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  if (auto st = logging::InitLogging(log_level, "[nsq_to_nsq] "); !st.ok()) return Fail(kTool, st);
  auto bad = [](std::string m) { return Fail(kTool, absl::InvalidArgumentError(std::move(m))); };
  if (auto st = CheckTopics(topics); !st.ok()) return Fail(kTool, st);
  if (!destination_topic.empty() && !IsValidName(destination_topic)) {
    return bad(absl::StrCat("--destination-topic ", destination_topic, " is not a valid topic name"));
  }
  if (auto st = CheckName("channel", channel, "channel"); !st.ok()) return Fail(kTool, st);
  if (max_in_flight < 1) return bad("--max-in-flight must be >= 1");
  if (mode != "hostpool" && mode != "round-robin" && mode != "epsilon-greedy") {
    return bad(absl::StrCat("--mode ", mode, ": want round-robin, hostpool or epsilon-greedy"));
  }
  if (!filter.require_value.empty() && filter.require_field.empty()) {
    return bad("--require-json-value requires --require-json-field");
  }
  if (auto st = source.Validate(); !st.ok()) return Fail(kTool, st);
  if (auto st = dest.Validate("destination-"); !st.ok()) return Fail(kTool, st);
  client::ProducerOptions po;
  if (auto st = dest.Apply(&po); !st.ok()) return Fail(kTool, st);
  // hostpool / epsilon-greedy: stay on a broker that works, move off one that fails.
  po.mode = mode == "round-robin" ? client::ProducerOptions::Mode::kRoundRobin
                                  : client::ProducerOptions::Mode::kFailover;
  client::Producer producer(po);

  std::vector<std::unique_ptr<Forwarder>> forwarders;
  for (const std::string& t : topics) {
    client::ConsumerOptions o;
    o.topic = t;
    o.channel = channel;
    o.config.user_agent = "nsq_to_nsq/1.3.0 nsq-cpp";
    if (auto st = source.Apply(&o); !st.ok()) return Fail(kTool, st);
    o.config.max_in_flight = max_in_flight;
    forwarders.push_back(std::make_unique<Forwarder>(o, &producer, destination_topic.empty() ? t : destination_topic,
                                                     &filter, status_every));
    if (auto st = forwarders.back()->Start(); !st.ok()) return Fail(kTool, st);
  }
  for (;;) {
    const int sig = process::WaitForShutdownSignal();
    if (sig != SIGHUP) break;
  }
  for (auto& f : forwarders) f->Stop();
  return 0;
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
