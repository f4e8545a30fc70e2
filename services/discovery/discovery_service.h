#pragma once

// The nsq.v1.Discovery gRPC service over the registry: Register sessions, Lookup, Watch
// and the admin RPCs. Generated gRPC code stays in the .cc.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/discovery/registry.h"

namespace grpc {
class Server;
}

namespace nsq::grpcutil {
class ServerMetrics;
}  // namespace nsq::grpcutil

namespace nsq::discovery {

struct DiscoveryServiceOptions {
  // Told to brokers in reply to their identity.
  std::string version = "1.3.0";
  std::string broadcast_address;
  std::string hostname;
  int tcp_port = 0;
  int http_port = 0;
  // Where the server counts its calls; null: a ServerMetrics of its own.
  std::shared_ptr<grpcutil::ServerMetrics> metrics;
};

class DiscoveryServiceImpl;

// A started gRPC server with the Discovery service, health and reflection. It is the
// registry's listener (Watch streams hear of every change, whichever port made it).
// Thread-safe after Start().
class DiscoveryGrpcServer {
 public:
  DiscoveryGrpcServer(Registry* registry, DiscoveryServiceOptions options);
  ~DiscoveryGrpcServer();  // Stops with no grace.
  DiscoveryGrpcServer(const DiscoveryGrpcServer&) = delete;
  DiscoveryGrpcServer& operator=(const DiscoveryGrpcServer&) = delete;

  // Listens on `address` ("127.0.0.1:0" picks a port), without TLS.
  absl::Status Start(const std::string& address);
  int port() const { return port_; }
  // Time-driven work, called periodically by the owner: ends the Register streams of
  // producers silent past the inactive timeout, and sends Watch updates for answers that
  // changed with time alone (a tombstone or an inactive producer expiring).
  void Sweep();
  // Refuses new calls, cancels open streams after `grace` and waits for all to end.
  void Stop(absl::Duration grace = absl::ZeroDuration());

  int64_t session_count() const;
  int64_t watcher_count() const;
  // The calls of this server (grpc_server_* on /metrics), from construction on.
  const std::shared_ptr<grpcutil::ServerMetrics>& metrics() const { return metrics_; }

 private:
  Registry* const registry_;
  DiscoveryServiceOptions options_;
  const std::shared_ptr<grpcutil::ServerMetrics> metrics_;
  std::unique_ptr<DiscoveryServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace nsq::discovery
