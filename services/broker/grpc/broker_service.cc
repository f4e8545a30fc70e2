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
#include "services/broker/grpc/call_auth.h"
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
      : engine_(engine),
        options_(std::move(options)),
        authorizer_(options_.auth, engine_->clock(), options_.tls.enabled()) {
    if (authorizer_.enabled()) subscribe_options_.authorizer = &authorizer_;
    subscribe_options_.max_response_bytes = options_.max_response_bytes;
    subscribe_options_.max_response_messages = options_.max_response_messages;
    subscribe_options_.write_timeout = options_.write_timeout;
    subscribe_options_.max_pending_errors = options_.max_pending_errors;
    SetMessageAllocatorFor_Publish(&publish_pool_);
  }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const nsq::v1::PublishRequest* request,
                                    nsq::v1::PublishResponse* response) override {
    if (!authorizer_.enabled()) {
      return HandlePublish(engine_, options_.max_body_size, context, request, response);
    }
    return Authorized(context, TopicAccess(*request),
                      [this, request, response](grpc::ServerUnaryReactor* reactor) {
                        RunPublish(engine_, options_.max_body_size, reactor, request, response);
                      });
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override {
    return NewSubscribeReactor(engine_, subscribe_options_, context);
  }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Simple(context, TopicAccess(*request),
                  [this, request] { return engine_->CreateTopic(request->topic()); });
  }
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Simple(context, TopicAccess(*request),
                  [this, request] { return engine_->DeleteTopic(request->topic()); });
  }
  grpc::ServerUnaryReactor* EmptyTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Simple(context, TopicAccess(*request),
                  [this, request] { return engine_->EmptyTopic(request->topic()); });
  }
  grpc::ServerUnaryReactor* PauseTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Simple(context, TopicAccess(*request),
                  [this, request] { return engine_->SetTopicPaused(request->topic(), true); });
  }
  grpc::ServerUnaryReactor* UnpauseTopic(grpc::CallbackServerContext* context,
                                         const nsq::v1::TopicRequest* request,
                                         nsq::v1::TopicResponse* /*response*/) override {
    return Simple(context, TopicAccess(*request),
                  [this, request] { return engine_->SetTopicPaused(request->topic(), false); });
  }

  grpc::ServerUnaryReactor* CreateChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->CreateChannel(request->topic(), request->channel());
    });
  }
  grpc::ServerUnaryReactor* DeleteChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->DeleteChannel(request->topic(), request->channel());
    });
  }
  grpc::ServerUnaryReactor* EmptyChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->EmptyChannel(request->topic(), request->channel());
    });
  }
  grpc::ServerUnaryReactor* PauseChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->SetChannelPaused(request->topic(), request->channel(), true);
    });
  }
  grpc::ServerUnaryReactor* UnpauseChannel(grpc::CallbackServerContext* context,
                                           const nsq::v1::ChannelRequest* request,
                                           nsq::v1::ChannelResponse* /*response*/) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->SetChannelPaused(request->topic(), request->channel(), false);
    });
  }

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const nsq::v1::GetStatsRequest* request,
                                     nsq::v1::GetStatsResponse* response) override {
    return Authorized(context, Access::Authenticated(),
                      [this, request, response](grpc::ServerUnaryReactor* reactor) {
                        reactor->Finish(ToGrpcStatus(Stats(*request, response)));
                      });
  }

  // GetStats' answer, filled into `response`.
  absl::Status Stats(const nsq::v1::GetStatsRequest& r, nsq::v1::GetStatsResponse* response) {
    const nsq::v1::GetStatsRequest* request = &r;
    StatsFilter filter;
    filter.topic = request->topic();
    filter.channel = request->channel();
    filter.include_consumers = !request->exclude_clients();
    if (!filter.channel.empty() && filter.topic.empty()) {
      return absl::InvalidArgumentError("channel given without topic");
    }
    absl::StatusOr<std::vector<TopicStats>> stats = engine_->GetStats(filter);
    if (!stats.ok()) return stats.status();
    response->set_version(options_.version);
    absl::Status health = engine_->Health();
    response->set_health(health.ok() ? "ok" : Printable(health.message()));
    response->set_start_time_unix(absl::ToUnixSeconds(options_.start_time));
    AddTopicStats(*stats, !request->exclude_clients(), response);
    return absl::OkStatus();
  }

  grpc::ServerUnaryReactor* SetChannelPolicy(grpc::CallbackServerContext* context,
                                             const nsq::v1::SetChannelPolicyRequest* request,
                                             nsq::v1::ChannelResponse*) override {
    return Simple(context, ChannelAccess(*request), [this, request] {
      return engine_->SetChannelPolicy(
          request->topic(), request->channel(), PolicyFromProto(request->policy()));
    });
  }
  grpc::ServerUnaryReactor* SetTopicPolicy(grpc::CallbackServerContext* context,
                                           const nsq::v1::SetTopicPolicyRequest* request,
                                           nsq::v1::TopicResponse*) override {
    return Authorized(context, TopicAccess(*request),
                      [this, request](grpc::ServerUnaryReactor* reactor) {
                        reactor->Finish(ToGrpcStatus(engine_->SetTopicPolicy(
                            request->topic(), PolicyFromProto(request->policy()))));
                      });
  }
  grpc::ServerUnaryReactor* GetTopicPolicy(grpc::CallbackServerContext* context,
                                           const nsq::v1::TopicRequest* request,
                                           nsq::v1::ChannelPolicy* response) override {
    return Simple(context, Access::Authenticated(), [this, request, response] {
      absl::StatusOr<QueuePolicy> policy = engine_->GetTopicPolicy(request->topic());
      if (policy.ok()) PolicyToProto(*policy, response);
      return policy.status();
    });
  }
  grpc::ServerUnaryReactor* Peek(grpc::CallbackServerContext* context,
                                 const nsq::v1::PeekRequest* request,
                                 nsq::v1::PeekResponse* response) override {
    return Authorized(context, ChannelAccess(*request),
                      [this, request, response](grpc::ServerUnaryReactor* reactor) {
                        reactor->Finish(ToGrpcStatus(RunPeek(*request, response)));
                      });
  }

  absl::Status RunPeek(const nsq::v1::PeekRequest& request, nsq::v1::PeekResponse* response) {
    if (request.limit() < 0 || request.limit() > kMaxPeek) {
      return absl::InvalidArgumentError(
          absl::StrCat("E_INVALID limit must be within 0-", kMaxPeek));
    }
    const size_t limit = request.limit() == 0 ? 10 : static_cast<size_t>(request.limit());
    auto peeked = engine_->Peek(request.topic(), request.channel(), limit);
    if (!peeked.ok()) return peeked.status();
    for (const PeekedMessage& p : *peeked) PeekedToProto(p, response->add_messages());
    return absl::OkStatus();
  }

 private:
  static constexpr int32_t kMaxPeek = 1000;

  // What a topic RPC needs: publish on the topic; a channel RPC: subscribe on the channel.
  template <typename Request>
  static Access TopicAccess(const Request& r) {
    return Access::Publish(r.topic());
  }
  template <typename Request>
  static Access ChannelAccess(const Request& r) {
    return Access::Subscribe(r.topic(), r.channel());
  }

  // Authorized, for the RPCs answered with one status: `run` returns it.
  template <typename Run>
  grpc::ServerUnaryReactor* Simple(grpc::CallbackServerContext* context, Access access, Run run) {
    return Authorized(context, std::move(access), [run](grpc::ServerUnaryReactor* reactor) mutable {
      reactor->Finish(ToGrpcStatus(run()));
    });
  }

  // Runs `body` with the call's reactor once the caller may do `access`: at once without
  // auth or with a cached identity; else from the auth worker once the auth server
  // answered (no gRPC callback thread waits for it). Refused calls are finished with
  // UNAUTHENTICATED / PERMISSION_DENIED.
  template <typename Body>
  grpc::ServerUnaryReactor* Authorized(grpc::CallbackServerContext* context, Access access,
                                       Body body) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auth::AuthRequest auth_request;
    std::optional<absl::Status> now = authorizer_.CheckNow(context, access, &auth_request);
    if (now.has_value()) {
      if (now->ok()) {
        body(reactor);
      } else {
        reactor->Finish(ToGrpcStatus(*now));
      }
      return reactor;
    }
    authorizer_.CheckLater(std::move(auth_request), std::move(access),
                           [reactor, body = std::move(body)](absl::Status st) mutable {
                             if (!st.ok()) return reactor->Finish(ToGrpcStatus(st));
                             body(reactor);
                           });
    return reactor;
  }

  Engine* const engine_;
  const BrokerServiceOptions options_;
  // Declared before everything that may use it and after what it uses; outlives every
  // call (the server waits for all of them before the service goes).
  const CallAuthorizer authorizer_;
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
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      grpcutil::MakeServerCredentials(options_.tls);
  if (!credentials.ok()) return credentials.status();
  service_ = MakeBrokerService(engine_, options_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, *credentials, &port_);
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
