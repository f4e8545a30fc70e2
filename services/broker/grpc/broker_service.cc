#include "services/broker/grpc/broker_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc/server_metrics.h"
#include "common/grpc/server_options.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "services/broker/grpc/publish.h"
#include "services/broker/grpc/stats_mapping.h"
#include "services/broker/grpc/status.h"
#include "services/broker/grpc/subscribe_reactor.h"

namespace nsq::broker {
namespace {

// Framing allowed on top of --max-body-size: the topic name, field tags and lengths.
// Each body costs at most 4 bytes of framing below 2 MiB, as in an MPUB body.
constexpr int64_t kRequestOverheadBytes = 64 * 1024;

// The generated CallbackService, except that Subscribe is a raw (ByteBuffer) method.
using BrokerServiceBase = nsq::v1::Broker::WithCallbackMethod_Publish<
    nsq::v1::Broker::WithRawCallbackMethod_Subscribe<
    nsq::v1::Broker::WithCallbackMethod_CreateTopic<
    nsq::v1::Broker::WithCallbackMethod_DeleteTopic<
    nsq::v1::Broker::WithCallbackMethod_EmptyTopic<
    nsq::v1::Broker::WithCallbackMethod_PauseTopic<
    nsq::v1::Broker::WithCallbackMethod_UnpauseTopic<
    nsq::v1::Broker::WithCallbackMethod_CreateChannel<
    nsq::v1::Broker::WithCallbackMethod_DeleteChannel<
    nsq::v1::Broker::WithCallbackMethod_EmptyChannel<
    nsq::v1::Broker::WithCallbackMethod_PauseChannel<
    nsq::v1::Broker::WithCallbackMethod_UnpauseChannel<
    nsq::v1::Broker::WithCallbackMethod_GetStats<
    nsq::v1::Broker::WithCallbackMethod_SetChannelPolicy<
    nsq::v1::Broker::WithCallbackMethod_SetTopicPolicy<
    nsq::v1::Broker::WithCallbackMethod_GetTopicPolicy<
    nsq::v1::Broker::WithCallbackMethod_Peek<
    nsq::v1::Broker::Service>>>>>>>>>>>>>>>>>;

class BrokerServiceImpl final : public BrokerServiceBase {
 public:
  BrokerServiceImpl(Engine* engine, BrokerServiceOptions options)
      : engine_(engine), options_(std::move(options)) {
    subscribe_options_.max_response_bytes = options_.max_response_bytes;
    subscribe_options_.max_response_messages = options_.max_response_messages;
    subscribe_options_.write_timeout = options_.write_timeout;
    subscribe_options_.max_pending_errors = options_.max_pending_errors;
    SetMessageAllocatorFor_Publish(&publish_pool_);
  }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const nsq::v1::PublishRequest* request,
                                    nsq::v1::PublishResponse* response) override {
    return HandlePublish(engine_, options_.max_body_size, context, request, response);
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override {
    return NewSubscribeReactor(engine_, subscribe_options_, context);
  }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->CreateTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->DeleteTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* EmptyTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->EmptyTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* PauseTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->SetTopicPaused(request->topic(), true));
  }
  grpc::ServerUnaryReactor* UnpauseTopic(grpc::CallbackServerContext* context,
                                         const nsq::v1::TopicRequest* request,
                                         nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->SetTopicPaused(request->topic(), false));
  }

  grpc::ServerUnaryReactor* CreateChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->CreateChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* DeleteChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->DeleteChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* EmptyChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->EmptyChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* PauseChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context,
                engine_->SetChannelPaused(request->topic(), request->channel(), true));
  }
  grpc::ServerUnaryReactor* UnpauseChannel(grpc::CallbackServerContext* context,
                                           const nsq::v1::ChannelRequest* request,
                                           nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context,
                engine_->SetChannelPaused(request->topic(), request->channel(), false));
  }

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const nsq::v1::GetStatsRequest* request,
                                     nsq::v1::GetStatsResponse* response) override {
    StatsFilter filter;
    filter.topic = request->topic();
    filter.channel = request->channel();
    filter.include_consumers = !request->exclude_clients();
    if (!filter.channel.empty() && filter.topic.empty()) {
      return Done(context, absl::InvalidArgumentError("channel given without topic"));
    }
    absl::StatusOr<std::vector<TopicStats>> stats = engine_->GetStats(filter);
    if (!stats.ok()) return Done(context, stats.status());
    response->set_version(options_.version);
    absl::Status health = engine_->Health();
    response->set_health(health.ok() ? "ok" : Printable(health.message()));
    response->set_start_time_unix(absl::ToUnixSeconds(options_.start_time));
    AddTopicStats(*stats, !request->exclude_clients(), response);
    return Done(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* SetChannelPolicy(grpc::CallbackServerContext* context,
                                             const nsq::v1::SetChannelPolicyRequest* request,
                                             nsq::v1::ChannelResponse*) override {
    return Done(context, engine_->SetChannelPolicy(request->topic(), request->channel(),
                                                   PolicyFromProto(request->policy())));
  }
  grpc::ServerUnaryReactor* SetTopicPolicy(grpc::CallbackServerContext* context,
                                           const nsq::v1::SetTopicPolicyRequest* request,
                                           nsq::v1::TopicResponse*) override {
    return Done(context, engine_->SetTopicPolicy(request->topic(), PolicyFromProto(request->policy())));
  }
  grpc::ServerUnaryReactor* GetTopicPolicy(grpc::CallbackServerContext* context,
                                           const nsq::v1::TopicRequest* request,
                                           nsq::v1::ChannelPolicy* response) override {
    absl::StatusOr<QueuePolicy> policy = engine_->GetTopicPolicy(request->topic());
    if (policy.ok()) PolicyToProto(*policy, response);
    return Done(context, policy.status());
  }
  grpc::ServerUnaryReactor* Peek(grpc::CallbackServerContext* context,
                                 const nsq::v1::PeekRequest* request,
                                 nsq::v1::PeekResponse* response) override {
    if (request->limit() < 0 || request->limit() > kMaxPeek) {
      return Done(context, absl::InvalidArgumentError(
                               absl::StrCat("E_INVALID limit must be within 0-", kMaxPeek)));
    }
    const size_t limit = request->limit() == 0 ? 10 : static_cast<size_t>(request->limit());
    auto peeked = engine_->Peek(request->topic(), request->channel(), limit);
    if (!peeked.ok()) return Done(context, peeked.status());
    for (const PeekedMessage& p : *peeked) PeekedToProto(p, response->add_messages());
    return Done(context, absl::OkStatus());
  }

 private:
  static constexpr int32_t kMaxPeek = 1000;
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                                        const absl::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  Engine* const engine_;
  const BrokerServiceOptions options_;
  SubscribeReactorOptions subscribe_options_;
  PublishMessagePool publish_pool_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeBrokerService(Engine* engine, BrokerServiceOptions options) {
  return std::make_unique<BrokerServiceImpl>(engine, std::move(options));
}

absl::Status AddBrokerServices(grpc::ServerBuilder* builder, grpc::Service* broker_service,
                               const BrokerServiceOptions& options) {
  if (options.max_body_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-body-size must be positive, got ", options.max_body_size));
  }
  const int64_t max_receive =
      std::min<int64_t>(options.max_body_size + kRequestOverheadBytes, INT32_MAX);
  builder->SetMaxReceiveMessageSize(static_cast<int>(max_receive));
  // Health, reflection, and SO_REUSEPORT off (a second broker on the same port fails to
  // bind instead of stealing half the connections).
  grpcutil::AddStandardServices(builder);
  builder->RegisterService(broker_service);
  return absl::OkStatus();
}

BrokerGrpcServer::BrokerGrpcServer(Engine* engine, BrokerServiceOptions options)
    : engine_(engine), options_(std::move(options)), metrics_(std::make_shared<grpcutil::ServerMetrics>()) {}

BrokerGrpcServer::~BrokerGrpcServer() { Stop(); }

absl::Status BrokerGrpcServer::Start(const std::string& address) {
  if (server_ != nullptr) return absl::FailedPreconditionError("already started");
  service_ = MakeBrokerService(engine_, options_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  absl::Status status = AddBrokerServices(&builder, service_.get(), options_);
  if (!status.ok()) return status;
  grpcutil::AddServerMetrics(&builder, metrics_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return absl::OkStatus();
}

void BrokerGrpcServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
  service_.reset();
}

}  // namespace nsq::broker
