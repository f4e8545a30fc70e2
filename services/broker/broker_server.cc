#include "services/broker/broker_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/http/server.h"
#include "common/metrics/metrics.h"
#include "services/broker/broker_metrics.h"
#include "services/broker/grpc/broker_service.h"
#include "storage/rocksdb_storage.h"
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server.h>
#include "spdlog/spdlog.h"

namespace nsq::broker {
namespace {
// Longest the timer thread sleeps: bounds how late a timeout or deferral fires.
constexpr absl::Duration kMaxTimerSleep = absl::Milliseconds(10);
constexpr char kVersion[] = "nsq-cpp 0.1.0 (nsqd 1.3.0 compatible)";
}  // namespace

BrokerServer::BrokerServer(BrokerOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock ? clock : RealClock::Get()),
      start_time_(absl::Now()) {}

BrokerServer::~BrokerServer() { Stop(); }

absl::Status BrokerServer::Start() {
  options_.ResolveDefaults();
  if (absl::Status st = options_.Validate(); !st.ok()) return st;
  storage::RocksStorageOptions storage_options;
  storage_options.data_path = options_.data_path.empty() ? "." : options_.data_path;
  storage_options.sync_every = options_.sync_every;
  storage_options.sync_timeout = options_.sync_timeout;
  auto opened = storage::RocksStorage::Open(storage_options);
  if (!opened.ok()) return opened.status();
  rocks_ = opened->get();
  storage_ = *std::move(opened);
  engine_ = std::make_unique<Engine>(options_.ToEngineOptions(), clock_, storage_.get());
  if (absl::Status st = engine_->Start(); !st.ok()) return st;

  BrokerServiceOptions grpc_options;
  grpc_options.max_body_size = options_.max_body_size;
  grpc_options.version = kVersion;
  grpc_options.start_time = start_time_;
  grpc_ = std::make_unique<BrokerGrpcServer>(engine_.get(), grpc_options);
  if (absl::Status st = grpc_->Start(options_.grpc_address); !st.ok()) {
    grpc_.reset();
    return absl::Status(st.code(), absl::StrCat("gRPC listener on ", options_.grpc_address, ": ", st.message()));
  }

  if (!options_.http_address.empty()) {
    http::Server::Options http_options;
    http_options.address = options_.http_address;
    http_options.max_body_bytes = static_cast<size_t>(options_.max_body_size) + 4096;
    http_ = std::make_unique<http::Server>(http_options);
    Engine* engine = engine_.get();
    http_->Handle("/ping", [engine](const http::Request&) {
      http::Response r;
      absl::Status health = engine->Health();
      if (health.ok()) {
        r.body = "OK";
      } else {
        r.status = 500;
        r.body = absl::StrCat("NOK - ", health.message());
      }
      return r;
    });
    metrics_ = std::make_shared<BrokerMetrics>(engine_.get(), start_time_, rocks_);
    metrics::RegisterMetricsEndpoint(http_.get(), {metrics_});
    if (absl::Status st = http_->Start(); !st.ok()) {
      Stop();
      return absl::Status(st.code(), absl::StrCat("HTTP listener on ", options_.http_address, ": ", st.message()));
    }
  }
  started_ = true;
  timer_thread_ = std::thread([this] { TimerLoop(); });
  spdlog::info("gRPC: listening on 127.0.0.1:{} ({})", grpc_port(), options_.grpc_address);
  if (http_) spdlog::info("HTTP: listening on {}", http_->address());
  return absl::OkStatus();
}

void BrokerServer::TimerLoop() {
  absl::MutexLock lock(&mu_);
  bool serving = true;
  while (!stopping_) {
    mu_.Unlock();
    absl::Time next = engine_->ProcessTimers();
    // A storage error makes the broker unhealthy on gRPC health as on /ping.
    const bool healthy = engine_->Health().ok();
    if (healthy != serving && grpc_ && grpc_->server()->GetHealthCheckService()) {
      grpc_->server()->GetHealthCheckService()->SetServingStatus(healthy);
      serving = healthy;
    }
    mu_.Lock();
    absl::Duration wait = std::clamp(next - clock_->Now(), absl::Milliseconds(1), kMaxTimerSleep);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
  }
}

void BrokerServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (timer_thread_.joinable()) timer_thread_.join();
  if (http_) http_->Stop();
  // Streams close their consumers as they end; the engine then requeues what they had.
  if (grpc_) grpc_->Stop(absl::Milliseconds(200));
  if (engine_) engine_->Shutdown();  // writes queues, in-flight and deferred messages out
  if (rocks_) {
    if (absl::Status st = rocks_->Sync(); !st.ok()) spdlog::error("{}", std::string(st.message()));
  }
  if (started_) spdlog::info("broker stopped");
}

int BrokerServer::grpc_port() const { return grpc_ ? grpc_->port() : 0; }

int BrokerServer::http_port() const { return http_ ? http_->port() : 0; }

}  // namespace nsq::broker
