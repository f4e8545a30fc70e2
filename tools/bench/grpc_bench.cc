// grpc_bench: throughput of the Broker gRPC API, in the spirit of NSQ's bench_writer and
// bench_reader.
//
//   grpc_bench --mode=pub          publish for --duration
//   grpc_bench --mode=sub          consume (and FIN) for --duration
//   grpc_bench --mode=pubsub       both at once
//   grpc_bench --mode=pub-then-sub publish for --duration, then drain that backlog
//   --rate=N                       fixed rate, calls not waiting for earlier ones,
//                                  time-stamped bodies, latency percentiles
//   --topics=T --channels=C        fan out over T topics x C channels
//
// Flag names and output lines are v2_bench's, so that compare.sh reads both.
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
#include <cstring>
#include <ctime>
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
#include "tools/bench/bench_util.h"

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
  int connections = 2;                     // publisher connections; subscriber streams
                                           // per topic x channel
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
  // Fixed rate (msgs/s over all publisher connections; 0 = as fast as answered). Calls go
  // out without waiting for earlier ones, each body starts with its send time, and
  // subscribers report publish-to-delivery latency percentiles.
  int64_t rate = 0;
  absl::Duration warmup = absl::Seconds(1);  // latency of messages sent before this is skipped
  int topics = 1;    // > 1: topics <topic>_0.., publishers go round robin over them per call
  int channels = 1;  // > 1: channels <channel>_0.. on every topic, --connections streams each
};

// With --rate: Publish calls in flight per connection. Generous, so that a broker that
// keeps up never meets it; reaching it is counted and printed (the rate fell behind).
constexpr int kMaxRateCallsInFlight = 64;

std::string TopicName(const Options& o, int i) { return FanoutName(o.topic, o.topics, i); }
std::string ChannelName(const Options& o, int j) { return FanoutName(o.channel, o.channels, j); }


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

// Keeps `pipeline` Publish calls in flight on one connection until told to stop, each
// call to the next of `requests` (one per topic).
class Publisher {
 public:
  Publisher(std::shared_ptr<grpc::Channel> channel, const std::vector<PublishRequest>* requests,
            int pipeline)
      : stub_(Broker::NewStub(channel)), requests_(requests), pipeline_(pipeline) {}

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
    const PublishRequest* request = nullptr;
    PublishResponse response;
  };

  // Called with mu_ held.
  void Call(Slot* slot) {
    slot->context = std::make_unique<grpc::ClientContext>();
    slot->request = &(*requests_)[next_request_];
    next_request_ = (next_request_ + 1) % requests_->size();
    stub_->async()->Publish(slot->context.get(), slot->request, &slot->response,
                            [this, slot](grpc::Status status) { Done(slot, status); });
  }

  void Done(Slot* slot, const grpc::Status& status) {
    if (status.ok()) {
      published_ += slot->request->bodies_size();
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
  const std::vector<PublishRequest>* requests_;
  const int pipeline_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> failures_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Slot>> slots_;
  size_t next_request_ = 0;  // guarded by mu_
  int outstanding_ = 0;
  bool stopping_ = false;
  std::string last_error_;
};

// --rate: one thread sends, on one connection, a Publish call of whatever is due (at most
// --batch-size bodies, round robin over the topics) without waiting for earlier calls;
// gRPC's callback threads take the answers. At most kMaxRateCallsInFlight calls are in
// flight; a send that finds them all in flight waits for one and is counted.
class RatePublisher {
 public:
  RatePublisher(std::shared_ptr<grpc::Channel> channel, const Options& options, double rate)
      : stub_(Broker::NewStub(channel)), options_(options), rate_(rate) {
    for (int t = 0; t < options.topics; ++t) topics_.push_back(TopicName(options, t));
    for (int i = 0; i < kMaxRateCallsInFlight; ++i) {
      slots_.push_back(std::make_unique<Slot>());
      free_.push_back(slots_.back().get());
    }
  }
  ~RatePublisher() { Stop(); }

  void Start() { sender_ = std::thread([this] { Send(); }); }

  // Stops sending and waits for the calls in flight (cancelled after 10 s).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    std::unique_lock<std::mutex> lock(mu_);
    auto all_answered = [this] { return free_.size() == slots_.size(); };
    if (!cv_.wait_for(lock, std::chrono::seconds(10), all_answered)) {
      std::fprintf(stderr, "pub: %zu calls unanswered after 10s, cancelling them\n",
                   slots_.size() - free_.size());
      // The sender has stopped, so no context is replaced any more; cancel outside the
      // lock, as a cancelled call's callback takes it.
      std::vector<grpc::ClientContext*> contexts;
      for (auto& slot : slots_) {
        if (slot->context != nullptr) contexts.push_back(slot->context.get());
      }
      lock.unlock();
      for (grpc::ClientContext* c : contexts) c->TryCancel();
      lock.lock();
      cv_.wait(lock, all_answered);
    }
    stopped_ = true;
  }
  uint64_t published() const { return published_.load(); }
  uint64_t failures() const { return failures_.load(); }
  uint64_t cap_hits() const { return cap_hits_.load(); }
  std::string last_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

 private:
  struct Slot {
    std::unique_ptr<grpc::ClientContext> context;
    PublishRequest request;  // bodies cleared, not freed: their strings are reused
    PublishResponse response;
  };

  void Send() {
    const int64_t start = NowNs();
    int64_t sent = 0;
    size_t next_topic = 0;
    while (true) {
      const double elapsed = static_cast<double>(NowNs() - start) / 1e9;
      int64_t due = static_cast<int64_t>(rate_ * elapsed) - sent;
      if (due <= 0) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) return;
        }
        const double wait_s = static_cast<double>(sent + 1) / rate_ - elapsed;
        absl::SleepFor(absl::Microseconds(std::max(50.0, wait_s * 1e6)));
        continue;
      }
      due = std::min<int64_t>(due, options_.batch_size);
      Slot* slot = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (stopping_) return;
        if (free_.empty()) {
          ++cap_hits_;
          cv_.wait(lock, [this] { return !free_.empty() || stopping_; });
          if (stopping_) return;
        }
        slot = free_.back();
        free_.pop_back();
      }
      PublishRequest& request = slot->request;
      request.set_topic(topics_[next_topic]);
      next_topic = (next_topic + 1) % topics_.size();
      request.clear_bodies();
      for (int64_t i = 0; i < due; ++i) {
        std::string* body = request.add_bodies();
        body->assign(static_cast<size_t>(options_.size), 'a');
        StampBody(body->data(), body->size());
      }
      slot->response.Clear();
      slot->context = std::make_unique<grpc::ClientContext>();
      stub_->async()->Publish(slot->context.get(), &slot->request, &slot->response,
                              [this, slot](grpc::Status status) { Done(slot, status); });
      sent += due;
    }
  }

  void Done(Slot* slot, const grpc::Status& status) {
    if (status.ok()) {
      published_ += slot->request.bodies_size();
    } else {
      ++failures_;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status.ok() && last_error_.empty()) last_error_ = status.error_message();
      free_.push_back(slot);
    }
    cv_.notify_all();
  }

  std::unique_ptr<Broker::Stub> stub_;
  const Options& options_;
  const double rate_;  // msgs/s on this connection
  std::vector<std::string> topics_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::thread sender_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> cap_hits_{0};
  std::mutex mu_;
  std::condition_variable cv_;  // a slot came free, or stopping_
  std::vector<Slot*> free_;     // guarded by mu_; the slots not in flight
  bool stopping_ = false;       // guarded by mu_
  bool stopped_ = false;        // guarded by mu_
  std::string last_error_;      // guarded by mu_
};

// One Subscribe stream: RDY n, FIN of every received response in one command. With
// `sample_from_ns` >= 0 (--rate), the latency of each message sent at or after it.
class Subscriber final : public grpc::ClientBidiReactor<SubscribeRequest, SubscribeResponse> {
 public:
  Subscriber(Broker::Stub* stub, const Options& options, const std::string& topic,
             const std::string& channel, int64_t sample_from_ns, std::atomic<uint64_t>* received,
             std::atomic<uint64_t>* received_bytes)
      : sample_from_ns_(sample_from_ns), received_(received), received_bytes_(received_bytes) {
    stub->async()->Subscribe(&context_, this);
    SubscribeRequest subscribe;
    subscribe.mutable_subscribe()->set_topic(topic);
    subscribe.mutable_subscribe()->set_channel(channel);
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
      if (sample_from_ns_ >= 0) {
        const int64_t now = NowNs();
        for (const auto& m : response_.messages()) {
          const int64_t sent = BodyStamp(m.body().data(), m.body().size());
          if (sent >= 0 && sent >= sample_from_ns_) samples_.push_back(now - sent);
        }
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
  // The latency samples (ns) so far, moved out.
  std::vector<int64_t> TakeSamples() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(samples_);
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
  const int64_t sample_from_ns_;
  std::vector<int64_t> samples_;  // guarded by mu_
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

// --connections publishers: as fast as answered (--pipeline calls each) or, with --rate,
// RatePublishers sharing the rate.
class PubPhase {
 public:
  explicit PubPhase(const Options& options) : options_(options) {
    if (options.rate > 0) {
      const double per_connection = static_cast<double>(options.rate) / options.connections;
      for (int i = 0; i < options.connections; ++i) {
        rate_publishers_.push_back(std::make_unique<RatePublisher>(NewConnection(options.address),
                                                                   options, per_connection));
      }
      return;
    }
    const std::string body(options.size, 'a');
    for (int t = 0; t < options.topics; ++t) {
      PublishRequest& request = requests_.emplace_back();
      request.set_topic(TopicName(options, t));
      for (int i = 0; i < options.batch_size; ++i) request.add_bodies(body);
    }
    for (int i = 0; i < options.connections; ++i) {
      publishers_.push_back(
          std::make_unique<Publisher>(NewConnection(options.address), &requests_, options.pipeline));
    }
  }
  void Start() {
    start_ = absl::Now();
    for (auto& p : publishers_) p->Start();
    for (auto& p : rate_publishers_) p->Start();
  }
  PubResult Stop() {
    for (auto& p : publishers_) p->Stop();
    for (auto& p : rate_publishers_) p->Stop();
    PubResult result;
    result.elapsed = absl::Now() - start_;
    auto failures = [](uint64_t n, const std::string& error) {
      if (n == 0) return;
      std::fprintf(stderr, "pub: %llu failed calls, e.g. %s\n", static_cast<unsigned long long>(n),
                   error.c_str());
    };
    for (auto& p : publishers_) {
      result.messages += p->published();
      failures(p->failures(), p->last_error());
    }
    uint64_t cap_hits = 0;
    for (auto& p : rate_publishers_) {
      result.messages += p->published();
      cap_hits += p->cap_hits();
      failures(p->failures(), p->last_error());
    }
    if (cap_hits > 0) {
      std::printf("in-flight cap: %llu sends waited for one of the %d calls in flight per "
                  "connection (the broker fell behind --rate)\n",
                  static_cast<unsigned long long>(cap_hits), kMaxRateCallsInFlight);
    }
    return result;
  }

 private:
  const Options& options_;
  std::vector<PublishRequest> requests_;  // one per topic, shared by the Publishers
  std::vector<std::unique_ptr<Publisher>> publishers_;
  std::vector<std::unique_ptr<RatePublisher>> rate_publishers_;
  absl::Time start_;
};

// --connections Subscribe streams (one TCP connection each) on every topic x channel;
// `received` counts deliveries over all channels.
class SubPhase {
 public:
  explicit SubPhase(const Options& options) : options_(options) {}
  // With `sample_from_ns` >= 0, the subscribers record latency (see Subscriber).
  void Start(int64_t sample_from_ns = -1) {
    start_ = absl::Now();
    for (int t = 0; t < options_.topics; ++t) {
      const std::string topic = TopicName(options_, t);
      for (int c = 0; c < options_.channels; ++c) {
        const std::string channel = ChannelName(options_, c);
        for (int i = 0; i < options_.connections; ++i) {
          stubs_.push_back(Broker::NewStub(NewConnection(options_.address)));
          subscribers_.push_back(std::make_unique<Subscriber>(
              stubs_.back().get(), options_, topic, channel, sample_from_ns, &received_, &bytes_));
        }
      }
    }
  }
  uint64_t received() const { return received_.load(); }
  // Runs until `deadline`, until `expected` messages arrived (0 = no expectation), or,
  // with `stop_when_idle`, until nothing arrived for a few seconds after something did.
  void Wait(absl::Time deadline, uint64_t expected, bool stop_when_idle = true) {
    uint64_t last = 0;
    absl::Time last_change = absl::Now();
    while (absl::Now() < deadline) {
      uint64_t now_received = received_.load();
      if (expected > 0 && now_received >= expected) break;
      if (now_received != last) {
        last = now_received;
        last_change = absl::Now();
        end_ = last_change;
      } else if (stop_when_idle && now_received > 0 &&
                 absl::Now() - last_change > absl::Seconds(3)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  // Every subscriber's latency samples; after Stop.
  std::vector<int64_t> TakeSamples() {
    std::vector<int64_t> all;
    for (auto& s : subscribers_) {
      std::vector<int64_t> part = s->TakeSamples();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
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

// Every topic x channel (CreateChannel), so that each channel queues every message.
bool CreateChannels(const Options& options) {
  auto stub = Broker::NewStub(NewConnection(options.address));
  for (int t = 0; t < options.topics; ++t) {
    for (int c = 0; c < options.channels; ++c) {
      nsq::v1::ChannelRequest request;
      request.set_topic(TopicName(options, t));
      request.set_channel(ChannelName(options, c));
      nsq::v1::ChannelResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status status = stub->CreateChannel(&context, request, &response);
      if (!status.ok()) {
        std::fprintf(stderr, "CreateChannel %s/%s: %s\n", request.topic().c_str(),
                     request.channel().c_str(), status.error_message().c_str());
        return false;
      }
    }
  }
  return true;
}

bool HasPolicy(const Options& o) {
  return o.max_attempts > 0 || !o.dead_letter_topic.empty() || o.message_ttl > absl::ZeroDuration() ||
         o.max_depth > 0;
}

// Every channel's policy, before anything is published (SetChannelPolicy).
bool SetPolicy(const Options& options) {
  auto stub = Broker::NewStub(NewConnection(options.address));
  for (int t = 0; t < options.topics; ++t) {
    for (int c = 0; c < options.channels; ++c) {
      nsq::v1::SetChannelPolicyRequest request;
      request.set_topic(TopicName(options, t));
      request.set_channel(ChannelName(options, c));
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
    }
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
  if (options.rate > 0 || options.topics > 1 || options.channels > 1) {
    std::printf("grpc_bench: topics=%d channels=%d rate=%lld warmup=%s\n", options.topics,
                options.channels, static_cast<long long>(options.rate),
                absl::FormatDuration(options.warmup).c_str());
  }

  const bool pub = options.mode == "pub" || options.mode == "pubsub" ||
                   options.mode == "pub-then-sub";
  const bool sub = options.mode == "sub" || options.mode == "pubsub" ||
                   options.mode == "pub-then-sub";
  if (!pub && !sub) {
    std::fprintf(stderr, "unknown --mode=%s (pub, sub, pubsub, pub-then-sub)\n",
                 options.mode.c_str());
    return 2;
  }
  // The channels exist before publishing so that each queues every message.
  if (sub && !CreateChannels(options)) return 1;
  if (HasPolicy(options)) {
    if (!CreateChannels(options) || !SetPolicy(options)) return 1;
    std::printf("policy: max_attempts=%d dead_letter_topic=%s message_ttl=%s max_depth=%lld\n",
                options.max_attempts, options.dead_letter_topic.c_str(),
                absl::FormatDuration(options.message_ttl).c_str(),
                static_cast<long long>(options.max_depth));
  }
  RunResult ignored;
  if (result == nullptr) result = &ignored;

  const bool rate = options.rate > 0;
  if (options.mode == "pubsub") {
    PubPhase pubs(options);
    SubPhase subs(options);
    const absl::Duration cpu_start = ProcessCpuTime();
    // Subscribers first, so that the warmup also covers their connecting.
    const int64_t sample_from = NowNs() + absl::ToInt64Nanoseconds(options.warmup);
    subs.Start(rate ? sample_from : -1);
    pubs.Start();
    absl::SleepFor(options.duration);
    PubResult published = pubs.Stop();
    // At a fixed rate every message is waited for (bounded), so the tail is measured too.
    const uint64_t expected = published.messages * options.channels;
    subs.Wait(absl::Now() + absl::Seconds(30), expected, /*stop_when_idle=*/!rate);
    if (rate && subs.received() < expected) {
      std::fprintf(stderr, "received %llu of %llu\n",
                   static_cast<unsigned long long>(subs.received()),
                   static_cast<unsigned long long>(expected));
    }
    uint64_t messages = 0, bytes = 0;
    absl::Duration elapsed;
    subs.Stop(&messages, &bytes, &elapsed);
    const absl::Duration cpu = ProcessCpuTime() - cpu_start;
    // Both ran at once: the cpu figure is per message published and consumed. At a fixed
    // rate, deliveries are per second of publishing, as v2_bench reports them.
    result->pub_rate = Report("pub", published.messages, published.messages * options.size, published.elapsed, cpu);
    result->sub_rate = Report("sub", messages, bytes, rate ? published.elapsed : elapsed, cpu);
    if (rate) {
      std::vector<int64_t> samples = subs.TakeSamples();
      ReportLatency(&samples);
    }
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
    expected = published.messages * options.channels;
  }
  if (sub) {
    SubPhase subs(options);
    const absl::Duration cpu_start = ProcessCpuTime();
    // --mode=sub --rate: latency of what a publisher elsewhere on this host stamped (its
    // CLOCK_MONOTONIC is ours). A drained backlog has no latency worth a figure.
    const bool sample = rate && !pub;
    subs.Start(sample ? NowNs() + absl::ToInt64Nanoseconds(options.warmup) : -1);
    // Draining a backlog: as long as it takes (bounded); otherwise --duration.
    const absl::Duration limit =
        expected > 0 ? std::max(options.duration * 10, absl::Minutes(5)) : options.duration;
    subs.Wait(absl::Now() + limit, expected);
    uint64_t messages = 0, bytes = 0;
    absl::Duration elapsed;
    subs.Stop(&messages, &bytes, &elapsed);
    result->sub_rate = Report("sub", messages, bytes, elapsed, ProcessCpuTime() - cpu_start,
                              &result->sub_cpu_us);
    if (sample) {
      std::vector<int64_t> samples = subs.TakeSamples();
      ReportLatency(&samples);
    }
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
               "publisher connections; subscriber streams per topic x channel");
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
  flags.AddInt64("rate", &options.rate,
                 "publish at this many msgs/s in all (calls not waiting for earlier ones, "
                 "time-stamped bodies) and report publish-to-delivery latency; 0 = as fast as "
                 "answered");
  flags.AddDuration("warmup", &options.warmup,
                    "with --rate: latency of messages sent before this is not counted");
  flags.AddInt("topics", &options.topics, "topics <topic>_0..N-1 (1: just --topic)");
  flags.AddInt("channels", &options.channels,
               "channels <channel>_0..N-1 on every topic (1: just --channel)");
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
  if (options.topics < 1 || options.channels < 1 || options.rate < 0) {
    std::cerr << "--topics and --channels must be >= 1, --rate >= 0\n";
    return 2;
  }
  if (options.rate > 0 && options.size < 8) {
    std::cerr << "--rate needs --size >= 8 (the body carries its send time)\n";
    return 2;
  }
  if (options.compare_features) return nsq::bench::CompareFeatures(std::move(options));
  return nsq::bench::Run(std::move(options));
}
