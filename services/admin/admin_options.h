#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc/tls.h"

namespace nsq::flags {
class FlagSet;
}

namespace nsq::admin {

// Every option of the admin service (our nsqadmin), with nsqadmin's flag names and config
// keys where nsqadmin has the option (nsq.md 3.1). The listener binds 127.0.0.1 by default.
struct AdminOptions {
  // Process.
  std::string log_level = "info";           // debug, info, warn, error, fatal
  std::string log_prefix = "[nsqadmin] ";   // prepended to every log line
  bool show_version = false;                // --version

  // Listener.
  std::string http_address = "127.0.0.1:4171";  // web UI, JSON API, /metrics
  std::string base_path = "/";                  // URL prefix of everything served

  // Where the cluster is (at least one).
  std::vector<std::string> discovery_addresses;     // our discovery, gRPC (repeatable)
  std::vector<std::string> lookupd_http_addresses;  // nsqlookupd HTTP (repeatable)
  std::vector<std::string> nsqd_http_addresses;     // a fixed list of brokers (repeatable)

  // Polling and history.
  absl::Duration stats_interval = absl::Seconds(2);  // one stats call per broker per interval
  absl::Duration history_window = absl::Minutes(15); // how far back charts and /api/history go

  // Upstream clients.
  absl::Duration http_client_connect_timeout = absl::Seconds(2);  // part of the request timeout
  absl::Duration http_client_request_timeout = absl::Seconds(5);  // whole call, HTTP and gRPC
  bool http_client_tls_insecure_skip_verify = false;  // HTTPS retry without verification
  std::string http_client_tls_root_ca_file;
  std::string http_client_tls_cert;
  std::string http_client_tls_key;

  // gRPC upstreams (brokers' and discovery's gRPC ports): TLS and the auth secret, from
  // --grpc-tls, --grpc-tls-ca, --grpc-tls-cert, --grpc-tls-key, --grpc-tls-server-name,
  // --grpc-auth-secret (not nsqadmin flags). Plaintext without a secret by default.
  grpcutil::ClientOptions grpc;

  // Actions and access.
  std::string notification_http_endpoint;        // POSTed nsqadmin's JSON per action
  std::string allow_config_from_cidr = "127.0.0.1/8";  // who may GET/PUT /config/:opt
  std::string acl_http_header = "X-Forwarded-User";   // names the authenticated user
  std::vector<std::string> admin_users;               // when set, only they may act

  void RegisterFlags(flags::FlagSet* flags);
  absl::Status Validate() const;
  // base_path with a leading and trailing slash ("/", "/admin/").
  std::string NormalizedBasePath() const;
};

}  // namespace nsq::admin
