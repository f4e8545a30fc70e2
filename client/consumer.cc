#include "client/consumer.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace nsq::client {
namespace {

using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // A broker or discovery instance coming back is noticed within a second or two.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace

class Connection;

struct Consumer::Impl {
  Impl(ConsumerOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}

  void Run();              // the maintenance thread
  void Watch(size_t i);    // one thread per discovery instance
  void SetProducers(size_t source, std::set<std::string> addresses);
  void Changed() {
    absl::MutexLock lock(&mu);
    dirty = true;
  }
  // Each subscribed connection's share of max_in_flight.
  std::vector<std::pair<std::shared_ptr<Connection>, int64_t>> Shares() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool StoppingOrDirty() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return stopping || dirty; }
  bool Sleep(absl::Duration d) {
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(&stopping), d);
    return !stopping;
  }

  const ConsumerOptions options;
  const Handler handler;
  std::atomic<int64_t> received{0};

  mutable absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool dirty ABSL_GUARDED_BY(mu) = false;
  // Per discovery instance: the brokers it lists for the topic (gRPC addresses).
  std::vector<std::set<std::string>> sources ABSL_GUARDED_BY(mu);
  std::map<std::string, std::shared_ptr<Connection>> connections ABSL_GUARDED_BY(mu);
  // Contexts of the Watch calls in progress, to cancel on Stop.
  std::set<grpc::ClientContext*> watch_contexts ABSL_GUARDED_BY(mu);

  std::thread maintenance;
  std::vector<std::thread> watchers;
  bool started = false;
};

// One Subscribe stream to one broker. The reader thread handles messages and answers
// FIN/REQ; SetReady comes from the maintenance thread: writes are serialized by write_mu_.
class Connection {
 public:
  Connection(Consumer::Impl* owner, std::string address)
      : owner_(owner), address_(std::move(address)) {}

  void Start() {
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), ChannelArgs());
    stub_ = nsq::v1::Broker::NewStub(channel_);
    stream_ = stub_->Subscribe(&context_);
    SubscribeRequest req;
    auto* s = req.mutable_subscribe();
    s->set_topic(owner_->options.topic);
    s->set_channel(owner_->options.channel);
    s->set_client_id(owner_->options.client_id);
    s->set_hostname(owner_->options.hostname);
    s->set_user_agent(owner_->options.user_agent);
    Write(req);
    reader_ = std::thread([this] { ReadLoop(); });
  }

  void SetReady(int64_t count) {
    {
      absl::MutexLock lock(&mu_);
      count = std::min(count, max_rdy_count_);
      if (count == ready_) return;
      ready_ = count;
    }
    SubscribeRequest req;
    req.mutable_ready()->set_count(count);
    Write(req);
  }

  void Cancel() { context_.TryCancel(); }
  void Join() {
    if (reader_.joinable()) reader_.join();
  }
  bool subscribed() const {
    absl::MutexLock lock(&mu_);
    return subscribed_ && !ended_;
  }
  bool ended() const {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  const std::string& address() const { return address_; }

 private:
  bool Write(const SubscribeRequest& req) {
    absl::MutexLock lock(&write_mu_);
    return stream_->Write(req);
  }

  void ReadLoop() {
    SubscribeResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.subscribed()) {
        {
          absl::MutexLock lock(&mu_);
          subscribed_ = true;
          if (resp.max_rdy_count() > 0) max_rdy_count_ = resp.max_rdy_count();
        }
        owner_->Changed();  // its share of RDY
      }
      SubscribeRequest finish;
      for (const nsq::v1::Message& m : resp.messages()) {
        Message msg;
        msg.id = m.id();
        msg.timestamp_ns = m.timestamp_ns();
        msg.attempts = m.attempts();
        msg.body = m.body();
        msg.broker = address_;
        owner_->received.fetch_add(1);
        if (owner_->handler(msg)) {
          finish.mutable_finish()->add_ids(m.id());
        } else {
          SubscribeRequest req;
          req.mutable_requeue()->set_id(m.id());
          req.mutable_requeue()->set_delay_ms(absl::ToInt64Milliseconds(owner_->options.requeue_delay));
          Write(req);
        }
      }
      if (finish.has_finish()) Write(finish);  // one FIN for the whole batch
    }
    grpc::Status st = stream_->Finish();
    if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED) {
      spdlog::warn("broker {}: subscription ended: {}", address_, st.error_message());
    }
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    owner_->Changed();
  }

  Consumer::Impl* const owner_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Broker::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<SubscribeRequest, SubscribeResponse>> stream_;
  std::thread reader_;
  absl::Mutex write_mu_;

  mutable absl::Mutex mu_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ready_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t max_rdy_count_ ABSL_GUARDED_BY(mu_) = INT64_MAX;
};

void Consumer::Impl::SetProducers(size_t source, std::set<std::string> addresses) {
  absl::MutexLock lock(&mu);
  sources[source] = std::move(addresses);
  dirty = true;
}

void Consumer::Impl::Watch(size_t i) {
  const std::string& address = options.discovery_addresses[i];
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), ChannelArgs());
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
                       absl::ToChronoMilliseconds(options.lookup_timeout));
      nsq::v1::LookupRequest req;
      req.set_topic(options.topic);
      nsq::v1::LookupResponse resp;
      grpc::Status st = stub->Lookup(&ctx, req, &resp);
      if (st.ok()) {
        SetProducers(i, addresses(resp));
      } else if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
        SetProducers(i, {});
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
    while (stream->Read(&resp)) SetProducers(i, addresses(resp));
    (void)stream->Finish();
    absl::MutexLock lock(&mu);
    watch_contexts.erase(&ctx);
  } while (Sleep(options.reconnect_interval));
}

std::vector<std::pair<std::shared_ptr<Connection>, int64_t>> Consumer::Impl::Shares() {
  std::vector<std::pair<std::shared_ptr<Connection>, int64_t>> shares;
  for (auto& [address, c] : connections) {
    if (c->subscribed()) shares.emplace_back(c, 0);
  }
  const int64_t n = static_cast<int64_t>(shares.size());
  if (n == 0) return shares;
  const int64_t per = options.max_in_flight / n;
  const int64_t extra = options.max_in_flight % n;
  for (int64_t i = 0; i < n; ++i) shares[i].second = per + (i < extra ? 1 : 0);
  return shares;
}

void Consumer::Impl::Run() {
  absl::MutexLock lock(&mu);
  while (!stopping) {
    mu.AwaitWithTimeout(absl::Condition(this, &Impl::StoppingOrDirty), options.reconnect_interval);
    if (stopping) break;
    dirty = false;
    std::vector<std::shared_ptr<Connection>> ended;
    for (auto it = connections.begin(); it != connections.end();) {
      if (it->second->ended()) {
        ended.push_back(it->second);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
    std::set<std::string> wanted(options.broker_addresses.begin(), options.broker_addresses.end());
    for (const auto& s : sources) wanted.insert(s.begin(), s.end());
    std::vector<std::shared_ptr<Connection>> fresh;
    for (const std::string& a : wanted) {
      if (connections.count(a) != 0) continue;
      auto c = std::make_shared<Connection>(this, a);
      connections.emplace(a, c);
      fresh.push_back(c);
    }
    auto shares = Shares();
    mu.Unlock();
    for (auto& c : ended) c->Join();
    for (auto& c : fresh) {
      spdlog::info("consumer {}/{}: connecting to {}", options.topic, options.channel, c->address());
      c->Start();
    }
    for (auto& [c, n] : shares) c->SetReady(n);
    mu.Lock();
  }
}

Consumer::Consumer(ConsumerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Consumer::~Consumer() { Stop(); }

absl::Status Consumer::Start() {
  const ConsumerOptions& o = impl_->options;
  if (o.topic.empty() || o.channel.empty()) return absl::InvalidArgumentError("topic and channel are required");
  if (!impl_->handler) return absl::InvalidArgumentError("a handler is required");
  if (o.discovery_addresses.empty() && o.broker_addresses.empty()) {
    return absl::InvalidArgumentError("no discovery or broker address");
  }
  if (o.max_in_flight < 1) return absl::InvalidArgumentError("max_in_flight must be >= 1");
  if (impl_->started) return absl::FailedPreconditionError("already started");
  impl_->started = true;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->sources.resize(o.discovery_addresses.size());
    impl_->dirty = true;
  }
  impl_->maintenance = std::thread([this] { impl_->Run(); });
  for (size_t i = 0; i < o.discovery_addresses.size(); ++i) {
    impl_->watchers.emplace_back([this, i] { impl_->Watch(i); });
  }
  return absl::OkStatus();
}

void Consumer::Stop() {
  if (!impl_->started) return;
  std::vector<std::shared_ptr<Connection>> connections;
  {
    absl::MutexLock lock(&impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    for (grpc::ClientContext* ctx : impl_->watch_contexts) ctx->TryCancel();
  }
  for (auto& t : impl_->watchers) t.join();
  if (impl_->maintenance.joinable()) impl_->maintenance.join();
  {
    absl::MutexLock lock(&impl_->mu);
    for (auto& [a, c] : impl_->connections) connections.push_back(c);
    impl_->connections.clear();
  }
  for (auto& c : connections) c->Cancel();
  for (auto& c : connections) c->Join();
}

std::vector<std::string> Consumer::ConnectedBrokers() const {
  absl::MutexLock lock(&impl_->mu);
  std::vector<std::string> out;
  for (const auto& [a, c] : impl_->connections) {
    if (c->subscribed()) out.push_back(a);
  }
  return out;
}

int64_t Consumer::received() const { return impl_->received.load(); }

}  // namespace nsq::client
