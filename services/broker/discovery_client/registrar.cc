#include "services/broker/discovery_client/registrar.h"

#include <grpcpp/grpcpp.h>

#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "common/grpc/tls.h"
#include "common/names/names.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "services/broker/discovery_client/peer_base.h"
#include "spdlog/spdlog.h"

namespace nsq::broker::discovery_client {
namespace {

using ::nsq::v1::RegisterRequest;
using ::nsq::v1::RegisterResponse;

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// A Register stream to one discovery instance. A reader thread watches the stream (the
// server only answers the identity; the stream ending is what matters).
class GrpcPeer final : public PeerBase {
 public:
  GrpcPeer(const Registrar* registrar, std::string address, BrokerIdentity identity,
           RegistrarOptions options)
      : PeerBase(registrar, std::move(address), std::move(identity), std::move(options)) {
    grpc::ChannelArguments args;
    // Discovery coming back should be noticed within our own backoff, not gRPC's
    // default of up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(options_.max_backoff)));
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
        grpcutil::MakeChannelCredentials(options_.discovery_tls);
    if (!credentials.ok()) {
      // The broker checked the files at startup; never fall back to plaintext.
      spdlog::error("discovery {}: {}", address_, std::string(credentials.status().message()));
      credentials = grpc::SslCredentials(grpc::SslCredentialsOptions());
    }
    channel_ = grpcutil::CreateChannel(address_, *credentials, options_.discovery_tls, args);
    stub_ = nsq::v1::Discovery::NewStub(channel_);
  }
  ~GrpcPeer() override { Stop(); }

  std::vector<std::string> Channels(const std::string& topic) override {
    std::vector<std::string> channels;
    if (!connected()) return channels;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(options_.timeout));
    nsq::v1::ListChannelsRequest req;
    req.set_topic(topic);
    nsq::v1::ListChannelsResponse resp;
    grpc::Status st = stub_->ListChannels(&ctx, req, &resp);
    if (!st.ok()) {
      spdlog::warn("discovery {}: ListChannels({}) failed: {}", address_, topic, st.error_message());
      return channels;
    }
    channels.assign(resp.channels().begin(), resp.channels().end());
    return channels;
  }

 protected:
  bool Connect() override {
    {
      absl::MutexLock lock(&mu_);
      if (stopping()) return false;
      context_ = std::make_unique<grpc::ClientContext>();
      identified_ = false;
      ended_ = false;
    }
    stream_ = stub_->Register(context_.get());
    RegisterRequest hello;
    auto* id = hello.mutable_identity();
    id->set_broadcast_address(identity_.broadcast_address);
    id->set_hostname(identity_.hostname);
    id->set_tcp_port(identity_.tcp_port);
    id->set_http_port(identity_.http_port);
    id->set_grpc_port(identity_.grpc_port);
    id->set_version(identity_.version);
    id->set_topology_zone(identity_.topology_zone);
    id->set_topology_region(identity_.topology_region);
    if (!stream_->Write(hello)) return false;
    reader_ = std::thread([this] { ReadLoop(); });
    // Wait for the server to accept the identity.
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &GrpcPeer::IdentifiedOrEnded), options_.timeout);
    return identified_;
  }

  bool Send(const std::vector<RegistrationEvent>& events) override {
    // A request applies its unregisters before its registers, so a run of one kind goes
    // in one request and a change of kind starts the next.
    RegisterRequest req;
    bool adding = true;
    bool empty = true;
    for (const RegistrationEvent& e : events) {
      if (!empty && e.add != adding) {
        if (!stream_->Write(req)) return false;
        req.Clear();
        empty = true;
      }
      adding = e.add;
      auto* r = e.add ? req.add_register_() : req.add_unregister();
      r->set_topic(e.topic);
      r->set_channel(e.channel);
      empty = false;
    }
    return empty || stream_->Write(req);
  }

  bool Heartbeat() override { return stream_->Write(RegisterRequest()); }

  void Disconnect() override {
    {
      absl::MutexLock lock(&mu_);
      if (context_) context_->TryCancel();
    }
    if (reader_.joinable()) reader_.join();
    if (stream_) {
      (void)stream_->Finish();
      stream_.reset();
    }
    absl::MutexLock lock(&mu_);
    context_.reset();
  }

  void Interrupt() override {
    absl::MutexLock lock(&mu_);
    if (context_) context_->TryCancel();
  }

 private:
  void ReadLoop() {
    RegisterResponse resp;
    while (stream_->Read(&resp)) {
      const int64_t timeout_ms = resp.inactive_producer_timeout_ms();
      if (timeout_ms > 0) {
        SetHeartbeatInterval(std::min(options_.heartbeat_interval, absl::Milliseconds(timeout_ms) / 3));
      }
      absl::MutexLock lock(&mu_);
      identified_ = true;
    }
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
    }
    MarkBroken();
  }

  bool IdentifiedOrEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return identified_ || ended_; }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Discovery::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<RegisterRequest, RegisterResponse>> stream_;
  std::thread reader_;

  absl::Mutex mu_;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  bool identified_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<Peer> MakeGrpcPeer(const Registrar* registrar, std::string address,
                                   BrokerIdentity identity, RegistrarOptions options) {
  return std::make_unique<GrpcPeer>(registrar, std::move(address), std::move(identity),
                                    std::move(options));
}

namespace {
// Keeps the first of each address, in order (nsqd skips an address it already has).
std::vector<std::string> Unique(const std::vector<std::string>& addresses) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const std::string& a : addresses) {
    if (seen.insert(a).second) out.push_back(a);
  }
  return out;
}
}  // namespace

Registrar::Registrar(Engine* engine, RegistrarOptions options)
    : engine_(engine),
      options_(std::move(options)),
      lookupd_addresses_(Unique(options_.lookupd_tcp_addresses)) {}

Registrar::~Registrar() { Stop(); }

void Registrar::Start(BrokerIdentity identity) {
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) return;
  identity_ = identity;
  for (const std::string& a : options_.discovery_addresses) {
    peers_.push_back(MakeGrpcPeer(this, a, identity, options_));
  }
  for (const std::string& a : lookupd_addresses_) {
    peers_.push_back(MakeLookupdPeer(this, a, identity, options_));
  }
  for (auto& p : peers_) p->Start();  // only spawns the peer's thread
  started_ = true;
  precreator_ = std::thread([this] { PrecreateLoop(); });
}

void Registrar::SetLookupdAddresses(const std::vector<std::string>& addresses) {
  const std::vector<std::string> wanted = Unique(addresses);
  std::vector<std::shared_ptr<Peer>> removed;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    if (started_) {
      const std::set<std::string> keep(wanted.begin(), wanted.end());
      std::set<std::string> have;
      std::vector<std::shared_ptr<Peer>> peers;
      const size_t grpc_peers = options_.discovery_addresses.size();
      for (size_t i = 0; i < peers_.size(); ++i) {
        if (i < grpc_peers || keep.count(peers_[i]->address()) > 0) {
          if (i >= grpc_peers) have.insert(peers_[i]->address());
          peers.push_back(peers_[i]);
        } else {
          removed.push_back(peers_[i]);
        }
      }
      for (const std::string& a : wanted) {
        if (have.count(a) > 0) continue;
        spdlog::info("LOOKUP({}): adding peer", a);
        peers.push_back(MakeLookupdPeer(this, a, identity_, options_));
        peers.back()->Start();  // only spawns the peer's thread
      }
      peers_ = std::move(peers);
    }
    lookupd_addresses_ = wanted;
  }
  // Outside the lock: Stop joins the peer's thread, which may be reading the snapshot.
  for (auto& p : removed) {
    spdlog::info("LOOKUP({}): removing peer", p->address());
    p->Stop();
  }
}

void Registrar::Stop() {
  std::vector<std::shared_ptr<Peer>> peers;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
    peers = peers_;
  }
  // Topics still waiting for their lookups start now, without them.
  if (precreator_.joinable()) precreator_.join();
  for (auto& p : peers) p->Stop();
}

size_t Registrar::peer_count() const {
  absl::MutexLock lock(&mu_);
  return peers_.size();
}

std::shared_ptr<const Peer> Registrar::peer(size_t i) const {
  absl::MutexLock lock(&mu_);
  return i < peers_.size() ? peers_[i] : nullptr;
}

std::vector<std::shared_ptr<Peer>> Registrar::Peers() const {
  absl::MutexLock lock(&mu_);
  if (!started_ || stopped_) return {};
  return peers_;
}

void Registrar::PrecreateLoop() {
  while (true) {
    Precreation next;
    std::deque<Precreation> dropped;  // goes after the lock: a hold starts its topic
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Registrar* r) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return r->stopped_ || !r->precreate_.empty();
          },
          this));
      if (stopped_) {
        dropped.swap(precreate_);
        break;
      }
      next = std::move(precreate_.front());
      precreate_.pop_front();
    }
    // nsqd's channel pre-creation: the channels discovery knows of exist before the
    // topic hands out its first message, so none of them misses it. Each lookup is
    // bounded by the options' timeout; an unreachable instance contributes nothing.
    std::set<std::string> channels;
    for (auto& p : Peers()) {
      for (std::string& c : p->Channels(next.topic)) channels.insert(std::move(c));
    }
    for (const std::string& c : channels) {
      if (names::IsEphemeralName(c) || !names::IsValidName(c)) continue;  // no consumer yet: not created
      if (absl::Status st = engine_->CreateChannel(next.topic, c); !st.ok()) {
        spdlog::warn("pre-creating channel {}/{}: {}", next.topic, c, std::string(st.message()));
      }
    }
    // `next` goes here, and with it the hold: the topic starts.
  }
}

std::vector<RegistrationEvent> Registrar::Snapshot() const {
  std::vector<RegistrationEvent> events;
  StatsFilter filter;
  filter.include_consumers = false;
  auto stats = engine_->GetStats(filter);
  if (!stats.ok()) return events;
  for (const TopicStats& t : *stats) {
    events.push_back({true, t.name, ""});
    for (const ChannelStats& c : t.channels) events.push_back({true, t.name, c.name});
  }
  return events;
}

void Registrar::Broadcast(const RegistrationEvent& event) {
  for (auto& p : Peers()) p->Enqueue(event);
}

void Registrar::TopicCreated(const std::string& topic, TopicHold hold) {
  Broadcast({true, topic, ""});
  absl::MutexLock lock(&mu_);
  if (!started_ || stopped_ || peers_.empty()) return;  // starts at once
  // The lookups go to the pre-creation thread: never on the publisher's I/O or gRPC
  // thread. The topic accepts publishes meanwhile and delivers them once it is done.
  precreate_.push_back(Precreation{topic, std::move(hold)});
}

void Registrar::TopicDeleted(const std::string& topic) { Broadcast({false, topic, ""}); }

void Registrar::ChannelCreated(const std::string& topic, const std::string& channel) {
  Broadcast({true, topic, channel});
}

void Registrar::ChannelDeleted(const std::string& topic, const std::string& channel) {
  Broadcast({false, topic, channel});
}

}  // namespace nsq::broker::discovery_client
