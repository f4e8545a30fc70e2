#pragma once

// nsq.v1.Broker/Publish: the handler (a batch of bodies in one engine call, answered
// after durability without holding a gRPC thread) and the pool that recycles its
// request and response objects.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "nsq/v1/broker.pb.h"
#include "services/broker/core/engine.h"

namespace nsq::broker {

// Recycles Publish request/response objects. Protobuf keeps the strings of a cleared
// repeated field, with their capacity, for the next parse: a batch parsed into a
// recycled request allocates nothing per body, and the response's ids likewise. Objects
// that grew large are freed instead of pinning memory. Thread-safe.
class PublishMessagePool final
    : public grpc::MessageAllocator<nsq::v1::PublishRequest, nsq::v1::PublishResponse> {
 public:
  ~PublishMessagePool() override;

  grpc::MessageHolder<nsq::v1::PublishRequest, nsq::v1::PublishResponse>* AllocateMessages()
      override;

 private:
  static constexpr size_t kMaxPooled = 32;
  static constexpr int64_t kMaxPooledBytes = 1024 * 1024;

  class Holder final
      : public grpc::MessageHolder<nsq::v1::PublishRequest, nsq::v1::PublishResponse> {
   public:
    explicit Holder(PublishMessagePool* pool) : pool_(pool) {
      set_request(&request_);
      set_response(&response_);
    }
    void Release() override { pool_->Recycle(this); }

    nsq::v1::PublishRequest request_;
    nsq::v1::PublishResponse response_;

   private:
    PublishMessagePool* const pool_;
  };

  void Recycle(Holder* holder);

  absl::Mutex mu_;
  std::vector<Holder*> free_ ABSL_GUARDED_BY(mu_);
};

// Publishes request's bodies to its topic (deferred by defer_ms) and finishes the call
// with their ids, or with RESOURCE_EXHAUSTED past `max_body_size` (bodies plus 4 bytes
// each, as an MPUB body) or the engine's error.
grpc::ServerUnaryReactor* HandlePublish(Engine* engine, int64_t max_body_size,
                                        grpc::CallbackServerContext* context,
                                        const nsq::v1::PublishRequest* request,
                                        nsq::v1::PublishResponse* response);
// The same on the call's reactor, from any thread (after an authorization query).
void RunPublish(Engine* engine, int64_t max_body_size, grpc::ServerUnaryReactor* reactor,
                const nsq::v1::PublishRequest* request, nsq::v1::PublishResponse* response);

}  // namespace nsq::broker
