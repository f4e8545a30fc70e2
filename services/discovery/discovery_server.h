#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/discovery/discovery_options.h"
#include "services/discovery/lookupd_v1.h"
#include "services/discovery/registry.h"

namespace nsq::http {
class Server;
}
namespace nsq::grpcutil {
class ServerMetrics;
}

namespace nsq::discovery {

class DiscoveryGrpcServer;
class LookupdTcpServer;
class DiscoveryMetrics;

// The discovery process (our nsqlookupd): the registry, the gRPC port, the lookupd TCP
// (V1) and HTTP ports, and a sweeper thread. main() builds one, Start()s it, waits for
// SIGINT/SIGTERM and Stop()s it. Tests run it in-process on "127.0.0.1:0".
class DiscoveryServer {
 public:
  // `clock` defaults to the real clock; it must outlive the server.
  explicit DiscoveryServer(DiscoveryOptions options, const Clock* clock = nullptr);
  ~DiscoveryServer();
  DiscoveryServer(const DiscoveryServer&) = delete;
  DiscoveryServer& operator=(const DiscoveryServer&) = delete;

  // Starts listening. On error nothing is left running.
  absl::Status Start();
  // Closes every port (brokers' sessions end) and joins the sweeper. Idempotent.
  void Stop();
  // Runs the sweeper's work now (tests with a fake clock).
  void Sweep();

  int grpc_port() const;
  int http_port() const;
  int tcp_port() const;
  Registry* registry() { return registry_.get(); }
  const DiscoveryOptions& options() const { return options_; }

 private:
  void SweepLoop();

  DiscoveryOptions options_;
  const Clock* const clock_;
  const absl::Time start_time_;
  std::unique_ptr<Registry> registry_;
  LookupdInfo lookupd_info_;
  // The gRPC port's calls, on /metrics (which is served before the gRPC port exists).
  const std::shared_ptr<grpcutil::ServerMetrics> grpc_metrics_;
  std::unique_ptr<DiscoveryGrpcServer> grpc_;
  std::unique_ptr<LookupdTcpServer> tcp_;
  std::unique_ptr<http::Server> http_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ = false;
  std::thread sweeper_;
};

}  // namespace nsq::discovery
