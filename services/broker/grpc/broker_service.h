#pragma once

// The broker's gRPC front door (nsq.v1.Broker) over the engine. The generated gRPC code
// stays in broker_service.cc so that includers of this header do not compile it.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/broker/core/engine.h"
#include "services/broker/grpc/status.h"  // ToGrpcStatus, part of this API

namespace grpc {
class Server;
class ServerBuilder;
class Service;
}  // namespace grpc

namespace nsq::grpcutil {
class ServerMetrics;
}  // namespace nsq::grpcutil

namespace nsq::broker {

struct BrokerServiceOptions {
  // --max-body-size: the largest Publish request (all bodies together), as nsqd's MPUB
  // body bound. The server's max receive message size is this plus a little framing.
  int64_t max_body_size = 5 * 1024 * 1024;
  // A Subscribe response carries at most this many body bytes (at least one message)...
  int64_t max_response_bytes = 1024 * 1024;
  // ...and at most this many messages; a larger backlog is split over several writes.
  int64_t max_response_messages = 4096;
  // A Subscribe stream whose write has not finished after this long (engine clock) when
  // more is to be sent on it is cancelled: the bound of a consumer that does not read.
  absl::Duration write_timeout = absl::Seconds(10);
  // Command errors not yet written past which a Subscribe stream stops reading commands
  // (until half are written).
  size_t max_pending_errors = 4096;
  // Reported by GetStats.
  std::string version = "nsq-cpp 0.1.0";
  absl::Time start_time = absl::Now();
};

// nsq.v1.Broker over `engine`, which must outlive the service. Publish and the admin
// RPCs are unary reactors; Subscribe is one bidi reactor per stream that is also the
// engine's DeliverySink for its consumer.
std::unique_ptr<grpc::Service> MakeBrokerService(Engine* engine, BrokerServiceOptions options);

// Registers `broker_service` (from MakeBrokerService) on `builder` along with the
// standard extras every nsq-cpp gRPC port serves: grpc.health.v1.Health (the default
// health service) and server reflection. Sets the max receive message size from
// options.max_body_size. InvalidArgument for a non-positive max_body_size.
absl::Status AddBrokerServices(grpc::ServerBuilder* builder, grpc::Service* broker_service,
                               const BrokerServiceOptions& options);

// A started gRPC server with the broker service on it: what the broker binary, the
// integration tests and the in-process benchmark run. Thread-safe after Start().
class BrokerGrpcServer {
 public:
  BrokerGrpcServer(Engine* engine, BrokerServiceOptions options);
  // Stops with no grace period if still running.
  ~BrokerGrpcServer();
  BrokerGrpcServer(const BrokerGrpcServer&) = delete;
  BrokerGrpcServer& operator=(const BrokerGrpcServer&) = delete;

  // Listens on `address` ("127.0.0.1:0" picks a free port) without TLS.
  absl::Status Start(const std::string& address);
  // The bound port (after Start).
  int port() const { return port_; }
  // Refuses new calls, then cancels the streams still open after `grace`, and waits for
  // every call to end. The engine must still be alive (streams close their consumers).
  void Stop(absl::Duration grace = absl::ZeroDuration());

  grpc::Server* server() const { return server_.get(); }
  // The calls of this server (grpc_server_* on /metrics), from construction on.
  const std::shared_ptr<grpcutil::ServerMetrics>& metrics() const { return metrics_; }

 private:
  Engine* const engine_;
  const BrokerServiceOptions options_;
  const std::shared_ptr<grpcutil::ServerMetrics> metrics_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace nsq::broker
