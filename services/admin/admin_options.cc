#include "services/admin/admin_options.h"

#include "absl/strings/str_cat.h"
#include "common/flags/flags.h"
#include "services/admin/acl.h"

namespace nsq::admin {

void AdminOptions::RegisterFlags(flags::FlagSet* f) {
  f->AddBool("version", &show_version, "print version string");
  f->AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  f->AddString("log-prefix", &log_prefix, "log message prefix");
  f->AddString("http-address", &http_address, "<addr>:<port> to listen on for HTTP clients");
  f->AddString("base-path", &base_path, "URL base path");
  f->AddStringList("discovery-address", &discovery_addresses,
                   "discovery gRPC address", "discovery_addresses");
  f->AddStringList("lookupd-http-address", &lookupd_http_addresses,
                   "lookupd HTTP address", "nsqlookupd_http_addresses");
  f->AddStringList("nsqd-http-address", &nsqd_http_addresses,
                   "nsqd HTTP address", "nsqd_http_addresses");
  f->AddDuration("stats-interval", &stats_interval, "how often every broker's stats are polled");
  f->AddDuration("history-window", &history_window, "how much history is kept in memory for rates and charts");
  f->AddDuration("http-client-connect-timeout", &http_client_connect_timeout, "timeout for HTTP connect");
  f->AddDuration("http-client-request-timeout", &http_client_request_timeout, "timeout for HTTP request");
  f->AddBool("http-client-tls-insecure-skip-verify", &http_client_tls_insecure_skip_verify,
             "configure the HTTP client to skip verification of TLS certificates");
  f->AddString("http-client-tls-root-ca-file", &http_client_tls_root_ca_file,
               "path to CA file for the HTTP client");
  f->AddString("http-client-tls-cert", &http_client_tls_cert, "path to certificate file for the HTTP client");
  f->AddString("http-client-tls-key", &http_client_tls_key, "path to key file for the HTTP client");
  grpcutil::RegisterClientFlags(f, &grpc);
  f->AddString("notification-http-endpoint", &notification_http_endpoint,
               "HTTP endpoint (fully qualified) to which POST notifications of admin actions will be sent");
  f->AddString("allow-config-from-cidr", &allow_config_from_cidr,
               "A CIDR from which to allow HTTP requests to the /config endpoint");
  f->AddString("acl-http-header", &acl_http_header, "HTTP header to check for authenticated admin users");
  f->AddStringList("admin-user", &admin_users, "admin user; if specified, only these users will be able to perform privileged actions", "admin_users");
}

absl::Status AdminOptions::Validate() const {
  if (discovery_addresses.empty() && lookupd_http_addresses.empty() && nsqd_http_addresses.empty()) {
    return absl::InvalidArgumentError(
        "--discovery-address, --lookupd-http-address or --nsqd-http-address required");
  }
  if (http_address.empty()) return absl::InvalidArgumentError("--http-address must not be empty");
  if (stats_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError("--stats-interval must be at least 10ms");
  }
  if (history_window < stats_interval) {
    return absl::InvalidArgumentError("--history-window must be at least --stats-interval");
  }
  if (http_client_request_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--http-client-request-timeout must be > 0");
  }
  if (auto c = Cidr::Parse(allow_config_from_cidr); !c.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--allow-config-from-cidr: ", c.status().message()));
  }
  if (!notification_http_endpoint.empty() &&
      notification_http_endpoint.rfind("http://", 0) != 0) {
    return absl::InvalidArgumentError("--notification-http-endpoint must be an http:// URL");
  }
  return absl::OkStatus();
}

std::string AdminOptions::NormalizedBasePath() const {
  std::string p = base_path.empty() ? "/" : base_path;
  if (p.front() != '/') p = "/" + p;
  if (p.back() != '/') p += "/";
  return p;
}

}  // namespace nsq::admin
