#pragma once

// The two transports behind the consumer and the producer: gRPC to our brokers
// (grpc_transport) and NSQ's TCP protocol V2 to a stock nsqd or our gateway
// (v2_transport). Internal to client/: the consumer and producer own the threads.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/config.h"
#include "common/grpc/tls.h"

namespace nsq::client::internal {

struct RawMessage {
  std::string id;  // 16 bytes
  int64_t timestamp_ns = 0;
  uint32_t attempts = 0;
  std::string body;
};

struct SubscribeParams {
  std::string address;  // "host:port": gRPC port or V2 TCP port
  std::string topic;
  std::string channel;
  Config config;
};

// One subscription to one broker. Connect() and Read() are called by one thread (the
// connection's reader); the commands, Flush() and Shutdown() from any thread.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Dials, handshakes and subscribes; returns the broker's max_rdy_count.
  virtual absl::StatusOr<int64_t> Connect() = 0;
  struct Batch {
    std::vector<RawMessage> messages;
    bool close_wait = false;  // the broker acknowledged StartClose()
  };
  // Blocks until messages or an event arrive; an error once the connection is gone.
  virtual absl::Status Read(Batch* out) = 0;
  // Commands are buffered until Flush(), and written in order.
  virtual void Ready(int64_t count) = 0;
  virtual void Finish(const std::string& id) = 0;
  virtual void Requeue(const std::string& id, absl::Duration delay) = 0;
  virtual void Touch(const std::string& id) = 0;
  // Stop receiving: CLS over V2, RDY 0 over gRPC.
  virtual void StartClose() = 0;
  virtual absl::Status Flush() = 0;
  // Unblocks Read() for good.
  virtual void Shutdown() = 0;
};

// Publishing to one broker; thread-safe. Reconnects lazily after an error.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // PUB, MPUB (more than one body) or DPUB (defer > 0, one body). The ids of the new
  // messages when the transport reports them (gRPC), else empty.
  virtual absl::StatusOr<std::vector<std::string>> Publish(const std::string& topic,
                                                           const std::vector<std::string>& bodies,
                                                           absl::Duration defer) = 0;
  virtual const std::string& address() const = 0;
};

// The gRPC channel options (TLS, auth secret) of a config.
grpcutil::ClientOptions GrpcOptions(const Config& config);

std::unique_ptr<Subscription> NewGrpcSubscription(SubscribeParams params);
std::unique_ptr<Subscription> NewV2Subscription(SubscribeParams params);
std::unique_ptr<Publisher> NewGrpcPublisher(std::string address, Config config, absl::Duration timeout);
std::unique_ptr<Publisher> NewV2Publisher(std::string address, Config config, absl::Duration timeout);

}  // namespace nsq::client::internal
