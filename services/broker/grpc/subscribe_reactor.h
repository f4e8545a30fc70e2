#pragma once

// One Subscribe stream (nsq.v1.Broker/Subscribe as a raw ByteBuffer method): a consumer of
// one channel that is also the engine's DeliverySink for it. See README.md for its
// threads, locks and write pipeline.

#include <cstdint>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "services/broker/core/engine.h"

namespace grpc {
class CallbackServerContext;
}  // namespace grpc

namespace nsq::broker {

struct SubscribeReactorOptions {
  // A response carries at most this many body bytes (at least one message)...
  int64_t max_response_bytes = 1024 * 1024;
  // ...and at most this many messages; a larger backlog is split over several writes.
  int64_t max_response_messages = 4096;
};

// A reactor for one stream on `context`; it deletes itself when gRPC calls OnDone.
// `engine` must outlive it.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewSubscribeReactor(
    Engine* engine, SubscribeReactorOptions options, grpc::CallbackServerContext* context);

}  // namespace nsq::broker
