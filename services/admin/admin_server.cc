#include "services/admin/admin_server.h"

#include <unistd.h>

#include <algorithm>

#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "common/grpc/tls.h"
#include "common/http/server.h"
#include "services/admin/admin_metrics.h"
#include "services/admin/aggregate.h"
#include "services/admin/api.h"
#include "services/admin/cluster.h"
#include "services/admin/grpc_upstream.h"
#include "services/admin/history.h"
#include "services/admin/http_upstream.h"
#include "services/admin/notify.h"
#include "spdlog/spdlog.h"

namespace nsq::admin {
namespace {

// At most this many series (topics + channels + nodes) are kept: bounds the history's
// memory whatever the cluster size.
constexpr size_t kMaxSeries = 50000;
// Points per series over the window.
constexpr int64_t kPointsPerWindow = 60;

std::string Hostname() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "";
  return host;
}

}  // namespace

AdminServer::AdminServer(AdminOptions options) : options_(std::move(options)) {}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  const absl::Duration step =
      std::max(options_.stats_interval, options_.history_window / kPointsPerWindow);
  history_ = std::make_unique<History>(options_.history_window, step, kMaxSeries);

  HttpUpstreamOptions http_opts;
  http_opts.request_timeout = options_.http_client_request_timeout;
  if (!options_.http_client_tls_insecure_skip_verify) http_opts.tls.ca_file = options_.http_client_tls_root_ca_file;
  http_opts.tls.cert_file = options_.http_client_tls_cert;
  http_opts.tls.key_file = options_.http_client_tls_key;
  const absl::Duration timeout = options_.http_client_request_timeout;
  GrpcUpstreamOptions grpc_opts;
  grpc_opts.timeout = timeout;
  grpc_opts.client = options_.grpc;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      grpcutil::MakeChannelCredentials(options_.grpc);
  if (!credentials.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc-tls-*: ", credentials.status().message()));
  }
  grpc_opts.credentials = *std::move(credentials);

  std::vector<std::unique_ptr<DiscoveryClient>> discoveries;
  for (const auto& a : options_.discovery_addresses) discoveries.push_back(NewGrpcDiscoveryClient(a, grpc_opts));
  for (const auto& a : options_.lookupd_http_addresses) discoveries.push_back(NewLookupdHttpClient(a, http_opts));
  BrokerFactory factory;
  factory.grpc = [grpc_opts](const std::string& a) { return NewGrpcBrokerClient(a, grpc_opts); };
  factory.http = [http_opts](const std::string& a) { return NewHttpBrokerClient(a, http_opts); };
  ClusterOptions copts;
  copts.stats_interval = options_.stats_interval;
  copts.static_nsqd_http = options_.nsqd_http_addresses;
  cluster_ = std::make_unique<Cluster>(copts, std::move(discoveries), std::move(factory));
  History* history = history_.get();
  cluster_->OnSnapshot([history](const Snapshot& snap) { history->Record(snap.time, SeriesOf(snap)); });

  notifier_ = std::make_unique<Notifier>(options_.notification_http_endpoint, timeout);
  metrics_ = std::make_unique<AdminMetrics>(cluster_.get(), history_.get(), notifier_.get());
  ApiDeps deps;
  deps.options = &options_;
  deps.cluster = cluster_.get();
  deps.history = history_.get();
  deps.notifier = notifier_.get();
  deps.metrics = metrics_.get();
  deps.hostname = Hostname();
  api_ = std::make_unique<AdminApi>(deps);

  http::Server::Options hopts;
  hopts.address = options_.http_address;
  hopts.threads = 4;  // an action waits for upstreams; reads stay answered meanwhile
  hopts.max_body_bytes = 1 << 20;
  http_ = std::make_unique<http::Server>(hopts);
  api_->Register(http_.get());
  if (absl::Status s = http_->Start(); !s.ok()) {
    http_.reset();
    return s;
  }
  cluster_->Start();
  started_ = true;
  spdlog::info("HTTP: listening on {}", http_->address());
  return absl::OkStatus();
}

void AdminServer::Stop() {
  if (http_) http_->Stop();
  if (cluster_) cluster_->Stop();
  notifier_.reset();
  started_ = false;
}

int AdminServer::http_port() const { return http_ ? http_->port() : 0; }
std::string AdminServer::http_address() const { return http_ ? http_->address() : ""; }

}  // namespace nsq::admin
