#include "client/consumer.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/lookupd.h"
#include "client/ready_controller.h"
#include "client/transport.h"
#include "common/grpc/tls.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace nsq::client {
namespace internal {

class Conn;

class MessageState {
 public:
  MessageState(std::weak_ptr<Conn> c, std::string i, uint32_t a)
      : conn(std::move(c)), id(std::move(i)), attempts(a) {}
  const std::weak_ptr<Conn> conn;
  const std::string id;
  const uint32_t attempts;
  std::atomic<bool> done{false};
};

}  // namespace internal

using internal::Conn;
using internal::MessageState;

namespace {

enum class Action { kFinish, kRequeue, kTouch };

// While set on a thread, flushes of connections are collected here instead of done at
// once (a batch of messages handled, FinishAll).
thread_local std::set<std::shared_ptr<Conn>>* tls_deferred_flush = nullptr;

std::string ShortHostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

ConsumerOptions WithDefaults(ConsumerOptions o) {
  if (o.config.hostname.empty()) o.config.hostname = ShortHostname();
  if (o.config.client_id.empty()) o.config.client_id = o.config.hostname.substr(0, o.config.hostname.find('.'));
  return o;
}

}  // namespace

struct Consumer::Impl : std::enable_shared_from_this<Consumer::Impl> {
  Impl(ConsumerOptions o, Handler h, AsyncHandler a)
      : options(WithDefaults(std::move(o))),
        sync_handler(std::move(h)),
        async_handler(std::move(a)),
        rng(options.seed != 0 ? options.seed : std::random_device{}()),
        rc(options.config, rng()) {}

  void Run();                  // the maintenance thread
  void Watch(size_t source);   // one thread per discovery instance
  void PollLookupd();          // one thread for every lookupd
  void SetSource(size_t source, std::set<std::string> addresses) ABSL_LOCKS_EXCLUDED(mu);
  bool SleepUnlessStopping(absl::Duration d, bool wake_on_requery) ABSL_LOCKS_EXCLUDED(mu);
  // Sends the RDY changes the controller has.
  void ApplyReady() ABSL_LOCKS_EXCLUDED(mu, rdy_mu);
  void OnSubscribed(const std::shared_ptr<Conn>& c, int64_t max_rdy);
  void OnEnded(const std::shared_ptr<Conn>& c, bool was_subscribed, size_t lost_in_flight);
  void OnMessages(const std::shared_ptr<Conn>& c, size_t n);
  void OnResult(const std::shared_ptr<Conn>& c, ReadyController::Signal s);
  bool Stopping() const {
    absl::MutexLock lock(&mu);
    return stopping;
  }

  const ConsumerOptions options;
  const Handler sync_handler;
  const AsyncHandler async_handler;
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> finished{0};
  std::atomic<int64_t> requeued{0};

  absl::Mutex rdy_mu;  // RDY writes in the order they were decided
  mutable absl::Mutex mu ABSL_ACQUIRED_AFTER(rdy_mu);
  std::mt19937_64 rng ABSL_GUARDED_BY(mu);
  ReadyController rc ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool dirty ABSL_GUARDED_BY(mu) = false;
  bool requery ABSL_GUARDED_BY(mu) = false;
  int64_t in_flight ABSL_GUARDED_BY(mu) = 0;
  uint64_t next_conn_id ABSL_GUARDED_BY(mu) = 1;
  // Per discovery source (gRPC discovery instances first, then lookupds): the broker
  // addresses it lists, and which transport they take.
  std::vector<std::set<std::string>> sources ABSL_GUARDED_BY(mu);
  std::map<std::string, std::shared_ptr<Conn>> conns ABSL_GUARDED_BY(mu);  // by address
  std::map<uint64_t, std::shared_ptr<Conn>> by_id ABSL_GUARDED_BY(mu);     // subscribed ones
  std::vector<std::shared_ptr<Conn>> ended ABSL_GUARDED_BY(mu);          // to join
  struct Retry {
    int failures = 0;
    absl::Time at = absl::InfinitePast();
  };
  std::map<std::string, Retry> retries ABSL_GUARDED_BY(mu);
  std::set<grpc::ClientContext*> watch_contexts ABSL_GUARDED_BY(mu);

  std::thread maintenance;
  std::vector<std::thread> watchers;
  bool started = false;
};

namespace internal {

// One subscription to one broker; its reader thread runs the handler.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(std::shared_ptr<Consumer::Impl> owner, uint64_t id, std::string address, bool grpc)
      : owner_(std::move(owner)), id_(id), address_(std::move(address)) {
    SubscribeParams p;
    p.address = address_;
    p.topic = owner_->options.topic;
    p.channel = owner_->options.channel;
    p.config = owner_->options.config;
    sub_ = grpc ? NewGrpcSubscription(std::move(p)) : NewV2Subscription(std::move(p));
  }

  void Start() {
    auto self = shared_from_this();
    reader_ = std::thread([self] { self->Run(); });
  }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }

  uint64_t id() const { return id_; }
  const std::string& address() const { return address_; }
  Subscription* sub() { return sub_.get(); }
  bool subscribed() const {
    absl::MutexLock lock(&mu_);
    return subscribed_ && !ended_;
  }

  // Answers one message (from any thread). The RDY changes it causes go out before it.
  void Respond(MessageState& m, Action action, absl::Duration delay, bool backoff) {
    if (action == Action::kTouch) {
      if (m.done.load()) return;
      {
        absl::MutexLock lock(&mu_);
        if (!outstanding_.contains(m.id)) return;
      }
      sub_->Touch(m.id);
      (void)sub_->Flush();  // now, even inside a batch: the handler is still working on it
      return;
    }
    if (m.done.exchange(true)) return;
    {
      absl::MutexLock lock(&mu_);
      if (outstanding_.erase(m.id) == 0) return;  // requeued by Stop or connection lost
    }
    if (action == Action::kFinish) {
      owner_->finished.fetch_add(1, std::memory_order_relaxed);
      owner_->OnResult(shared_from_this(), ReadyController::Signal::kSuccess);
      sub_->Finish(m.id);
    } else {
      owner_->requeued.fetch_add(1, std::memory_order_relaxed);
      owner_->OnResult(shared_from_this(),
                       backoff ? ReadyController::Signal::kBackoff : ReadyController::Signal::kContinue);
      if (delay < absl::ZeroDuration()) delay = AutoRequeueDelay(owner_->options.config, m.attempts);
      sub_->Requeue(m.id, delay);
    }
    MaybeFlush();
  }

  void MaybeFlush() {
    if (tls_deferred_flush != nullptr) {
      tls_deferred_flush->insert(shared_from_this());
    } else {
      (void)sub_->Flush();
    }
  }

  // Stop(): requeues every message not answered yet. Returns how many.
  size_t RequeueOutstanding() {
    std::vector<std::string> ids;
    {
      absl::MutexLock lock(&mu_);
      ids.assign(outstanding_.begin(), outstanding_.end());
      outstanding_.clear();
    }
    for (const std::string& id : ids) sub_->Requeue(id, absl::ZeroDuration());
    (void)sub_->Flush();
    return ids.size();
  }

 private:
  void Run();

  std::shared_ptr<Consumer::Impl> owner_;
  const uint64_t id_;
  const std::string address_;
  std::unique_ptr<Subscription> sub_;
  std::thread reader_;
  mutable absl::Mutex mu_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::string> outstanding_ ABSL_GUARDED_BY(mu_);
};

void Conn::Run() {
  auto self = shared_from_this();
  auto max_rdy = sub_->Connect();
  if (!max_rdy.ok()) {
    if (!owner_->Stopping()) {
      spdlog::warn("consumer {}/{}: {}: {}", owner_->options.topic, owner_->options.channel, address_,
                   std::string(max_rdy.status().message()));
    }
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    owner_->OnEnded(self, false, 0);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    subscribed_ = true;
  }
  owner_->OnSubscribed(self, *max_rdy);
  const Consumer::Impl& o = *owner_;
  const int64_t max_attempts = o.options.config.max_attempts;
  absl::Status st;
  for (;;) {
    Subscription::Batch batch;
    st = sub_->Read(&batch);
    if (!st.ok()) break;
    if (batch.messages.empty()) continue;
    {
      absl::MutexLock lock(&mu_);
      for (const RawMessage& r : batch.messages) outstanding_.insert(r.id);
    }
    owner_->OnMessages(self, batch.messages.size());
    const bool stopping = owner_->Stopping();
    std::set<std::shared_ptr<Conn>> flush;
    tls_deferred_flush = &flush;
    for (RawMessage& r : batch.messages) {
      Message m;
      m.state = std::make_shared<MessageState>(self, r.id, r.attempts);
      m.id = std::move(r.id);
      m.timestamp_ns = r.timestamp_ns;
      m.attempts = r.attempts;
      m.body = std::move(r.body);
      m.broker = address_;
      owner_->received.fetch_add(1, std::memory_order_relaxed);
      if (stopping) {
        m.Requeue(absl::ZeroDuration(), false);
        continue;
      }
      if (max_attempts > 0 && m.attempts > max_attempts) {
        spdlog::warn("consumer {}/{}: message {} attempted {} times, giving up", o.options.topic,
                     o.options.channel, m.id, m.attempts);
        if (o.options.on_max_attempts) o.options.on_max_attempts(m);
        m.Finish();
        continue;
      }
      if (o.sync_handler) {
        const bool ok = o.sync_handler(m);
        if (ok) {
          m.Finish();
        } else {
          m.Requeue();
        }
      } else {
        o.async_handler(std::move(m));
      }
    }
    tls_deferred_flush = nullptr;
    flush.insert(self);
    for (const auto& c : flush) (void)c->sub()->Flush();
  }
  size_t lost = 0;
  {
    absl::MutexLock lock(&mu_);
    ended_ = true;
    lost = outstanding_.size();
    outstanding_.clear();
  }
  if (!owner_->Stopping()) {
    spdlog::warn("consumer {}/{}: {}: connection ended: {}", owner_->options.topic, owner_->options.channel,
                 address_, std::string(st.message()));
  }
  owner_->OnEnded(self, true, lost);
}

}  // namespace internal

void Message::Finish() const {
  if (!state) return;
  if (auto c = state->conn.lock()) c->Respond(*state, Action::kFinish, absl::ZeroDuration(), false);
}

void Message::Requeue(absl::Duration delay, bool backoff) const {
  if (!state) return;
  if (auto c = state->conn.lock()) c->Respond(*state, Action::kRequeue, delay, backoff);
}

void Message::Touch() const {
  if (!state) return;
  if (auto c = state->conn.lock()) c->Respond(*state, Action::kTouch, absl::ZeroDuration(), false);
}

bool Message::responded() const { return state && state->done.load(); }

void FinishAll(const std::vector<Message>& messages) {
  std::set<std::shared_ptr<Conn>> flush;
  auto* outer = tls_deferred_flush;
  tls_deferred_flush = &flush;
  for (const Message& m : messages) m.Finish();
  tls_deferred_flush = outer;
  if (outer != nullptr) {
    outer->insert(flush.begin(), flush.end());
    return;
  }
  for (const auto& c : flush) (void)c->sub()->Flush();
}

void Consumer::Impl::ApplyReady() {
  absl::MutexLock send(&rdy_mu);
  std::vector<std::pair<std::shared_ptr<Conn>, int64_t>> updates;
  {
    absl::MutexLock lock(&mu);
    for (auto& [id, n] : rc.TakeUpdates()) {
      auto it = by_id.find(id);
      if (it != by_id.end()) updates.emplace_back(it->second, n);
    }
  }
  for (auto& [c, n] : updates) {
    c->sub()->Ready(n);
    c->MaybeFlush();
  }
}

void Consumer::Impl::OnSubscribed(const std::shared_ptr<Conn>& c, int64_t max_rdy) {
  {
    absl::MutexLock lock(&mu);
    spdlog::info("consumer {}/{}: subscribed to {}", options.topic, options.channel, c->address());
    retries[c->address()].failures = 0;
    if (stopping) return;
    by_id[c->id()] = c;
    rc.AddConnection(c->id(), max_rdy, absl::Now());
  }
  ApplyReady();
}

void Consumer::Impl::OnEnded(const std::shared_ptr<Conn>& c, bool was_subscribed, size_t lost) {
  absl::MutexLock lock(&mu);
  in_flight -= static_cast<int64_t>(lost);
  if (was_subscribed) {
    by_id.erase(c->id());
    rc.RemoveConnection(c->id(), absl::Now());
  }
  auto it = conns.find(c->address());
  if (it != conns.end() && it->second == c) conns.erase(it);
  Retry& r = retries[c->address()];
  absl::Duration d = options.min_reconnect_delay;
  for (int i = 0; i < r.failures && d < options.max_reconnect_delay; ++i) d *= 2;
  r.at = absl::Now() + std::min(d, options.max_reconnect_delay);
  r.failures++;
  ended.push_back(c);
  dirty = true;
  requery = true;  // go-nsq asks lookupd again at once
}

void Consumer::Impl::OnMessages(const std::shared_ptr<Conn>& c, size_t n) {
  absl::MutexLock lock(&mu);
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < n; ++i) rc.OnMessage(c->id(), now);
  in_flight += static_cast<int64_t>(n);
}

void Consumer::Impl::OnResult(const std::shared_ptr<Conn>& c, ReadyController::Signal s) {
  bool stop;
  {
    absl::MutexLock lock(&mu);
    rc.OnResult(c->id(), s, absl::Now());
    --in_flight;
    stop = stopping;
    if (rc.in_backoff_wait()) dirty = true;  // the maintenance thread ends the wait
  }
  if (!stop) ApplyReady();
}

void Consumer::Impl::SetSource(size_t source, std::set<std::string> addresses) {
  absl::MutexLock lock(&mu);
  if (sources[source] == addresses) return;
  sources[source] = std::move(addresses);
  dirty = true;
}

bool Consumer::Impl::SleepUnlessStopping(absl::Duration d, bool wake_on_requery) {
  absl::MutexLock lock(&mu);
  auto cond = [this, wake_on_requery]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return stopping || (wake_on_requery && requery);
  };
  mu.AwaitWithTimeout(absl::Condition(&cond), d);
  if (wake_on_requery) requery = false;
  return !stopping;
}

void Consumer::Impl::Watch(size_t i) {
  const std::string& address = options.discovery_addresses[i];
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
      grpcutil::MakeChannel(address, internal::GrpcOptions(options.config), args);
  if (!made.ok()) {
    // Never plaintext instead: this discovery instance is not watched.
    spdlog::error("discovery {}: {}", address, std::string(made.status().message()));
    return;
  }
  std::shared_ptr<grpc::Channel> channel = *std::move(made);
  auto stub = nsq::v1::Discovery::NewStub(channel);
  auto addresses = [](const nsq::v1::LookupResponse& r) {
    std::set<std::string> out;
    for (const nsq::v1::Producer& p : r.producers()) {
      if (p.grpc_port() > 0) out.insert(absl::StrCat(p.broadcast_address(), ":", p.grpc_port()));
    }
    return out;
  };
  do {
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options.config.lookupd_poll_timeout));
      nsq::v1::LookupRequest req;
      req.set_topic(options.topic);
      nsq::v1::LookupResponse resp;
      grpc::Status st = stub->Lookup(&ctx, req, &resp);
      if (st.ok()) {
        SetSource(i, addresses(resp));
      } else if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
        SetSource(i, {});
      }
    }
    grpc::ClientContext ctx;
    {
      absl::MutexLock lock(&mu);
      if (stopping) break;
      watch_contexts.insert(&ctx);
    }
    nsq::v1::WatchRequest req;
    req.set_topic(options.topic);
    auto stream = stub->Watch(&ctx, req);
    nsq::v1::LookupResponse resp;
    while (stream->Read(&resp)) SetSource(i, addresses(resp));
    (void)stream->Finish();
    absl::MutexLock lock(&mu);
    watch_contexts.erase(&ctx);
  } while (SleepUnlessStopping(std::min(absl::Seconds(1), options.config.lookupd_poll_interval), false));
}

void Consumer::Impl::PollLookupd() {
  const auto& lookupds = options.lookupd_http_addresses;
  const size_t base = options.discovery_addresses.size();
  const Config& c = options.config;
  auto query = [&](size_t i) {
    auto producers = LookupdLookup(lookupds[i], options.topic, c.lookupd_poll_timeout);
    if (!producers.ok()) {
      spdlog::warn("consumer {}/{}: lookupd {}: {}", options.topic, options.channel, lookupds[i],
                   std::string(producers.status().message()));
      return false;
    }
    std::set<std::string> out;
    for (const LookupdProducer& p : *producers) out.insert(p.TcpAddress());
    SetSource(base + i, std::move(out));
    return true;
  };
  for (size_t i = 0; i < lookupds.size(); ++i) query(i);
  double jitter;
  {
    absl::MutexLock lock(&mu);
    jitter = std::uniform_real_distribution<double>(0, c.lookupd_poll_jitter)(rng);
  }
  if (!SleepUnlessStopping(c.lookupd_poll_interval * jitter, false)) return;
  size_t next = 0;
  for (;;) {
    // Up to 3 lookupds per round on errors, as go-nsq.
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (query(next++ % lookupds.size())) break;
    }
    if (!SleepUnlessStopping(c.lookupd_poll_interval, true)) return;
  }
}

void Consumer::Impl::Run() {
  absl::MutexLock lock(&mu);
  while (!stopping) {
    const absl::Time now = absl::Now();
    rc.Tick(now);
    std::vector<std::shared_ptr<Conn>> to_join;
    to_join.swap(ended);
    std::set<std::string> wanted(options.broker_addresses.begin(), options.broker_addresses.end());
    const std::set<std::string> grpc_fixed = wanted;
    wanted.insert(options.nsqd_tcp_addresses.begin(), options.nsqd_tcp_addresses.end());
    for (size_t s = 0; s < sources.size(); ++s) wanted.insert(sources[s].begin(), sources[s].end());
    absl::Time deadline = std::min(rc.NextDeadline(), now + absl::Seconds(1));
    std::vector<std::shared_ptr<Conn>> fresh;
    for (const std::string& a : wanted) {
      if (conns.count(a) != 0) continue;
      const Retry& r = retries[a];
      if (r.at > now) {
        deadline = std::min(deadline, r.at);
        continue;
      }
      bool grpc = grpc_fixed.count(a) != 0;
      for (size_t s = 0; s < options.discovery_addresses.size(); ++s) grpc |= sources[s].count(a) != 0;
      auto c = std::make_shared<Conn>(shared_from_this(), next_conn_id++, a, grpc);
      conns.emplace(a, c);
      fresh.push_back(c);
    }
    mu.Unlock();
    for (auto& c : to_join) c->Join();
    for (auto& c : fresh) {
      spdlog::info("consumer {}/{}: connecting to {}", options.topic, options.channel, c->address());
      c->Start();
    }
    ApplyReady();
    mu.Lock();
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || dirty; };
    mu.AwaitWithDeadline(absl::Condition(&wake), deadline);
    dirty = false;
  }
}

Consumer::Consumer(ConsumerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler), nullptr)) {}

Consumer::Consumer(ConsumerOptions options, Async handler)
    : impl_(std::make_shared<Impl>(std::move(options), nullptr, std::move(handler.handler))) {}

Consumer::~Consumer() { Stop(); }

absl::Status Consumer::Start() {
  const ConsumerOptions& o = impl_->options;
  if (o.topic.empty() || o.channel.empty()) return absl::InvalidArgumentError("topic and channel are required");
  if (!impl_->sync_handler && !impl_->async_handler) return absl::InvalidArgumentError("a handler is required");
  if (o.discovery_addresses.empty() && o.broker_addresses.empty() && o.lookupd_http_addresses.empty() &&
      o.nsqd_tcp_addresses.empty()) {
    return absl::InvalidArgumentError("no discovery, lookupd or broker address");
  }
  if (o.config.max_in_flight < 0) return absl::InvalidArgumentError("max_in_flight must be >= 0");
  if (auto st = o.config.Validate(); !st.ok()) return st;
  if (!o.discovery_addresses.empty() || !o.broker_addresses.empty()) {
    // The gRPC TLS files, read now so that a bad one is an error here, not a retry loop.
    if (auto st = grpcutil::ValidateClientOptions(internal::GrpcOptions(o.config)); !st.ok()) return st;
  }
  if (impl_->started) return absl::FailedPreconditionError("already started");
  impl_->started = true;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->sources.resize(o.discovery_addresses.size() + o.lookupd_http_addresses.size());
    impl_->dirty = true;
  }
  impl_->maintenance = std::thread([impl = impl_] { impl->Run(); });
  for (size_t i = 0; i < o.discovery_addresses.size(); ++i) {
    impl_->watchers.emplace_back([impl = impl_, i] { impl->Watch(i); });
  }
  if (!o.lookupd_http_addresses.empty()) {
    impl_->watchers.emplace_back([impl = impl_] { impl->PollLookupd(); });
  }
  return absl::OkStatus();
}

void Consumer::Stop() {
  Impl& impl = *impl_;
  if (!impl.started) return;
  {
    absl::MutexLock lock(&impl.mu);
    if (impl.stopping) return;
    impl.stopping = true;
    for (grpc::ClientContext* ctx : impl.watch_contexts) ctx->TryCancel();
  }
  for (auto& t : impl.watchers) t.join();
  if (impl.maintenance.joinable()) impl.maintenance.join();
  std::vector<std::shared_ptr<Conn>> all;
  {
    absl::MutexLock lock(&impl.mu);
    for (auto& [a, c] : impl.conns) all.push_back(c);
  }
  // Take no more, give in-flight messages their time, requeue the rest.
  for (auto& c : all) {
    c->sub()->StartClose();
    (void)c->sub()->Flush();
  }
  {
    absl::MutexLock lock(&impl.mu);
    auto drained = [&impl]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.mu) { return impl.in_flight <= 0; };
    impl.mu.AwaitWithTimeout(absl::Condition(&drained), impl.options.stop_timeout);
  }
  size_t requeued = 0;
  for (auto& c : all) requeued += c->RequeueOutstanding();
  if (requeued > 0) {
    spdlog::warn("consumer {}/{}: requeued {} unanswered messages on stop", impl.options.topic,
                 impl.options.channel, requeued);
  }
  for (auto& c : all) c->sub()->Shutdown();
  for (auto& c : all) c->Join();
  std::vector<std::shared_ptr<Conn>> ended;
  {
    absl::MutexLock lock(&impl.mu);
    ended.swap(impl.ended);
    impl.conns.clear();
    impl.by_id.clear();
  }
  for (auto& c : ended) c->Join();
}

void Consumer::ChangeMaxInFlight(int64_t max_in_flight) {
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->rc.SetMaxInFlight(max_in_flight, absl::Now());
    impl_->dirty = true;
  }
  impl_->ApplyReady();
}

std::vector<std::string> Consumer::ConnectedBrokers() const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<std::string> out;
  for (const auto& [a, c] : impl_->conns) {
    if (c->subscribed()) out.push_back(a);
  }
  return out;
}

int64_t Consumer::received() const { return impl_->received.load(); }
int64_t Consumer::finished() const { return impl_->finished.load(); }
int64_t Consumer::requeued() const { return impl_->requeued.load(); }

bool Consumer::IsStarved() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->rc.IsStarved();
}

int64_t Consumer::in_flight() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->in_flight;
}

}  // namespace nsq::client
