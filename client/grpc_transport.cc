// gRPC transport: nsq.v1.Broker Subscribe streams and Publish calls.

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/transport.h"
#include "common/grpc/server_options.h"
#include "common/grpc/tls.h"
#include "nsq/v1/broker.grpc.pb.h"

namespace nsq::client::internal {
namespace {

using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  // A broker coming back is noticed within a second or two.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetMaxReceiveMessageSize(64 << 20);
  return args;
}

class GrpcSubscription : public Subscription {
 public:
  explicit GrpcSubscription(SubscribeParams p) : params_(std::move(p)) {}

  absl::StatusOr<int64_t> Connect() override {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        grpcutil::MakeChannel(params_.address, GrpcOptions(params_.config), ChannelArgs());
    if (!channel.ok()) return channel.status();
    channel_ = *std::move(channel);
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() +
                                    absl::ToChronoMilliseconds(params_.config.dial_timeout))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", params_.address));
    }
    stub_ = nsq::v1::Broker::NewStub(channel_);
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return absl::CancelledError("shut down");
      stream_ = stub_->Subscribe(&context_);
    }
    SubscribeRequest req;
    auto* s = req.mutable_subscribe();
    s->set_topic(params_.topic);
    s->set_channel(params_.channel);
    s->set_client_id(params_.config.client_id);
    s->set_hostname(params_.config.hostname);
    s->set_user_agent(params_.config.user_agent);
    s->set_msg_timeout_ms(absl::ToInt64Milliseconds(params_.config.msg_timeout));
    {
      absl::MutexLock lock(&write_mu_);
      if (!stream_->Write(req)) return End();
    }
    SubscribeResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.subscribed()) return resp.max_rdy_count();
    }
    return End();
  }

  absl::Status Read(Batch* out) override {
    SubscribeResponse resp;
    while (stream_->Read(&resp)) {
      if (resp.messages_size() == 0) continue;
      out->messages.reserve(out->messages.size() + resp.messages_size());
      for (nsq::v1::Message& m : *resp.mutable_messages()) {
        RawMessage r;
        r.id = std::move(*m.mutable_id());
        r.timestamp_ns = m.timestamp_ns();
        r.attempts = m.attempts();
        r.body = std::move(*m.mutable_body());
        out->messages.push_back(std::move(r));
      }
      return absl::OkStatus();
    }
    return End();
  }

  void Ready(int64_t count) override {
    absl::MutexLock lock(&mu_);
    pending_.emplace_back().mutable_ready()->set_count(count);
  }
  void Finish(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (pending_.empty() || !pending_.back().has_finish()) pending_.emplace_back().mutable_finish();
    pending_.back().mutable_finish()->add_ids(id);
  }
  void Requeue(const std::string& id, absl::Duration delay) override {
    absl::MutexLock lock(&mu_);
    auto* r = pending_.emplace_back().mutable_requeue();
    r->set_id(id);
    r->set_delay_ms(absl::ToInt64Milliseconds(delay));
  }
  void Touch(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (pending_.empty() || !pending_.back().has_touch()) pending_.emplace_back().mutable_touch();
    pending_.back().mutable_touch()->add_ids(id);
  }
  void StartClose() override { Ready(0); }

  absl::Status Flush() override {
    absl::MutexLock wlock(&write_mu_);
    std::vector<SubscribeRequest> out;
    {
      absl::MutexLock lock(&mu_);
      out.swap(pending_);
      if (stream_ == nullptr) return absl::UnavailableError("not connected");
    }
    for (const SubscribeRequest& r : out) {
      if (!stream_->Write(r)) return absl::UnavailableError("stream closed");
    }
    return absl::OkStatus();
  }

  void Shutdown() override {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    context_.TryCancel();
  }

 private:
  absl::Status End() {
    grpc::Status st = stream_->Finish();
    if (st.ok()) return absl::UnavailableError("stream ended");
    return grpcutil::FromGrpcStatus(st);
  }

  const SubscribeParams params_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Broker::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<SubscribeRequest, SubscribeResponse>> stream_;
  absl::Mutex write_mu_;  // one Write at a time, in order
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  std::vector<SubscribeRequest> pending_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

class GrpcPublisher : public Publisher {
 public:
  GrpcPublisher(std::string address, const Config& config, absl::Duration timeout)
      : address_(std::move(address)), timeout_(timeout) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        grpcutil::MakeChannel(address_, GrpcOptions(config), ChannelArgs());
    if (!channel.ok()) {
      error_ = channel.status();  // every publish answers it; never plaintext instead
      return;
    }
    channel_ = *std::move(channel);
    stub_ = nsq::v1::Broker::NewStub(channel_);
  }

  absl::StatusOr<std::vector<std::string>> Publish(const std::string& topic,
                                                   const std::vector<std::string>& bodies,
                                                   absl::Duration defer) override {
    if (!error_.ok()) return error_;
    nsq::v1::PublishRequest req;
    req.set_topic(topic);
    for (const std::string& b : bodies) req.add_bodies(b);
    req.set_defer_ms(absl::ToInt64Milliseconds(defer));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
    nsq::v1::PublishResponse resp;
    grpc::Status st = stub_->Publish(&ctx, req, &resp);
    if (!st.ok()) return grpcutil::FromGrpcStatus(st);
    return std::vector<std::string>(resp.ids().begin(), resp.ids().end());
  }

  const std::string& address() const override { return address_; }

 private:
  const std::string address_;
  const absl::Duration timeout_;
  absl::Status error_;  // the TLS files could not be loaded
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Broker::Stub> stub_;
};

}  // namespace

grpcutil::ClientOptions GrpcOptions(const Config& config) {
  grpcutil::ClientOptions o;
  o.tls = config.grpc_tls;
  o.ca_file = config.grpc_tls_ca_file;
  o.cert_file = config.grpc_tls_cert;
  o.key_file = config.grpc_tls_key;
  o.server_name = config.grpc_tls_server_name;
  o.auth_secret = config.auth_secret;
  return o;
}

std::unique_ptr<Subscription> NewGrpcSubscription(SubscribeParams params) {
  return std::make_unique<GrpcSubscription>(std::move(params));
}

std::unique_ptr<Publisher> NewGrpcPublisher(std::string address, Config config,
                                            absl::Duration timeout) {
  return std::make_unique<GrpcPublisher>(std::move(address), config, timeout);
}

}  // namespace nsq::client::internal
