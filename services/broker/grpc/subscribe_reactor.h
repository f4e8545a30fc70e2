#pragma once

// One Subscribe stream (nsq.v1.Broker/Subscribe as a raw ByteBuffer method): a consumer of
// one channel that is also the engine's DeliverySink for it. See README.md for its
// threads, locks and write pipeline.

#include <cstdint>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

#include "absl/time/time.h"
#include "services/broker/core/engine.h"

namespace grpc {
class CallbackServerContext;
}  // namespace grpc

namespace nsq::broker {

class CallAuthorizer;

struct SubscribeReactorOptions {
  // With auth on: the subscribe command needs subscribe on its topic and channel (asked
  // on the authorizer's worker when not cached; the stream reads nothing meanwhile).
  // Null = no auth. Must outlive the stream.
  const CallAuthorizer* authorizer = nullptr;
  // A response carries at most this many body bytes (at least one message)...
  int64_t max_response_bytes = 1024 * 1024;
  // ...and at most this many messages; a larger backlog is split over several writes.
  int64_t max_response_messages = 4096;
  // Bounds of a client that does not read. Messages are bounded by its RDY (one window
  // in flight); a write still unfinished after `write_timeout` (engine clock) when more
  // arrives for the stream (a timed-out window redelivered to it, an error) cancels the
  // stream, so its messages go to other consumers instead of piling up here.
  absl::Duration write_timeout = absl::Seconds(10);
  // Errors answered to commands (FIN of an unknown id...) and not yet written: past
  // this many the stream stops reading commands until half of them are written.
  size_t max_pending_errors = 4096;
};

// A reactor for one stream on `context`; it deletes itself when gRPC calls OnDone.
// `engine` must outlive it.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewSubscribeReactor(
    Engine* engine, SubscribeReactorOptions options, grpc::CallbackServerContext* context);

}  // namespace nsq::broker
