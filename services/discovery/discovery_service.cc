#include "services/discovery/discovery_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/server_metrics.h"
#include "common/grpc/server_options.h"
#include "common/names/names.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace nsq::discovery {
namespace {

using ::nsq::v1::LookupResponse;
using ::nsq::v1::RegisterRequest;
using ::nsq::v1::RegisterResponse;

std::string PeerAddress(const std::string& peer) {
  for (const char* prefix : {"ipv4:", "ipv6:", "unix:"}) {
    if (absl::StartsWith(peer, prefix)) return peer.substr(std::string(prefix).size());
  }
  return peer;
}

void ToProto(const PeerInfo& p, nsq::v1::Producer* out) {
  out->set_remote_address(p.remote_address);
  out->set_hostname(p.hostname);
  out->set_broadcast_address(p.broadcast_address);
  out->set_tcp_port(p.tcp_port);
  out->set_http_port(p.http_port);
  out->set_grpc_port(p.grpc_port);
  out->set_version(p.version);
  out->set_topology_zone(p.topology_zone);
  out->set_topology_region(p.topology_region);
}

void ToProto(const std::string& topic, const LookupResult& r, LookupResponse* out) {
  out->set_topic(topic);
  for (const std::string& c : r.channels) out->add_channels(c);
  for (const PeerInfo& p : r.producers) ToProto(p, out->add_producers());
}

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status CheckTopic(const std::string& topic) {
  if (topic.empty()) return Invalid("topic is required");
  if (!names::IsValidName(topic)) return Invalid(absl::StrCat("topic name '", topic, "' is not valid"));
  return grpc::Status::OK;
}

grpc::Status CheckChannel(const std::string& channel) {
  if (channel.empty()) return Invalid("channel is required");
  if (!names::IsValidName(channel)) {
    return Invalid(absl::StrCat("channel name '", channel, "' is not valid"));
  }
  return grpc::Status::OK;
}

}  // namespace

class RegisterReactor;
class WatchReactor;

class DiscoveryServiceImpl final : public nsq::v1::Discovery::CallbackService,
                                   public RegistryListener {
 public:
  DiscoveryServiceImpl(Registry* registry, DiscoveryServiceOptions options)
      : registry_(registry), options_(std::move(options)) {}

  Registry* registry() const { return registry_; }
  const DiscoveryServiceOptions& options() const { return options_; }
  void set_grpc_port(int port) { grpc_port_ = port; }
  int grpc_port() const { return grpc_port_; }
  std::string NextSessionId(const std::string& peer) {
    return absl::StrCat(peer, "/grpc-", next_session_.fetch_add(1));
  }

  // RegistryListener.
  void TopicsChanged(const std::vector<std::string>& topics) override;

  void AddSession(const std::string& id, RegisterReactor* r) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    sessions_[id] = r;
  }
  void RemoveSession(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(id);
  }
  void AddWatcher(const std::string& topic, WatchReactor* w) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveWatcher(const std::string& topic, WatchReactor* w) ABSL_LOCKS_EXCLUDED(mu_);
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);
  int64_t session_count() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(sessions_.size());
  }
  int64_t watcher_count() const {
    absl::MutexLock lock(&mu_);
    int64_t n = 0;
    for (const auto& [topic, watched] : watchers_) n += static_cast<int64_t>(watched.watchers.size());
    return n;
  }

  // RPCs.
  grpc::ServerBidiReactor<RegisterRequest, RegisterResponse>* Register(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<LookupResponse>* Watch(grpc::CallbackServerContext* context,
                                                  const nsq::v1::WatchRequest* request) override;

  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext* context,
                                   const nsq::v1::LookupRequest* request,
                                   LookupResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (grpc::Status st = CheckTopic(request->topic()); !st.ok()) {
      reactor->Finish(st);
      return reactor;
    }
    std::optional<LookupResult> result = registry_->Lookup(request->topic());
    if (!result) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   absl::StrCat("topic ", request->topic(), " not found")));
      return reactor;
    }
    ToProto(request->topic(), *result, response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* context,
                                       const nsq::v1::ListTopicsRequest*,
                                       nsq::v1::ListTopicsResponse* response) override {
    for (const std::string& t : registry_->Topics()) response->add_topics(t);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListChannels(grpc::CallbackServerContext* context,
                                         const nsq::v1::ListChannelsRequest* request,
                                         nsq::v1::ListChannelsResponse* response) override {
    auto* reactor = context->DefaultReactor();
    if (grpc::Status st = CheckTopic(request->topic()); !st.ok()) {
      reactor->Finish(st);
      return reactor;
    }
    for (const std::string& c : registry_->Channels(request->topic())) response->add_channels(c);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* context,
                                      const nsq::v1::ListNodesRequest*,
                                      nsq::v1::ListNodesResponse* response) override {
    for (const NodeInfo& n : registry_->Nodes()) {
      nsq::v1::Node* node = response->add_nodes();
      ToProto(n.peer, node->mutable_producer());
      for (size_t i = 0; i < n.topics.size(); ++i) {
        node->add_topics(n.topics[i]);
        node->add_tombstones(n.tombstones[i]);
      }
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::DiscoveryTopicRequest* request,
                                        nsq::v1::DiscoveryTopicResponse*) override {
    auto* reactor = context->DefaultReactor();
    grpc::Status st = CheckTopic(request->topic());
    if (st.ok()) registry_->CreateTopic(request->topic());
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::DiscoveryTopicRequest* request,
                                        nsq::v1::DiscoveryTopicResponse*) override {
    auto* reactor = context->DefaultReactor();
    grpc::Status st = CheckTopic(request->topic());
    if (st.ok()) registry_->DeleteTopic(request->topic());
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* CreateChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::DiscoveryChannelRequest* request,
                                          nsq::v1::DiscoveryChannelResponse*) override {
    auto* reactor = context->DefaultReactor();
    grpc::Status st = CheckTopic(request->topic());
    if (st.ok()) st = CheckChannel(request->channel());
    if (st.ok()) registry_->CreateChannel(request->topic(), request->channel());
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* DeleteChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::DiscoveryChannelRequest* request,
                                          nsq::v1::DiscoveryChannelResponse*) override {
    auto* reactor = context->DefaultReactor();
    grpc::Status st = CheckTopic(request->topic());
    if (st.ok()) st = CheckChannel(request->channel());
    if (st.ok() && !registry_->DeleteChannel(request->topic(), request->channel())) {
      st = grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("channel ", request->topic(), "/", request->channel(),
                                     " not found"));
    }
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* TombstoneTopicProducer(
      grpc::CallbackServerContext* context,
      const nsq::v1::TombstoneTopicProducerRequest* request,
      nsq::v1::TombstoneTopicProducerResponse*) override {
    auto* reactor = context->DefaultReactor();
    grpc::Status st = CheckTopic(request->topic());
    if (st.ok() && request->node().empty()) st = Invalid("node is required");
    if (st.ok()) {
      spdlog::info("DB: setting tombstone for producer@{} of topic({})", request->node(),
                   request->topic());
      registry_->TombstoneTopicProducer(request->topic(), request->node());
    }
    reactor->Finish(st);
    return reactor;
  }

 private:
  struct Watched {
    std::map<WatchReactor*, std::optional<LookupResult>> watchers;  // last sent
  };
  // Sends `topic`'s current answer to every watcher whose last answer differs.
  void Refresh(const std::string& topic, Watched* watched) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Registry* const registry_;
  const DiscoveryServiceOptions options_;
  std::atomic<int> grpc_port_{0};
  std::atomic<uint64_t> next_session_{1};

  mutable absl::Mutex mu_;  // before each reactor's own lock
  std::map<std::string, RegisterReactor*> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Watched> watchers_ ABSL_GUARDED_BY(mu_);
};

// One broker's session. gRPC runs its reactions one at a time; Expire() comes from the
// sweeping thread, so the finishing state is under mu_.
class RegisterReactor final : public grpc::ServerBidiReactor<RegisterRequest, RegisterResponse> {
 public:
  RegisterReactor(DiscoveryServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), remote_address_(PeerAddress(context->peer())) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The broker ended its side (or the call was cancelled): it leaves.
      FinishOnce(grpc::Status::OK);
      return;
    }
    grpc::Status st = identified_ ? Apply() : Identify();
    if (!st.ok()) {
      FinishOnce(st);
      return;
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool /*ok*/) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finish_pending_) {
      finish_pending_ = false;
      Finish(pending_status_);
    }
  }

  void OnDone() override {
    if (identified_) {
      service_->RemoveSession(id_);
      service_->registry()->RemovePeer(id_);
      spdlog::info("CLIENT({}): closing", id_);
    }
    delete this;
  }

  // Ends the stream: the producer was silent too long.
  void Expire() {
    spdlog::warn("CLIENT({}): no heartbeat within the inactive timeout, ending its session", id_);
    FinishOnce(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "no heartbeat within the inactive producer timeout"));
  }

 private:
  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    if (writing_) {
      finish_pending_ = true;
      pending_status_ = status;
      return;
    }
    Finish(status);
  }

  grpc::Status Identify() {
    if (!request_.has_identity()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the first Register request must carry the identity");
    }
    const RegisterRequest::Identity& in = request_.identity();
    if (in.broadcast_address().empty() || in.grpc_port() <= 0 || in.version().empty()) {
      return Invalid("identity needs broadcast_address, grpc_port and version");
    }
    PeerInfo peer;
    id_ = service_->NextSessionId(remote_address_);
    peer.id = id_;
    peer.remote_address = remote_address_;
    peer.hostname = in.hostname();
    peer.broadcast_address = in.broadcast_address();
    peer.tcp_port = in.tcp_port();
    peer.http_port = in.http_port();
    peer.grpc_port = in.grpc_port();
    peer.version = in.version();
    peer.topology_zone = in.topology_zone();
    peer.topology_region = in.topology_region();
    spdlog::info("CLIENT({}): IDENTIFY Address:{} TCP:{} HTTP:{} gRPC:{} Version:{}", id_,
                 peer.broadcast_address, peer.tcp_port, peer.http_port, peer.grpc_port,
                 peer.version);
    if (absl::Status st = service_->registry()->AddPeer(std::move(peer)); !st.ok()) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, std::string(st.message()));
    }
    identified_ = true;
    service_->AddSession(id_, this);
    if (grpc::Status st = Apply(); !st.ok()) return st;

    const DiscoveryServiceOptions& o = service_->options();
    response_.set_version(o.version);
    response_.set_broadcast_address(o.broadcast_address);
    response_.set_hostname(o.hostname);
    response_.set_tcp_port(o.tcp_port);
    response_.set_http_port(o.http_port);
    response_.set_grpc_port(service_->grpc_port());
    response_.set_inactive_producer_timeout_ms(
        absl::ToInt64Milliseconds(service_->registry()->options().inactive_producer_timeout));
    absl::MutexLock lock(&mu_);
    if (!finished_) {
      writing_ = true;
      StartWrite(&response_);
    }
    return grpc::Status::OK;
  }

  // A heartbeat, and the registrations it carries.
  grpc::Status Apply() {
    Registry* registry = service_->registry();
    registry->Touch(id_);
    for (const auto* list : {&request_.unregister(), &request_.register_()}) {
      for (const RegisterRequest::Registration& r : *list) {
        if (!names::IsValidName(r.topic())) {
          return Invalid(absl::StrCat("topic name '", r.topic(), "' is not valid"));
        }
        if (!r.channel().empty() && !names::IsValidName(r.channel())) {
          return Invalid(absl::StrCat("channel name '", r.channel(), "' is not valid"));
        }
      }
    }
    for (const RegisterRequest::Registration& r : request_.unregister()) {
      spdlog::info("DB: client({}) UNREGISTER topic:{} channel:{}", id_, r.topic(), r.channel());
      registry->Unregister(id_, r.topic(), r.channel());
    }
    for (const RegisterRequest::Registration& r : request_.register_()) {
      spdlog::info("DB: client({}) REGISTER topic:{} channel:{}", id_, r.topic(), r.channel());
      registry->Register(id_, r.topic(), r.channel());
    }
    return grpc::Status::OK;
  }

  DiscoveryServiceImpl* const service_;
  const std::string remote_address_;
  RegisterRequest request_;
  RegisterResponse response_;
  // Reaction-only state (gRPC runs one reaction at a time per reactor).
  std::string id_;
  bool identified_ = false;

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
};

// One Watch stream: at most one write in flight; a newer answer replaces an unsent one.
class WatchReactor final : public grpc::ServerWriteReactor<LookupResponse> {
 public:
  WatchReactor(DiscoveryServiceImpl* service, std::string topic)
      : service_(service), topic_(std::move(topic)) {}

  void Begin() { service_->AddWatcher(topic_, this); }

  void Push(LookupResponse response) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (writing_) {
      pending_ = std::move(response);
      has_pending_ = true;
      return;
    }
    current_ = std::move(response);
    writing_ = true;
    StartWrite(&current_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (finish_pending_) {
      finish_pending_ = false;
      Finish(pending_status_);
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    if (has_pending_ && !finished_) {
      current_ = std::move(pending_);
      has_pending_ = false;
      writing_ = true;
      StartWrite(&current_);
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->RemoveWatcher(topic_, this);
    delete this;
  }

 private:
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    if (writing_) {  // finish once the write in flight completes
      finish_pending_ = true;
      pending_status_ = status;
      return;
    }
    Finish(status);
  }

  DiscoveryServiceImpl* const service_;
  const std::string topic_;
  absl::Mutex mu_;
  LookupResponse current_ ABSL_GUARDED_BY(mu_);
  LookupResponse pending_ ABSL_GUARDED_BY(mu_);
  bool has_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerBidiReactor<RegisterRequest, RegisterResponse>* DiscoveryServiceImpl::Register(
    grpc::CallbackServerContext* context) {
  return new RegisterReactor(this, context);
}

grpc::ServerWriteReactor<LookupResponse>* DiscoveryServiceImpl::Watch(
    grpc::CallbackServerContext* context, const nsq::v1::WatchRequest* request) {
  if (grpc::Status st = CheckTopic(request->topic()); !st.ok()) {
    class Failed final : public grpc::ServerWriteReactor<LookupResponse> {
     public:
      explicit Failed(const grpc::Status& st) { Finish(st); }
      void OnDone() override { delete this; }
    };
    return new Failed(st);
  }
  auto* reactor = new WatchReactor(this, request->topic());
  reactor->Begin();
  return reactor;
}

void DiscoveryServiceImpl::Refresh(const std::string& topic, Watched* watched) {
  std::optional<LookupResult> result = registry_->Lookup(topic);
  if (!result) result = LookupResult{};  // unknown topic: no producers yet
  for (auto& [watcher, last] : watched->watchers) {
    if (last.has_value() && *last == *result) continue;
    last = *result;
    LookupResponse response;
    ToProto(topic, *result, &response);
    watcher->Push(std::move(response));
  }
}

void DiscoveryServiceImpl::AddWatcher(const std::string& topic, WatchReactor* w) {
  absl::MutexLock lock(&mu_);
  Watched& watched = watchers_[topic];
  watched.watchers.emplace(w, std::nullopt);
  Refresh(topic, &watched);
}

void DiscoveryServiceImpl::RemoveWatcher(const std::string& topic, WatchReactor* w) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(topic);
  if (it == watchers_.end()) return;
  it->second.watchers.erase(w);
  if (it->second.watchers.empty()) watchers_.erase(it);
}

void DiscoveryServiceImpl::TopicsChanged(const std::vector<std::string>& topics) {
  absl::MutexLock lock(&mu_);
  for (const std::string& topic : topics) {
    auto it = watchers_.find(topic);
    if (it != watchers_.end()) Refresh(topic, &it->second);
  }
}

void DiscoveryServiceImpl::Sweep() {
  const std::vector<std::string> inactive = registry_->InactivePeers();
  absl::MutexLock lock(&mu_);
  for (const std::string& id : inactive) {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) it->second->Expire();
  }
  for (auto& [topic, watched] : watchers_) Refresh(topic, &watched);
}

DiscoveryGrpcServer::DiscoveryGrpcServer(Registry* registry, DiscoveryServiceOptions options)
    : registry_(registry),
      options_(std::move(options)),
      metrics_(options_.metrics ? options_.metrics : std::make_shared<grpcutil::ServerMetrics>()) {}

DiscoveryGrpcServer::~DiscoveryGrpcServer() { Stop(); }

absl::Status DiscoveryGrpcServer::Start(const std::string& address) {
  if (server_ != nullptr) return absl::FailedPreconditionError("already started");
  service_ = std::make_unique<DiscoveryServiceImpl>(registry_, options_);
  registry_->SetListener(service_.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  grpcutil::AddStandardServices(&builder);
  grpcutil::AddServerMetrics(&builder, metrics_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    registry_->SetListener(nullptr);
    service_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  service_->set_grpc_port(port_);
  return absl::OkStatus();
}

void DiscoveryGrpcServer::Sweep() {
  if (service_) service_->Sweep();
}

void DiscoveryGrpcServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
  registry_->SetListener(nullptr);
  service_.reset();
}

int64_t DiscoveryGrpcServer::session_count() const {
  return service_ ? service_->session_count() : 0;
}

int64_t DiscoveryGrpcServer::watcher_count() const {
  return service_ ? service_->watcher_count() : 0;
}

}  // namespace nsq::discovery
