#include "services/admin/grpc_upstream.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "nsq/v1/discovery.grpc.pb.h"

namespace nsq::admin {
namespace {

// The caller names the upstream in its messages.
absl::Status FromGrpc(const grpc::Status& s, const std::string& /*address*/) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const GrpcUpstreamOptions& options) {
  grpc::ChannelArguments args;
  // A broker that went away is retried at most every second, not with gRPC's long backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(256 * 1024 * 1024);  // stats of a large broker
  return grpcutil::CreateChannel(
      address, options.credentials ? options.credentials : grpc::InsecureChannelCredentials(),
      options.client, args);
}

E2eInfo E2eFromProto(const nsq::v1::E2eLatency& e) {
  E2eInfo out;
  out.count = static_cast<int64_t>(e.count());
  for (const auto& p : e.percentiles()) out.percentiles.push_back({p.quantile(), p.value_ns()});
  return out;
}

class GrpcBroker : public BrokerClient {
 public:
  GrpcBroker(std::string address, const GrpcUpstreamOptions& options)
      : address_(std::move(address)),
        timeout_(options.timeout),
        stub_(nsq::v1::Broker::NewStub(MakeChannel(address_, options))) {}

  absl::StatusOr<NodeStats> GetStats(bool include_clients) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::GetStatsRequest req;
    req.set_exclude_clients(!include_clients);
    nsq::v1::GetStatsResponse resp;
    grpc::Status s = stub_->GetStats(&ctx, req, &resp);
    if (!s.ok()) return FromGrpc(s, address_);
    NodeStats out;
    out.version = resp.version();
    out.health = resp.health();
    out.start_time = resp.start_time_unix();
    out.topics.reserve(resp.topics_size());
    for (const auto& t : resp.topics()) {
      TopicInfo ti;
      ti.name = t.topic_name();
      ti.depth = t.depth();
      ti.backend_depth = t.backend_depth();
      ti.message_count = static_cast<int64_t>(t.message_count());
      ti.message_bytes = static_cast<int64_t>(t.message_bytes());
      ti.paused = t.paused();
      if (t.has_e2e_processing_latency()) ti.e2e = E2eFromProto(t.e2e_processing_latency());
      ti.channels.reserve(t.channels_size());
      for (const auto& c : t.channels()) {
        ChannelInfo ci;
        ci.name = c.channel_name();
        ci.depth = c.depth();
        ci.backend_depth = c.backend_depth();
        ci.in_flight_count = c.in_flight_count();
        ci.deferred_count = c.deferred_count();
        ci.message_count = static_cast<int64_t>(c.message_count());
        ci.zone_local_msg_count = static_cast<int64_t>(c.zone_local_msg_count());
        ci.region_local_msg_count = static_cast<int64_t>(c.region_local_msg_count());
        ci.global_msg_count = static_cast<int64_t>(c.global_msg_count());
        ci.requeue_count = static_cast<int64_t>(c.requeue_count());
        ci.timeout_count = static_cast<int64_t>(c.timeout_count());
        ci.client_count = c.client_count();
        ci.paused = c.paused();
        if (c.has_e2e_processing_latency()) ci.e2e = E2eFromProto(c.e2e_processing_latency());
        if (c.has_policy()) {
          ci.has_policy = true;
          ci.policy.max_attempts = c.policy().max_attempts();
          ci.policy.dead_letter_topic = c.policy().dead_letter_topic();
          ci.policy.message_ttl_ms = c.policy().message_ttl_ms();
          ci.policy.dead_letter_expired = c.policy().dead_letter_expired();
          ci.policy.max_depth = c.policy().max_depth();
          ci.policy.depth_policy =
              c.policy().depth_policy() == nsq::v1::ChannelPolicy::DROP_OLDEST ? "drop_oldest" : "reject_new";
        }
        ci.attempts_exceeded_count = static_cast<int64_t>(c.attempts_exceeded_count());
        ci.expired_count = static_cast<int64_t>(c.expired_count());
        ci.dead_letter_count = static_cast<int64_t>(c.dead_letter_count());
        ci.depth_dropped_count = static_cast<int64_t>(c.depth_dropped_count());
        ci.depth_rejected_count = static_cast<int64_t>(c.depth_rejected_count());
        for (const auto& cl : c.clients()) {
          ClientInfo k;
          k.client_id = cl.client_id();
          k.hostname = cl.hostname();
          k.user_agent = cl.user_agent();
          k.remote_address = cl.remote_address();
          k.protocol = cl.protocol();
          k.ready_count = cl.ready_count();
          k.in_flight_count = cl.in_flight_count();
          k.message_count = static_cast<int64_t>(cl.message_count());
          k.finish_count = static_cast<int64_t>(cl.finish_count());
          k.requeue_count = static_cast<int64_t>(cl.requeue_count());
          k.connect_ts = cl.connect_ts_ns() / 1000000000;
          k.topology_zone = cl.topology_zone();
          k.topology_region = cl.topology_region();
          ci.clients.push_back(std::move(k));
        }
        ti.channels.push_back(std::move(ci));
      }
      out.topics.push_back(std::move(ti));
    }
    return out;
  }

  absl::Status Act(Action action, const std::string& topic, const std::string& channel) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::Status s;
    if (channel.empty()) {
      nsq::v1::TopicRequest req;
      req.set_topic(topic);
      nsq::v1::TopicResponse resp;
      switch (action) {
        case Action::kCreate: s = stub_->CreateTopic(&ctx, req, &resp); break;
        case Action::kDelete: s = stub_->DeleteTopic(&ctx, req, &resp); break;
        case Action::kEmpty: s = stub_->EmptyTopic(&ctx, req, &resp); break;
        case Action::kPause: s = stub_->PauseTopic(&ctx, req, &resp); break;
        case Action::kUnpause: s = stub_->UnpauseTopic(&ctx, req, &resp); break;
      }
    } else {
      nsq::v1::ChannelRequest req;
      req.set_topic(topic);
      req.set_channel(channel);
      nsq::v1::ChannelResponse resp;
      switch (action) {
        case Action::kCreate: s = stub_->CreateChannel(&ctx, req, &resp); break;
        case Action::kDelete: s = stub_->DeleteChannel(&ctx, req, &resp); break;
        case Action::kEmpty: s = stub_->EmptyChannel(&ctx, req, &resp); break;
        case Action::kPause: s = stub_->PauseChannel(&ctx, req, &resp); break;
        case Action::kUnpause: s = stub_->UnpauseChannel(&ctx, req, &resp); break;
      }
    }
    return FromGrpc(s, address_);
  }

  absl::StatusOr<std::vector<PeekedMessageInfo>> Peek(const std::string& topic,
                                                      const std::string& channel, int limit) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::PeekRequest req;
    req.set_topic(topic);
    req.set_channel(channel);
    req.set_limit(limit);
    nsq::v1::PeekResponse resp;
    grpc::Status s = stub_->Peek(&ctx, req, &resp);
    if (!s.ok()) return FromGrpc(s, address_);
    std::vector<PeekedMessageInfo> out;
    out.reserve(resp.messages_size());
    for (const auto& m : resp.messages()) {
      PeekedMessageInfo p;
      switch (m.state()) {
        case nsq::v1::PeekedMessage::IN_FLIGHT: p.state = "in_flight"; break;
        case nsq::v1::PeekedMessage::DEFERRED: p.state = "deferred"; break;
        default: p.state = "ready"; break;
      }
      p.id = m.message().id();
      p.timestamp_ns = m.message().timestamp_ns();
      p.attempts = m.message().attempts();
      p.body = m.message().body();
      p.due_ns = m.due_ns();
      p.deadline_ns = m.deadline_ns();
      p.client_id = m.client_id();
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  void SetDeadline(grpc::ClientContext* ctx) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(absl::ToInt64Microseconds(timeout_)));
  }

  const std::string address_;
  const absl::Duration timeout_;
  std::unique_ptr<nsq::v1::Broker::Stub> stub_;
};

class GrpcDiscovery : public DiscoveryClient {
 public:
  GrpcDiscovery(std::string address, const GrpcUpstreamOptions& options)
      : address_(std::move(address)),
        timeout_(options.timeout),
        stub_(nsq::v1::Discovery::NewStub(MakeChannel(address_, options))) {}

  std::string name() const override { return absl::StrCat("grpc://", address_); }

  absl::StatusOr<std::vector<Producer>> ListNodes() override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::ListNodesResponse resp;
    grpc::Status s = stub_->ListNodes(&ctx, nsq::v1::ListNodesRequest(), &resp);
    if (!s.ok()) return FromGrpc(s, address_);
    std::vector<Producer> out;
    for (const auto& n : resp.nodes()) {
      Producer p;
      const auto& pr = n.producer();
      p.remote_address = pr.remote_address();
      p.remote_addresses.push_back(absl::StrCat(address_, "/", pr.remote_address()));
      p.hostname = pr.hostname();
      p.broadcast_address = pr.broadcast_address();
      p.tcp_port = pr.tcp_port();
      p.http_port = pr.http_port();
      p.grpc_port = pr.grpc_port();
      p.version = pr.version();
      for (int i = 0; i < n.topics_size(); ++i) {
        p.topics.push_back(n.topics(i));
        p.tombstones.push_back(i < n.tombstones_size() && n.tombstones(i));
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListTopics() override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::ListTopicsResponse resp;
    grpc::Status s = stub_->ListTopics(&ctx, nsq::v1::ListTopicsRequest(), &resp);
    if (!s.ok()) return FromGrpc(s, address_);
    return std::vector<std::string>(resp.topics().begin(), resp.topics().end());
  }

  absl::StatusOr<std::vector<std::string>> ListChannels(const std::string& topic) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::ListChannelsRequest req;
    req.set_topic(topic);
    nsq::v1::ListChannelsResponse resp;
    grpc::Status s = stub_->ListChannels(&ctx, req, &resp);
    if (!s.ok()) return FromGrpc(s, address_);
    return std::vector<std::string>(resp.channels().begin(), resp.channels().end());
  }

  absl::Status CreateTopic(const std::string& topic) override {
    return TopicCall(topic, &nsq::v1::Discovery::Stub::CreateTopic);
  }
  absl::Status DeleteTopic(const std::string& topic) override {
    return TopicCall(topic, &nsq::v1::Discovery::Stub::DeleteTopic);
  }
  absl::Status CreateChannel(const std::string& topic, const std::string& channel) override {
    return ChannelCall(topic, channel, &nsq::v1::Discovery::Stub::CreateChannel);
  }
  absl::Status DeleteChannel(const std::string& topic, const std::string& channel) override {
    return ChannelCall(topic, channel, &nsq::v1::Discovery::Stub::DeleteChannel);
  }
  absl::Status TombstoneTopicProducer(const std::string& topic, const std::string& node) override {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::TombstoneTopicProducerRequest req;
    req.set_topic(topic);
    req.set_node(node);
    nsq::v1::TombstoneTopicProducerResponse resp;
    return FromGrpc(stub_->TombstoneTopicProducer(&ctx, req, &resp), address_);
  }

 private:
  using TopicRpc = grpc::Status (nsq::v1::Discovery::Stub::*)(
      grpc::ClientContext*, const nsq::v1::DiscoveryTopicRequest&, nsq::v1::DiscoveryTopicResponse*);
  using ChannelRpc = grpc::Status (nsq::v1::Discovery::Stub::*)(
      grpc::ClientContext*, const nsq::v1::DiscoveryChannelRequest&,
      nsq::v1::DiscoveryChannelResponse*);

  absl::Status TopicCall(const std::string& topic, TopicRpc rpc) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::DiscoveryTopicRequest req;
    req.set_topic(topic);
    nsq::v1::DiscoveryTopicResponse resp;
    return FromGrpc((stub_.get()->*rpc)(&ctx, req, &resp), address_);
  }
  absl::Status ChannelCall(const std::string& topic, const std::string& channel, ChannelRpc rpc) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    nsq::v1::DiscoveryChannelRequest req;
    req.set_topic(topic);
    req.set_channel(channel);
    nsq::v1::DiscoveryChannelResponse resp;
    return FromGrpc((stub_.get()->*rpc)(&ctx, req, &resp), address_);
  }
  void SetDeadline(grpc::ClientContext* ctx) const {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::microseconds(absl::ToInt64Microseconds(timeout_)));
  }

  const std::string address_;
  const absl::Duration timeout_;
  std::unique_ptr<nsq::v1::Discovery::Stub> stub_;
};

}  // namespace

std::unique_ptr<BrokerClient> NewGrpcBrokerClient(const std::string& address,
                                                  const GrpcUpstreamOptions& options) {
  return std::make_unique<GrpcBroker>(address, options);
}

std::unique_ptr<DiscoveryClient> NewGrpcDiscoveryClient(const std::string& address,
                                                        const GrpcUpstreamOptions& options) {
  return std::make_unique<GrpcDiscovery>(address, options);
}

}  // namespace nsq::admin
