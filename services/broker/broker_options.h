#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc/tls.h"
#include "services/broker/core/options.h"

namespace nsq::flags {
class FlagSet;
}

namespace nsq::broker {

// Every option of the broker (our nsqd), with nsqd's flag names and config keys
// (nsq.md 1.1). Defaults are nsqd's, except that listeners bind 127.0.0.1.
struct BrokerOptions {
  // Process.
  std::string log_level = "info";        // debug, info, warn, error, fatal
  std::string log_prefix = "[nsqd] ";    // prepended to every log line
  int64_t node_id = -1;                  // [0,1024); -1 = crc32(md5(hostname)) % 1024
  bool show_version = false;             // --version
  bool verbose = false;                  // nsqd's deprecated --verbose: no effect
  bool worker_id = false;                // nsqd's deprecated bare --worker-id: no effect

  // Listeners.
  std::string tcp_address = "127.0.0.1:4150";   // NSQ TCP protocol V2 (legacy gateway)
  std::string http_address = "127.0.0.1:4151";  // HTTP: /ping, /metrics, NSQ HTTP API
  std::string grpc_address = "127.0.0.1:4153";  // nsq.v1.Broker, health, reflection
  std::string broadcast_address;                // registered with discovery; "" = hostname
  int64_t broadcast_tcp_port = 0;               // registered TCP port; 0 = the bound one
  int64_t broadcast_http_port = 0;              // registered HTTP port; 0 = the bound one

  // Discovery.
  std::vector<std::string> discovery_addresses;    // gRPC Discovery instances (repeatable)
  std::vector<std::string> lookupd_tcp_addresses;  // stock nsqlookupd TCP, protocol V1 (repeatable)

  // Queues.
  std::string data_path;             // "" = current working directory
  int64_t mem_queue_size = 10000;    // messages kept in memory per topic and per channel
  int64_t max_bytes_per_file = 104857600;  // accepted for nsqd compatibility
  int64_t sync_every = 2500;         // messages per fsync
  absl::Duration sync_timeout = absl::Seconds(2);  // most time between fsyncs

  // Messages and commands.
  absl::Duration msg_timeout = absl::Seconds(60);      // default in-flight timeout
  absl::Duration max_msg_timeout = absl::Minutes(15);  // bound of consumer timeout / TOUCH
  int64_t max_msg_size = 1048576;                      // bytes per message body
  int64_t max_body_size = 5242880;                     // bytes per MPUB / Publish request
  absl::Duration max_req_timeout = absl::Hours(1);     // REQ clamp, DPUB bound
  int64_t max_rdy_count = 2500;                        // bound of a consumer's RDY
  int64_t max_channel_consumers = 0;                   // per channel; 0 = unlimited

  // V2 clients' negotiable limits (IDENTIFY).
  absl::Duration max_heartbeat_interval = absl::Seconds(60);          // bound of heartbeat_interval
  int64_t max_output_buffer_size = 65536;                              // bound of output_buffer_size
  absl::Duration max_output_buffer_timeout = absl::Seconds(30);        // bound of output_buffer_timeout
  absl::Duration min_output_buffer_timeout = absl::Milliseconds(25);   // lower bound of the same
  absl::Duration output_buffer_timeout = absl::Milliseconds(250);      // default flush interval

  // Compression V2 clients may negotiate.
  bool deflate = true;              // allow deflate
  int64_t max_deflate_level = 6;    // [1,9]
  bool snappy = true;               // allow snappy

  // TLS (V2 upgrade via IDENTIFY tls_v1, and HTTPS).
  std::string https_address = "127.0.0.1:4152";  // only when --tls-cert and --tls-key are set
  std::string tls_cert;                 // path to a PEM certificate (chain)
  std::string tls_key;                  // path to its PEM private key
  std::string tls_root_ca_file;         // CA that verifies client certificates
  std::string tls_client_auth_policy;   // "", require, require-verify
  std::string tls_required = "false";   // false, true, tcp-https
  std::string tls_min_version = "tls1.0";  // tls1.0, tls1.1, tls1.2, tls1.3

  // gRPC TLS (not nsqd flags). Off unless asked for, so a broker with --tls-* keeps a
  // plaintext gRPC port: on with --grpc-tls or any --grpc-tls-* file. Without
  // --grpc-tls-cert/--grpc-tls-key it serves --tls-cert/--tls-key, and then asks for
  // client certificates as --tls-client-auth-policy says (require-verify: against
  // --tls-root-ca-file) unless --grpc-tls-client-ca is given.
  bool grpc_tls = false;            // serve gRPC over TLS
  std::string grpc_tls_cert;        // PEM certificate chain of the gRPC port
  std::string grpc_tls_key;         // its PEM private key
  std::string grpc_tls_client_ca;   // mTLS: clients need a certificate this CA signed
  // TLS toward --discovery-address (the registrar's gRPC client): --discovery-tls,
  // --discovery-tls-ca, --discovery-tls-cert, --discovery-tls-key,
  // --discovery-tls-server-name.
  grpcutil::ClientOptions discovery_tls;

  // Auth server (nsq.md 1.6).
  std::vector<std::string> auth_http_addresses;          // --auth-http-address (repeatable)
  std::string auth_http_request_method = "get";          // get or post
  absl::Duration http_client_connect_timeout = absl::Seconds(2);  // for auth requests
  absl::Duration http_client_request_timeout = absl::Seconds(5);  // for auth requests

  // statsd (nsqd's statsd.go): pushed over UDP when statsd_address is set.
  std::string statsd_address;                          // UDP host:port; "" = off
  std::string statsd_prefix = "nsq.%s";                // %s = <broadcast_address>_<http port>
  absl::Duration statsd_interval = absl::Seconds(60);  // between pushes
  bool statsd_mem_stats = true;                        // also push mem.* gauges
  int64_t statsd_udp_packet_size = 508;                // most bytes per datagram
  bool statsd_exclude_ephemeral = false;               // leave #ephemeral topics/channels out

  // End-to-end latency: accepted and checked, not measured here (README).
  std::vector<std::string> e2e_processing_latency_percentiles;  // floats in (0,1], comma lists too
  absl::Duration e2e_processing_latency_window_time = absl::Minutes(10);  // quantile window

  // nsqd's Go queue scanner tuning: accepted no-ops, timers here are a priority queue.
  int64_t queue_scan_selection_count = 20;  // channels sampled per scan cycle
  int64_t queue_scan_worker_pool_max = 4;   // scanner goroutines

  // Topology-aware consumption (nsqd experiment): accepted, shown in /config, not acted on.
  std::string topology_region;               // --topology-region
  std::string topology_zone;                 // --topology-zone
  std::vector<std::string> enable_experiment;  // experiment names (repeatable)

  // Beyond NSQ: the broker-wide default QueuePolicy of every topic's new channels (a
  // topic's or channel's own policy, set over gRPC or HTTP, wins). All off by default.
  int64_t max_attempts = 0;              // deliveries without FIN before dead-lettering; 0 = unlimited
  std::string dead_letter_topic;         // where such messages go; "" = dropped (counted)
  absl::Duration message_ttl = absl::ZeroDuration();  // from publish time; 0 = never expire
  bool dead_letter_expired = false;      // expired messages go to --dead-letter-topic
  int64_t max_depth = 0;                 // most ready messages per channel; 0 = unbounded
  std::string depth_policy = "reject_new";  // reject_new or drop_oldest

  // Registers every field above as a flag (and config key) on `flags`.
  void RegisterFlags(flags::FlagSet* flags);
  // nsqd's startup checks, with its messages.
  absl::Status Validate() const;
  // Fills node_id from the hostname when it was not given.
  void ResolveDefaults();
  EngineOptions ToEngineOptions() const;
  // The gRPC port's TLS from the flags above (the rule at grpc_tls); disabled options for
  // a plaintext port. InvalidArgument when TLS is asked for without a certificate.
  absl::StatusOr<grpcutil::ServerTlsOptions> GrpcServerTls() const;
  // The broker-wide default policy from the flags above (depth_policy must be valid).
  QueuePolicy DefaultPolicy() const;
  // The e2e percentiles as numbers, with nsqd's error for one outside (0,1].
  absl::StatusOr<std::vector<double>> E2EPercentiles() const;
  // The checks of the policy flags (Validate runs them).
  absl::Status ValidatePolicyFlags() const;
  // One startup line per given option that has no effect here, saying so.
  std::vector<std::string> NoOpNotices() const;
};

// nsqd's default node id: crc32(md5(hostname)) % 1024.
int64_t DefaultNodeId(const std::string& hostname);

}  // namespace nsq::broker
