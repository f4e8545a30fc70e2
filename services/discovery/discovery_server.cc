#include "services/discovery/discovery_server.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/http/server.h"
#include "common/grpc/server_metrics.h"
#include "common/metrics/metrics.h"
#include "common/metrics/process_metrics.h"
#include "services/discovery/discovery_metrics.h"
#include "services/discovery/discovery_service.h"
#include "services/discovery/lookupd_http.h"
#include "services/discovery/lookupd_tcp_server.h"
#include "spdlog/spdlog.h"

namespace nsq::discovery {
namespace {
constexpr char kVersion[] = "1.3.0";

std::string Hostname() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return host;
}
}  // namespace

DiscoveryServer::DiscoveryServer(DiscoveryOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock ? clock : RealClock::Get()),
      start_time_(absl::Now()),
      grpc_metrics_(std::make_shared<grpcutil::ServerMetrics>()) {}

DiscoveryServer::~DiscoveryServer() { Stop(); }

absl::Status DiscoveryServer::Start() {
  options_.ResolveDefaults();
  if (absl::Status st = options_.Validate(); !st.ok()) return st;
  if (options_.verbose) spdlog::info("--verbose is deprecated and has no effect, use --log-level");
  RegistryOptions registry_options;
  registry_options.inactive_producer_timeout = options_.inactive_producer_timeout;
  registry_options.tombstone_lifetime = options_.tombstone_lifetime;
  registry_ = std::make_unique<Registry>(registry_options, clock_);
  lookupd_info_.version = kVersion;
  lookupd_info_.broadcast_address = options_.broadcast_address;
  lookupd_info_.hostname = Hostname();

  // HTTP first, so that IDENTIFY replies carry its port.
  if (!options_.http_address.empty()) {
    http::Server::Options http_options;
    http_options.address = options_.http_address;
    http_ = std::make_unique<http::Server>(http_options);
    RegisterLookupdHttpHandlers(http_.get(), registry_.get(), kVersion);
    DiscoveryMetrics::Sources sources;
    sources.registry = registry_.get();
    sources.start_time = start_time_;
    sources.tcp_connections = [this] { return tcp_ ? tcp_->connection_count() : 0; };
    sources.grpc_sessions = [this] { return grpc_ ? grpc_->session_count() : 0; };
    sources.watchers = [this] { return grpc_ ? grpc_->watcher_count() : 0; };
    metrics::RegisterMetricsEndpoint(
        http_.get(), {std::make_shared<DiscoveryMetrics>(sources), grpc_metrics_, metrics::ProcessCollectable()});
    if (absl::Status st = http_->Start(); !st.ok()) {
      http_.reset();
      return absl::Status(st.code(), absl::StrCat("HTTP listener on ", options_.http_address, ": ", st.message()));
    }
    lookupd_info_.http_port = http_->port();
  }

  DiscoveryServiceOptions grpc_options;
  grpc_options.version = kVersion;
  grpc_options.broadcast_address = options_.broadcast_address;
  grpc_options.hostname = lookupd_info_.hostname;
  grpc_options.http_port = lookupd_info_.http_port;
  grpc_options.metrics = grpc_metrics_;
  if (!options_.tcp_address.empty()) {
    tcp_ = std::make_unique<LookupdTcpServer>(registry_.get(), &lookupd_info_, options_.tcp_address);
    if (absl::Status st = tcp_->Start(); !st.ok()) {
      tcp_.reset();
      Stop();
      return absl::Status(st.code(), absl::StrCat("TCP listener on ", options_.tcp_address, ": ", st.message()));
    }
    grpc_options.tcp_port = tcp_->port();
    // IDENTIFY answers with our own TCP port, as nsqlookupd does.
    lookupd_info_.tcp_port = tcp_->port();
  }

  grpc_ = std::make_unique<DiscoveryGrpcServer>(registry_.get(), grpc_options);
  if (absl::Status st = grpc_->Start(options_.grpc_address); !st.ok()) {
    grpc_.reset();
    Stop();
    return absl::Status(st.code(), absl::StrCat("gRPC listener on ", options_.grpc_address, ": ", st.message()));
  }
  started_ = true;
  sweeper_ = std::thread([this] { SweepLoop(); });
  spdlog::info("gRPC: listening on port {} ({})", grpc_port(), options_.grpc_address);
  if (tcp_) spdlog::info("TCP: listening on port {} ({})", tcp_->port(), options_.tcp_address);
  if (http_) spdlog::info("HTTP: listening on {}", http_->address());
  return absl::OkStatus();
}

void DiscoveryServer::SweepLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.sweep_interval);
    if (stopping_) break;
    mu_.Unlock();
    Sweep();
    mu_.Lock();
  }
}

void DiscoveryServer::Sweep() {
  if (grpc_) grpc_->Sweep();
}

void DiscoveryServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
  if (http_) http_->Stop();
  if (tcp_) tcp_->Stop();
  if (grpc_) grpc_->Stop(absl::Milliseconds(100));
  if (started_) spdlog::info("discovery stopped");
}

int DiscoveryServer::grpc_port() const { return grpc_ ? grpc_->port() : 0; }
int DiscoveryServer::http_port() const { return http_ ? http_->port() : 0; }
int DiscoveryServer::tcp_port() const { return tcp_ ? tcp_->port() : 0; }

}  // namespace nsq::discovery
