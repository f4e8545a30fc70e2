#include "client/producer.h"

#include <grpcpp/grpcpp.h>

#include "common/grpc/server_options.h"
#include "nsq/v1/broker.grpc.pb.h"

namespace nsq::client {

struct Producer::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<nsq::v1::Broker::Stub> stub;
};

Producer::Producer(std::string broker_address, absl::Duration timeout)
    : address_(std::move(broker_address)), timeout_(timeout), impl_(std::make_unique<Impl>()) {
  impl_->channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  impl_->stub = nsq::v1::Broker::NewStub(impl_->channel);
}

Producer::~Producer() = default;

absl::StatusOr<std::vector<std::string>> Producer::Publish(const std::string& topic,
                                                           const std::vector<std::string>& bodies,
                                                           absl::Duration defer) {
  nsq::v1::PublishRequest req;
  req.set_topic(topic);
  for (const std::string& b : bodies) req.add_bodies(b);
  req.set_defer_ms(absl::ToInt64Milliseconds(defer));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  nsq::v1::PublishResponse resp;
  grpc::Status st = impl_->stub->Publish(&ctx, req, &resp);
  if (!st.ok()) return grpcutil::FromGrpcStatus(st);
  return std::vector<std::string>(resp.ids().begin(), resp.ids().end());
}

}  // namespace nsq::client
