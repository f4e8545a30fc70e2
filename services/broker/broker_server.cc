#include "services/broker/broker_server.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/http/server.h"
#include "common/json/go_json.h"
#include "common/logging/logging.h"
#include "common/grpc/server_metrics.h"
#include "common/metrics/metrics.h"
#include "common/metrics/process_metrics.h"
#include "services/broker/broker_metrics.h"
#include "services/broker/discovery_client/registrar.h"
#include "services/broker/grpc/broker_service.h"
#include "services/broker/legacy/http_api.h"
#include "services/broker/legacy/tls_options.h"
#include "services/broker/legacy/v2_server.h"
#include "services/broker/statsd/statsd.h"
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
  for (const std::string& notice : options_.NoOpNotices()) spdlog::info("{}", notice);
  storage::RocksStorageOptions storage_options;
  storage_options.data_path = options_.data_path.empty() ? "." : options_.data_path;
  storage_options.sync_every = options_.sync_every;
  storage_options.sync_timeout = options_.sync_timeout;
  auto opened = storage::RocksStorage::Open(storage_options);
  if (!opened.ok()) return opened.status();
  rocks_ = opened->get();
  storage_ = *std::move(opened);
  engine_ = std::make_unique<Engine>(options_.ToEngineOptions(), clock_, storage_.get());
  {
    // Always there, with or without addresses: PUT /config/nsqlookupd_tcp_addresses can
    // add a lookupd at run time, as with nsqd.
    discovery_client::RegistrarOptions registrar_options;
    registrar_options.discovery_addresses = options_.discovery_addresses;
    registrar_options.lookupd_tcp_addresses = options_.lookupd_tcp_addresses;
    registrar_ = std::make_unique<discovery_client::Registrar>(engine_.get(), registrar_options);
    engine_->AddObserver(registrar_.get());
  }
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

  if (!options_.tcp_address.empty()) {
    v2_ = std::make_unique<legacy::V2Server>(engine_.get(), V2Options());
    if (absl::Status st = v2_->Start(); !st.ok()) {
      Stop();
      return absl::Status(st.code(), absl::StrCat("TCP listener on ", options_.tcp_address, ": ", st.message()));
    }
  }

  metrics_ = std::make_shared<BrokerMetrics>(engine_.get(), start_time_, rocks_);
  if (!options_.tls_cert.empty() && !options_.tls_key.empty() && !options_.https_address.empty()) {
    // nsqd's HTTPS listener: the same API and /metrics, with the V2 upgrade's TLS settings.
    const legacy::TlsOptions tls = V2Options().tls;
    if (absl::Status st = legacy::ValidateTlsOptions(tls); !st.ok()) {
      Stop();
      return st;
    }
    http::Server::Options https_options;
    https_options.address = options_.https_address;
    https_options.max_body_bytes = static_cast<size_t>(options_.max_body_size) + 4096;
    https_options.tls = legacy::ToServerConfig(tls);
    https_ = std::make_unique<http::Server>(https_options);
    legacy::HttpApiOptions api_options = ApiOptions();
    api_options.tls_required = false;
    legacy::RegisterHttpApi(https_.get(), engine_.get(), v2_.get(), std::move(api_options));
    metrics::RegisterMetricsEndpoint(https_.get(), MetricsCollectables());
    if (absl::Status st = https_->Start(); !st.ok()) {
      Stop();
      return absl::Status(st.code(), absl::StrCat("HTTPS listener on ", options_.https_address, ": ", st.message()));
    }
  }

  if (!options_.http_address.empty()) {
    http::Server::Options http_options;
    http_options.address = options_.http_address;
    http_options.max_body_bytes = static_cast<size_t>(options_.max_body_size) + 4096;
    http_ = std::make_unique<http::Server>(http_options);
    // nsqd's HTTP API, /ping included. Under --tls-required=true every plain HTTP request,
    // /metrics included, answers 403 TLS_REQUIRED, as nsqd's do.
    legacy::RegisterHttpApi(http_.get(), engine_.get(), v2_.get(), ApiOptions());
    if (options_.tls_required != "true") metrics::RegisterMetricsEndpoint(http_.get(), MetricsCollectables());
    if (absl::Status st = http_->Start(); !st.ok()) {
      Stop();
      return absl::Status(st.code(), absl::StrCat("HTTP listener on ", options_.http_address, ": ", st.message()));
    }
  }
  if (!options_.statsd_address.empty()) {
    statsd::StatsdOptions statsd_options;
    statsd_options.address = options_.statsd_address;
    statsd_options.prefix = statsd::ResolvePrefix(options_.statsd_prefix, options_.broadcast_address,
                                                  options_.http_address);
    statsd_options.interval = options_.statsd_interval;
    statsd_options.mem_stats = options_.statsd_mem_stats;
    statsd_options.udp_packet_size = options_.statsd_udp_packet_size;
    statsd_options.exclude_ephemeral = options_.statsd_exclude_ephemeral;
    statsd_ = std::make_unique<statsd::StatsdPusher>(engine_.get(), std::move(statsd_options));
    statsd_->Start();
  }
  started_ = true;
  timer_thread_ = std::thread([this] { TimerLoop(); });
  if (registrar_) {
    // Registered once every port is bound, with the bound ports.
    discovery_client::BrokerIdentity identity;
    identity.broadcast_address = options_.broadcast_address;
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
    identity.hostname = host;
    identity.tcp_port = options_.broadcast_tcp_port > 0 ? static_cast<int>(options_.broadcast_tcp_port) : tcp_port();
    identity.http_port = options_.broadcast_http_port > 0 ? static_cast<int>(options_.broadcast_http_port) : http_port();
    identity.grpc_port = grpc_port();
    identity.topology_zone = options_.topology_zone;
    identity.topology_region = options_.topology_region;
    registrar_->Start(identity);
  }
  spdlog::info("gRPC: listening on 127.0.0.1:{} ({})", grpc_port(), options_.grpc_address);
  if (http_) spdlog::info("HTTP: listening on {}", http_->address());
  if (https_) spdlog::info("HTTPS: listening on {}", https_->address());
  if (v2_) spdlog::info("TCP: listening on 127.0.0.1:{} ({})", tcp_port(), options_.tcp_address);
  return absl::OkStatus();
}

std::vector<std::shared_ptr<prometheus::Collectable>> BrokerServer::MetricsCollectables() const {
  return {metrics_, grpc_->metrics(), metrics::ProcessCollectable()};
}

legacy::V2ServerOptions BrokerServer::V2Options() const {
  legacy::V2ServerOptions o;
  o.address = options_.tcp_address;
  o.max_msg_size = options_.max_msg_size;
  o.max_body_size = options_.max_body_size;
  o.max_rdy_count = options_.max_rdy_count;
  o.msg_timeout = options_.msg_timeout;
  o.max_msg_timeout = options_.max_msg_timeout;
  o.max_req_timeout = options_.max_req_timeout;
  o.max_heartbeat_interval = options_.max_heartbeat_interval;
  o.max_output_buffer_size = options_.max_output_buffer_size;
  o.max_output_buffer_timeout = options_.max_output_buffer_timeout;
  o.min_output_buffer_timeout = options_.min_output_buffer_timeout;
  o.output_buffer_timeout = options_.output_buffer_timeout;
  o.deflate = options_.deflate;
  o.max_deflate_level = static_cast<int>(options_.max_deflate_level);
  o.snappy = options_.snappy;
  o.topology_zone = options_.topology_zone;
  o.topology_region = options_.topology_region;
  o.tls.cert_file = options_.tls_cert;
  o.tls.key_file = options_.tls_key;
  o.tls.root_ca_file = options_.tls_root_ca_file;
  o.tls.client_auth_policy = options_.tls_client_auth_policy;
  o.tls.required = options_.tls_required == "true"        ? legacy::TlsRequired::kYes
                   : options_.tls_required == "tcp-https" ? legacy::TlsRequired::kTcpHttps
                                                          : legacy::TlsRequired::kNo;
  o.tls.min_version = options_.tls_min_version;
  o.auth.addresses = options_.auth_http_addresses;
  o.auth.method = options_.auth_http_request_method;
  o.auth.request_timeout = options_.http_client_request_timeout;
  return o;
}

legacy::HttpApiOptions BrokerServer::ApiOptions() const {
  legacy::HttpApiOptions o;
  o.max_msg_size = options_.max_msg_size;
  o.max_body_size = options_.max_body_size;
  o.max_req_timeout = options_.max_req_timeout;
  o.start_time = start_time_;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  o.hostname = host;
  o.broadcast_address = options_.broadcast_address;
  o.tcp_port = [this] { return v2_ ? v2_->port() : -1; };
  o.http_port = [this] { return http_ ? http_->port() : -1; };
  o.https_port = [this] { return https_ ? https_->port() : 0; };
  o.max_heartbeat_interval = options_.max_heartbeat_interval;
  o.max_output_buffer_size = options_.max_output_buffer_size;
  o.max_output_buffer_timeout = options_.max_output_buffer_timeout;
  o.max_deflate_level = static_cast<int>(options_.max_deflate_level);
  o.topology_zone = options_.topology_zone;
  o.topology_region = options_.topology_region;
  o.tls_required = options_.tls_required == "true";
  o.auth.addresses = options_.auth_http_addresses;
  o.auth.method = options_.auth_http_request_method;
  o.auth.request_timeout = options_.http_client_request_timeout;
  o.config = ConfigValues();
  o.set_log_level = [](const std::string& level) { return logging::SetLogLevel(level).ok(); };
  o.set_lookupd_addresses = [this](const std::vector<std::string>& addresses) {
    if (registrar_) registrar_->SetLookupdAddresses(addresses);
  };
  return o;
}

// GET /config/:opt: every option by its config key, as JSON (durations in ns, as Go's
// time.Duration marshals).
std::map<std::string, std::string> BrokerServer::ConfigValues() const {
  auto str = [](const std::string& s) { return json::GoJsonWriter().String(s).Release(); };
  auto dur = [](absl::Duration d) {
    return json::GoJsonWriter().Int(absl::ToInt64Nanoseconds(d)).Release();
  };
  auto num = [](int64_t v) { return json::GoJsonWriter().Int(v).Release(); };
  auto b = [](bool v) { return json::GoJsonWriter().Bool(v).Release(); };
  auto list = [](const std::vector<std::string>& v) {
    return json::GoJsonWriter().StringArray(v).Release();
  };
  const BrokerOptions& o = options_;
  // Go marshals []float64{1.0, 0.99} as [1,0.99]; Validate() has checked every value.
  auto percentiles = [&o] {
    std::vector<std::string> parts;
    for (double v : o.E2EPercentiles().value_or(std::vector<double>{})) parts.push_back(absl::StrCat(v));
    return absl::StrCat("[", absl::StrJoin(parts, ","), "]");
  };
  return {
      // nsqd shows its LogLevel type, an int (info = 2).
      {"log_level", num(logging::NsqLogLevelNumber(o.log_level))},
      {"log_prefix", str(o.log_prefix)},
      {"id", num(o.node_id)},
      {"tcp_address", str(o.tcp_address)},
      {"http_address", str(o.http_address)},
      {"https_address", str(o.https_address)},
      {"grpc_address", str(o.grpc_address)},
      {"broadcast_address", str(o.broadcast_address)},
      {"nsqlookupd_tcp_addresses", list(o.lookupd_tcp_addresses)},
      {"auth_http_addresses", list(o.auth_http_addresses)},
      {"auth_http_request_method", str(o.auth_http_request_method)},
      {"http_client_connect_timeout", dur(o.http_client_connect_timeout)},
      {"http_client_request_timeout", dur(o.http_client_request_timeout)},
      {"data_path", str(o.data_path)},
      {"mem_queue_size", num(o.mem_queue_size)},
      {"max_bytes_per_file", num(o.max_bytes_per_file)},
      {"sync_every", num(o.sync_every)},
      {"sync_timeout", dur(o.sync_timeout)},
      {"msg_timeout", dur(o.msg_timeout)},
      {"max_msg_timeout", dur(o.max_msg_timeout)},
      {"max_msg_size", num(o.max_msg_size)},
      {"max_body_size", num(o.max_body_size)},
      {"max_req_timeout", dur(o.max_req_timeout)},
      {"max_rdy_count", num(o.max_rdy_count)},
      {"max_channel_consumers", num(o.max_channel_consumers)},
      {"max_heartbeat_interval", dur(o.max_heartbeat_interval)},
      {"max_output_buffer_size", num(o.max_output_buffer_size)},
      {"max_output_buffer_timeout", dur(o.max_output_buffer_timeout)},
      {"min_output_buffer_timeout", dur(o.min_output_buffer_timeout)},
      {"output_buffer_timeout", dur(o.output_buffer_timeout)},
      {"deflate", b(o.deflate)},
      {"max_deflate_level", num(o.max_deflate_level)},
      {"snappy", b(o.snappy)},
      {"tls_cert", str(o.tls_cert)},
      {"tls_key", str(o.tls_key)},
      {"tls_root_ca_file", str(o.tls_root_ca_file)},
      {"tls_client_auth_policy", str(o.tls_client_auth_policy)},
      {"tls_required", str(o.tls_required)},
      {"tls_min_version", str(o.tls_min_version)},
      {"statsd_address", str(o.statsd_address)},
      // nsqd shows the prefix it resolved at startup.
      {"statsd_prefix", str(statsd::ResolvePrefix(o.statsd_prefix, o.broadcast_address, o.http_address))},
      {"statsd_interval", dur(o.statsd_interval)},
      {"statsd_mem_stats", b(o.statsd_mem_stats)},
      {"statsd_udp_packet_size", num(o.statsd_udp_packet_size)},
      {"statsd_exclude_ephemeral", b(o.statsd_exclude_ephemeral)},
      {"e2e_processing_latency_window_time", dur(o.e2e_processing_latency_window_time)},
      {"e2e_processing_latency_percentiles", percentiles()},
      {"enable_experiment", list(o.enable_experiment)},
      {"queue_scan_selection_count", num(o.queue_scan_selection_count)},
      {"queue_scan_worker_pool_max", num(o.queue_scan_worker_pool_max)},
      {"topology_region", str(o.topology_region)},
      {"topology_zone", str(o.topology_zone)},
  };
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
  if (statsd_) statsd_->Stop();
  // Leave discovery first, so consumers stop coming while the ports close.
  if (registrar_) registrar_->Stop();
  if (http_) http_->Stop();
  if (https_) https_->Stop();
  if (v2_) v2_->Stop();  // closes its consumers (their messages are requeued)
  // Streams close their consumers as they end; the engine then requeues what they had.
  if (grpc_) grpc_->Stop(absl::Milliseconds(200));
  if (engine_) {
    engine_->Shutdown();  // writes queues, in-flight and deferred messages out
    if (absl::Status st = engine_->ShutdownStatus(); !st.ok()) {
      // E.g. a full disk: what was only in memory is gone. Never silently.
      spdlog::error("shutdown: {}; what of it was held only in memory is lost",
                    std::string(st.message()));
      absl::MutexLock lock(&mu_);
      stop_status_ = st;
    }
  }
  if (rocks_) {
    if (absl::Status st = rocks_->Sync(); !st.ok()) spdlog::error("{}", std::string(st.message()));
  }
  if (started_) spdlog::info("broker stopped");
}

absl::Status BrokerServer::stop_status() {
  absl::MutexLock lock(&mu_);
  return stop_status_;
}

int BrokerServer::grpc_port() const { return grpc_ ? grpc_->port() : 0; }

int BrokerServer::http_port() const { return http_ ? http_->port() : 0; }

int BrokerServer::tcp_port() const { return v2_ ? v2_->port() : 0; }

int BrokerServer::https_port() const { return https_ ? https_->port() : 0; }

}  // namespace nsq::broker
