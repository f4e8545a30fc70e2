// grpc_bench: throughput of the Broker gRPC API, in the spirit of NSQ's bench_writer and
// bench_reader.
//
//   grpc_bench --mode=pub          publish for --duration
//   grpc_bench --mode=sub          consume (and FIN) for --duration
//   grpc_bench --mode=pubsub       both at once
//   grpc_bench --mode=pub-then-sub publish for --duration, then drain that backlog
//
// --inprocess starts a broker (engine over in-memory storage + the gRPC service on
// 127.0.0.1:0) in this process instead of connecting to --address.

#include <grpcpp/grpcpp.h>

#include <sys/resource.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flags/flags.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"
#include "services/broker/core/storage.h"
#include "services/broker/grpc/broker_service.h"

namespace nsq::bench {
namespace {

using ::nsq::v1::Broker;
using ::nsq::v1::PublishRequest;
using ::nsq::v1::PublishResponse;
using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

struct Options {
  std::string address = "127.0.0.1:4153";  // broker gRPC address
  std::string mode = "pub";                // pub | sub | pubsub | pub-then-sub
  std::string topic = "";                  // default: bench_topic#<unix time>
  std::string channel = "ch";
  int connections = 2;                     // publisher connections / subscriber streams
  int pipeline = 4;                        // Publish calls in flight per connection
  int batch_size = 200;                    // bodies per Publish
  int size = 200;                          // bytes per body
  absl::Duration duration = absl::Seconds(10);
  int64_t rdy = 2500;                      // RDY per subscriber stream
  bool inprocess = false;
  int64_t response_messages = 0;           // --inprocess: messages per Subscribe response
  // Beyond NSQ: a channel policy set with SetChannelPolicy before the run (all 0 / "":
  // none).
  int max_attempts = 0;
  std::string dead_letter_topic;
  absl::Duration message_ttl = absl::ZeroDuration();
  int64_t max_depth = 0;
  // --inprocess: e2e latency recording (the Prometheus histogram) and nsqd's windowed
  // percentiles (--e2e-processing-latency-percentile).
  bool e2e_histogram = true;
  std::vector<std::string> e2e_percentiles;
  // --compare-features: the same pub-then-sub run, --rounds times, with no feature, with
  // the broker's defaults, and with every feature configured; in-process.
  bool compare_features = false;
  int rounds = 3;
};

// What a run measured (msgs/s), for --compare-features.
struct RunResult {
  double pub_rate = 0;
  double sub_rate = 0;
  double pub_cpu_us = 0;  // process CPU per message
  double sub_cpu_us = 0;
};

std::shared_ptr<grpc::Channel> NewConnection(const std::string& address) {
  grpc::ChannelArguments args;
  // One TCP connection per channel object (no sharing of subchannels).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// CPU time (user + system) of this whole process so far. With --inprocess it covers
// client and broker: per message it is a figure that other load on the machine does not
// move much, unlike msgs/s.
absl::Duration ProcessCpuTime() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

double Report(const char* phase, uint64_t messages, uint64_t bytes, absl::Duration elapsed,
              absl::Duration cpu, double* cpu_per_message = nullptr) {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? messages / seconds : 0;
  const double mib = seconds > 0 ? bytes / seconds / (1024.0 * 1024.0) : 0;
  const double cpu_us = messages > 0 ? absl::ToDoubleMicroseconds(cpu) / messages : 0;
  std::printf("%s: %llu msgs in %.1fs = %.0f msgs/s, %.1f MiB/s (process cpu %.2f core-us/msg)\n",
              phase, static_cast<unsigned long long>(messages), seconds, rate, mib, cpu_us);
  std::fflush(stdout);
  if (cpu_per_message != nullptr) *cpu_per_message = cpu_us;
  return rate;
}

// Keeps `pipeline` Publish calls in flight on one connection until told to stop.
class Publisher {
 public:
  Publisher(std::shared_ptr<grpc::Channel> channel, const PublishRequest* request, int pipeline)
      : stub_(Broker::NewStub(channel)), request_(request), pipeline_(pipeline) {}

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < pipeline_; ++i) {
      slots_.push_back(std::make_unique<Slot>());
      ++outstanding_;
      Call(slots_.back().get());
    }
  }
  void Stop() {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.wait(lock, [this] { return outstanding_ == 0; });
  }
  uint64_t published() const { return published_.load(); }
  uint64_t failures() const { return failures_.load(); }
  const std::string& last_error() const { return last_error_; }

 private:
  // One call in flight. The response object is reused (protobuf keeps the id strings of
  // a cleared repeated field); a ClientContext cannot be, so each call gets a new one.
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    PublishResponse response;
  };

  void Call(Slot* slot) {
    slot->context = std::make_unique<grpc::ClientContext>();
    stub_->async()->Publish(slot->context.get(), request_, &slot->response,
                            [this, slot](grpc::Status status) { Done(slot, status); });
  }

  void Done(Slot* slot, const grpc::Status& status) {
    if (status.ok()) {
      published_ += request_->bodies_size();
    } else {
      ++failures_;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok() && last_error_.empty()) last_error_ = status.error_message();
    if (stopping_ || (!status.ok() && failures_ > 100)) {
      if (--outstanding_ == 0) cv_.notify_all();
      return;
    }
    Call(slot);
  }

  std::unique_ptr<Broker::Stub> stub_;
  const PublishRequest* request_;
  const int pipeline_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int outstanding_ = 0;
  bool stopping_ = false;
  std::string last_error_;
};

// One Subscribe stream: RDY n, FIN of every received response in one command.
class Subscriber final : public grpc::ClientBidiReactor<SubscribeRequest, SubscribeResponse> {
 public:
  Subscriber(Broker::Stub* stub, const Options& options, std::atomic<uint64_t>* received,
             std::atomic<uint64_t>* received_bytes)
      : received_(received), received_bytes_(received_bytes) {
    stub->async()->Subscribe(&context_, this);
    SubscribeRequest subscribe;
    subscribe.mutable_subscribe()->set_topic(options.topic);
    subscribe.mutable_subscribe()->set_channel(options.channel);
    subscribe.mutable_subscribe()->set_user_agent("grpc_bench");
    Send(std::move(subscribe));
    SubscribeRequest ready;
    ready.mutable_ready()->set_count(options.rdy);
    Send(std::move(ready));
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::unique_lock<std::mutex> lock(mu_);
    if (!response_.errors().empty() && first_error_.empty()) {
      first_error_ = response_.errors(0).message();
    }
    const int n = response_.messages_size();
    if (n > 0) {
      uint64_t bytes = 0;
      // Copied, not moved: both sides keep their strings' capacity for the next round.
      auto* ids = fin_pending_.mutable_finish()->mutable_ids();
      for (const auto& m : response_.messages()) {
        bytes += m.body().size();
        ids->Add()->assign(m.id());
      }
      *received_ += n;
      *received_bytes_ += bytes;
      MaybeWrite(lock);
    } else {
      lock.unlock();
    }
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) MaybeWrite(lock);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }

  // Cancels the stream and waits for it to end.
  grpc::Status Stop() {
    context_.TryCancel();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return status_;
  }
  std::string first_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }

 private:
  void Send(SubscribeRequest request) {
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(std::move(request));
    MaybeWrite(lock);
  }

  // One write in flight: control commands first, then one FIN of every id received
  // since the last FIN was written. Unlocks `lock`.
  void MaybeWrite(std::unique_lock<std::mutex>& lock) {
    if (writing_) return;
    if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
    } else if (fin_pending_.has_finish() && fin_pending_.finish().ids_size() > 0) {
      current_.Swap(&fin_pending_);
      fin_pending_.mutable_finish()->clear_ids();
    } else {
      return;
    }
    writing_ = true;
    lock.unlock();
    StartWrite(&current_);
  }

  grpc::ClientContext context_;
  SubscribeResponse response_;
  std::atomic<uint64_t>* received_;
  std::atomic<uint64_t>* received_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;
  SubscribeRequest current_;
  SubscribeRequest fin_pending_;
  std::deque<SubscribeRequest> queue_;
  bool done_ = false;
  grpc::Status status_;
  std::string first_error_;
};

struct PubResult {
  uint64_t messages = 0;
  absl::Duration elapsed;
};

// Starts publishers; `stop` is polled until it says the phase is over.
class PubPhase {
 public:
  explicit PubPhase(const Options& options) : options_(options) {
    request_.set_topic(options.topic);
    const std::string body(options.size, 'a');
    for (int i = 0; i < options.batch_size; ++i) request_.add_bodies(body);
    for (int i = 0; i < options.connections; ++i) {
      publishers_.push_back(
          std::make_unique<Publisher>(NewConnection(options.address), &request_, options.pipeline));
    }
  }
  void Start() {
    start_ = absl::Now();
    for (auto& p : publishers_) p->Start();
  }
  PubResult Stop() {
    for (auto& p : publishers_) p->Stop();
    PubResult result;
    result.elapsed = absl::Now() - start_;
    for (auto& p : publishers_) {
      result.messages += p->published();
      if (p->failures() > 0) {
        std::fprintf(stderr, "pub: %llu failed calls, e.g. %s\n",
                     static_cast<unsigned long long>(p->failures()), p->last_error().c_str());
      }
    }
    return result;
  }

 private:
  const Options& options_;
  PublishRequest request_;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  absl::Time start_;
};

class SubPhase {
 public:
  explicit SubPhase(const Options& options) : options_(options) {}
  void Start() {
    start_ = absl::Now();
    for (int i = 0; i < options_.connections; ++i) {
      stubs_.push_back(Broker::NewStub(NewConnection(options_.address)));
      subscribers_.push_back(
          std::make_unique<Subscriber>(stubs_.back().get(), options_, &received_, &bytes_));
    }
  }
  uint64_t received() const { return received_.load(); }
  // Runs until `deadline`, until `expected` messages arrived (0 = no expectation), or
  // until nothing arrived for a few seconds after something did.
  void Wait(absl::Time deadline, uint64_t expected) {
    uint64_t last = 0;
    absl::Time last_change = absl::Now();
    while (absl::Now() < deadline) {
      uint64_t now_received = received_.load();
      if (expected > 0 && now_received >= expected) break;
      if (now_received != last) {
        last = now_received;
        last_change = absl::Now();
        end_ = last_change;
      } else if (now_received > 0 && absl::Now() - last_change > absl::Seconds(3)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  void Stop(uint64_t* messages, uint64_t* bytes, absl::Duration* elapsed) {
    absl::Time stop = absl::Now();
    *messages = received_.load();
    *bytes = bytes_.load();
    // An idle tail (waiting for messages that never came) does not count.
    if (end_ != absl::InfinitePast() && stop - end_ > absl::Seconds(1)) stop = end_;
    *elapsed = stop - start_;
    for (auto& s : subscribers_) {
      std::string error = s->first_error();
      grpc::Status status = s->Stop();
      if (!error.empty()) std::fprintf(stderr, "sub: server error: %s\n", error.c_str());
      if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
        std::fprintf(stderr, "sub: stream ended: %s\n", status.error_message().c_str());
      }
    }
  }

 private:
  const Options& options_;
  std::vector<std::unique_ptr<Broker::Stub>> stubs_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> bytes_{0};
  absl::Time start_;
  absl::Time end_ = absl::InfinitePast();
};

bool CreateChannel(const Options& options) {
  auto stub = Broker::NewStub(NewConnection(options.address));
  nsq::v1::ChannelRequest request;
  request.set_topic(options.topic);
  request.set_channel(options.channel);
  nsq::v1::ChannelResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->CreateChannel(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "CreateChannel: %s\n", status.error_message().c_str());
    return false;
  }
  return true;
}

bool HasPolicy(const Options& o) {
  return o.max_attempts > 0 || !o.dead_letter_topic.empty() || o.message_ttl > absl::ZeroDuration() ||
         o.max_depth > 0;
}

// The channel's policy, before anything is published (SetChannelPolicy).
bool SetPolicy(const Options& options) {
  auto stub = Broker::NewStub(NewConnection(options.address));
  nsq::v1::SetChannelPolicyRequest request;
  request.set_topic(options.topic);
  request.set_channel(options.channel);
  nsq::v1::ChannelPolicy* p = request.mutable_policy();
  p->set_max_attempts(options.max_attempts);
  p->set_dead_letter_topic(options.dead_letter_topic);
  p->set_message_ttl_ms(absl::ToInt64Milliseconds(options.message_ttl));
  p->set_max_depth(options.max_depth);
  nsq::v1::ChannelResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->SetChannelPolicy(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "SetChannelPolicy: %s\n", status.error_message().c_str());
    return false;
  }
  return true;
}

broker::EngineOptions InProcessEngineOptions(const Options& options) {
  broker::EngineOptions e;
  e.record_e2e_latency = options.e2e_histogram;
  for (const std::string& list : options.e2e_percentiles) {
    for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
      double q = 0;
      if (absl::SimpleAtod(part, &q) && q > 0 && q <= 1) e.e2e_percentiles.push_back(q);
    }
  }
  return e;
}

// A broker inside this process: engine over in-memory storage, the gRPC service, and the
// timer thread the real broker runs.
class InProcessBroker {
 public:
  explicit InProcessBroker(const Options& options)
      : engine_(InProcessEngineOptions(options), RealClock::Get(), &storage_),
        server_(&engine_, ServiceOptions(options)) {}
  ~InProcessBroker() {
    stopping_ = true;
    if (timer_.joinable()) timer_.join();
    server_.Stop();
    engine_.Shutdown();
  }
  static broker::BrokerServiceOptions ServiceOptions(const Options& options) {
    broker::BrokerServiceOptions service;
    if (options.response_messages > 0) service.max_response_messages = options.response_messages;
    return service;
  }

  bool Start(std::string* address) {
    if (!engine_.Start().ok()) return false;
    absl::Status status = server_.Start("127.0.0.1:0");
    if (!status.ok()) {
      std::fprintf(stderr, "in-process broker: %s\n", std::string(status.message()).c_str());
      return false;
    }
    *address = absl::StrCat("127.0.0.1:", server_.port());
    timer_ = std::thread([this] {
      while (!stopping_) {
        engine_.ProcessTimers();
        absl::SleepFor(absl::Milliseconds(10));
      }
    });
    return true;
  }

 private:
  broker::MemoryStorage storage_;
  broker::Engine engine_;
  broker::BrokerGrpcServer server_;
  std::atomic<bool> stopping_{false};
  std::thread timer_;
};

int Run(Options options, RunResult* result = nullptr) {
  std::unique_ptr<InProcessBroker> broker;
  if (options.inprocess) {
    broker = std::make_unique<InProcessBroker>(options);
    if (!broker->Start(&options.address)) return 1;
  }
  if (options.topic.empty()) {
    options.topic = absl::StrCat("bench_topic", absl::ToUnixSeconds(absl::Now()));
  }
  std::printf("grpc_bench: mode=%s address=%s topic=%s channel=%s connections=%d batch-size=%d "
              "size=%d rdy=%lld duration=%s%s\n",
              options.mode.c_str(), options.address.c_str(), options.topic.c_str(),
              options.channel.c_str(), options.connections, options.batch_size, options.size,
              static_cast<long long>(options.rdy), absl::FormatDuration(options.duration).c_str(),
              options.inprocess ? " (in-process broker)" : "");

  const bool pub = options.mode == "pub" || options.mode == "pubsub" ||
                   options.mode == "pub-then-sub";
  const bool sub = options.mode == "sub" || options.mode == "pubsub" ||
                   options.mode == "pub-then-sub";
  if (!pub && !sub) {
    std::fprintf(stderr, "unknown --mode=%s (pub, sub, pubsub, pub-then-sub)\n",
                 options.mode.c_str());
    return 2;
  }
  // The channel exists before publishing so that it queues every message.
  if (sub && !CreateChannel(options)) return 1;
  if (HasPolicy(options)) {
    if (!CreateChannel(options) || !SetPolicy(options)) return 1;
    std::printf("policy: max_attempts=%d dead_letter_topic=%s message_ttl=%s max_depth=%lld\n",
                options.max_attempts, options.dead_letter_topic.c_str(),
                absl::FormatDuration(options.message_ttl).c_str(),
                static_cast<long long>(options.max_depth));
  }
  RunResult ignored;
  if (result == nullptr) result = &ignored;

  if (options.mode == "pubsub") {
    PubPhase pubs(options);
    SubPhase subs(options);
    const absl::Duration cpu_start = ProcessCpuTime();
    subs.Start();
    pubs.Start();
    absl::SleepFor(options.duration);
    PubResult published = pubs.Stop();
    subs.Wait(absl::Now() + absl::Seconds(30), published.messages);
    uint64_t messages = 0, bytes = 0;
    absl::Duration elapsed;
    subs.Stop(&messages, &bytes, &elapsed);
    const absl::Duration cpu = ProcessCpuTime() - cpu_start;
    // Both ran at once: the cpu figure is per message published and consumed.
    result->pub_rate = Report("pub", published.messages, published.messages * options.size, published.elapsed, cpu);
    result->sub_rate = Report("sub", messages, bytes, elapsed, cpu);
    return 0;
  }

  uint64_t expected = 0;
  if (pub) {
    PubPhase pubs(options);
    const absl::Duration cpu_start = ProcessCpuTime();
    pubs.Start();
    absl::SleepFor(options.duration);
    PubResult published = pubs.Stop();
    result->pub_rate = Report("pub", published.messages, published.messages * options.size,
                              published.elapsed, ProcessCpuTime() - cpu_start, &result->pub_cpu_us);
    expected = published.messages;
  }
  if (sub) {
    SubPhase subs(options);
    const absl::Duration cpu_start = ProcessCpuTime();
    subs.Start();
    // Draining a backlog: as long as it takes (bounded); otherwise --duration.
    const absl::Duration limit =
        expected > 0 ? std::max(options.duration * 10, absl::Minutes(5)) : options.duration;
    subs.Wait(absl::Now() + limit, expected);
    uint64_t messages = 0, bytes = 0;
    absl::Duration elapsed;
    subs.Stop(&messages, &bytes, &elapsed);
    result->sub_rate = Report("sub", messages, bytes, elapsed, ProcessCpuTime() - cpu_start,
                              &result->sub_cpu_us);
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Channel features against none, in one process, interleaved round by round so that
// drift on a shared machine hits every configuration alike.
int CompareFeatures(Options base) {
  struct Config {
    const char* name;
    Options options;
    std::vector<double> pub, sub, pub_cpu, sub_cpu;
  };
  base.inprocess = true;
  base.mode = "pub-then-sub";
  Options none = base;
  none.e2e_histogram = false;
  none.e2e_percentiles.clear();
  none.max_attempts = 0;
  none.dead_letter_topic.clear();
  none.message_ttl = absl::ZeroDuration();
  none.max_depth = 0;
  Options defaults = none;
  defaults.e2e_histogram = true;  // the broker's default: the Prometheus histogram only
  Options all = defaults;
  all.e2e_percentiles = {"1.0,0.99,0.95"};
  all.max_attempts = 5;
  all.message_ttl = absl::Hours(1);
  all.max_depth = int64_t{1} << 40;  // never reached
  std::vector<Config> configs = {{"none", none, {}, {}, {}, {}},
                                 {"defaults (e2e histogram)", defaults, {}, {}, {}, {}},
                                 {"all (policy + e2e percentiles)", all, {}, {}, {}, {}}};
  for (int round = 1; round <= base.rounds; ++round) {
    for (Config& c : configs) {
      Options o = c.options;
      o.topic = absl::StrCat("cmp", round, "_", &c - configs.data(), "_", absl::ToUnixSeconds(absl::Now()));
      if (o.max_attempts > 0) o.dead_letter_topic = o.topic + "_dead";
      std::printf("--- round %d: %s\n", round, c.name);
      RunResult r;
      if (int rc = Run(o, &r); rc != 0) return rc;
      c.pub.push_back(r.pub_rate);
      c.sub.push_back(r.sub_rate);
      c.pub_cpu.push_back(r.pub_cpu_us);
      c.sub_cpu.push_back(r.sub_cpu_us);
    }
  }
  // Rates move with whatever else shares the machine; CPU per message moves much less.
  auto change = [](double v, double base) { return base > 0 ? (v / base - 1) * 100 : 0; };
  std::printf("\n%-32s %11s %11s %8s %8s %12s %12s %8s %8s\n", "median of rounds", "pub msg/s",
              "sub msg/s", "vs none", "vs none", "pub cpu-us", "sub cpu-us", "vs none", "vs none");
  const Config& n = configs[0];
  for (const Config& c : configs) {
    std::printf("%-32s %11.0f %11.0f %+7.1f%% %+7.1f%% %12.3f %12.3f %+7.1f%% %+7.1f%%\n", c.name,
                Median(c.pub), Median(c.sub), change(Median(c.pub), Median(n.pub)),
                change(Median(c.sub), Median(n.sub)), Median(c.pub_cpu), Median(c.sub_cpu),
                change(Median(c.pub_cpu), Median(n.pub_cpu)), change(Median(c.sub_cpu), Median(n.sub_cpu)));
  }
  return 0;
}

}  // namespace
}  // namespace nsq::bench

int main(int argc, char** argv) {
  nsq::bench::Options options;
  nsq::flags::FlagSet flags("grpc_bench");
  flags.AddString("address", &options.address, "broker gRPC address");
  flags.AddString("mode", &options.mode, "pub, sub, pubsub (both at once) or pub-then-sub");
  flags.AddString("topic", &options.topic, "topic (default bench_topic<unix time>)");
  flags.AddString("channel", &options.channel, "channel of the subscribers");
  flags.AddInt("connections", &options.connections,
               "publisher connections / subscriber streams");
  flags.AddInt("pipeline", &options.pipeline, "Publish calls in flight per connection");
  flags.AddInt("batch-size", &options.batch_size, "bodies per Publish call");
  flags.AddInt("size", &options.size, "bytes per message body");
  flags.AddDuration("duration", &options.duration, "how long each phase runs");
  flags.AddInt64("rdy", &options.rdy, "RDY count per subscriber stream");
  flags.AddBool("inprocess", &options.inprocess,
                "run a broker inside this process on 127.0.0.1:0 (ignores --address)");
  flags.AddInt64("response-messages", &options.response_messages,
                 "with --inprocess: most messages per Subscribe response (0 = the service's "
                 "default)");
  flags.AddInt("max-attempts", &options.max_attempts, "channel policy: max attempts (0 = none)");
  flags.AddString("dead-letter-topic", &options.dead_letter_topic, "channel policy: dead-letter topic");
  flags.AddDuration("message-ttl", &options.message_ttl, "channel policy: message TTL (0 = none)");
  flags.AddInt64("max-depth", &options.max_depth, "channel policy: max depth (0 = unbounded)");
  flags.AddBool("e2e-histogram", &options.e2e_histogram,
                "with --inprocess: record publish-to-FIN latency (the Prometheus histogram)");
  flags.AddStringList("e2e-processing-latency-percentile", &options.e2e_percentiles,
                      "with --inprocess: nsqd's windowed e2e percentiles, e.g. 1.0,0.99");
  flags.AddBool("compare-features", &options.compare_features,
                "in-process pub-then-sub with no feature, the defaults and every channel feature, "
                "--rounds times each, interleaved");
  flags.AddInt("rounds", &options.rounds, "rounds of --compare-features");
  absl::Status status = flags.Parse(argc, argv);
  if (flags.HelpRequested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!status.ok()) {
    std::cerr << status.message() << "\n" << flags.Usage();
    return 2;
  }
  if (options.connections < 1 || options.pipeline < 1 || options.batch_size < 1 ||
      options.size < 1) {
    std::cerr << "--connections, --pipeline, --batch-size and --size must be positive\n";
    return 2;
  }
  if (options.compare_features) return nsq::bench::CompareFeatures(std::move(options));
  return nsq::bench::Run(std::move(options));
}
