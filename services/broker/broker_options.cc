#include "services/broker/broker_options.h"

#include <algorithm>

#include <openssl/md5.h>
#include <unistd.h>
#include <zlib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/flags/flags.h"
#include "common/names/names.h"

namespace nsq::broker {

void BrokerOptions::RegisterFlags(flags::FlagSet* f) {
  f->AddBool("version", &show_version, "print version string");
  f->AddBool("verbose", &verbose, "[deprecated] has no effect, use --log-level");
  f->AddBool("worker-id", &worker_id, "[deprecated] use --node-id");
  f->AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  f->AddString("log-prefix", &log_prefix, "log message prefix");
  f->AddInt64("node-id", &node_id, "unique part for message IDs, (int) in range [0,1024) (default is hash of hostname)", "id");
  f->AddString("tcp-address", &tcp_address, "<addr>:<port> to listen on for TCP clients");
  f->AddString("http-address", &http_address, "<addr>:<port> to listen on for HTTP clients");
  f->AddString("grpc-address", &grpc_address, "<addr>:<port> to listen on for gRPC clients");
  f->AddString("broadcast-address", &broadcast_address, "address that will be registered with discovery (defaults to the OS hostname)");
  f->AddInt64("broadcast-tcp-port", &broadcast_tcp_port, "TCP port that will be registered with discovery (defaults to the TCP port that this nsqd is listening on)");
  f->AddInt64("broadcast-http-port", &broadcast_http_port, "HTTP port that will be registered with discovery (defaults to the HTTP port that this nsqd is listening on)");
  f->AddStringList("discovery-address", &discovery_addresses, "discovery gRPC address");
  f->AddStringList("lookupd-tcp-address", &lookupd_tcp_addresses, "lookupd TCP address", "nsqlookupd_tcp_addresses");
  f->AddString("data-path", &data_path, "path to store disk-backed messages");
  f->AddInt64("mem-queue-size", &mem_queue_size, "number of messages to keep in memory (per topic/channel)");
  f->AddInt64("max-bytes-per-file", &max_bytes_per_file, "number of bytes per diskqueue file before rolling (accepted for nsqd compatibility)");
  f->AddInt64("sync-every", &sync_every, "number of messages per diskqueue fsync");
  f->AddDuration("sync-timeout", &sync_timeout, "duration of time per diskqueue fsync");
  f->AddDuration("msg-timeout", &msg_timeout, "default duration to wait before auto-requeing a message");
  f->AddDuration("max-msg-timeout", &max_msg_timeout, "maximum duration before a message will timeout");
  f->AddInt64("max-msg-size", &max_msg_size, "maximum size of a single message in bytes");
  f->AddDuration("max-req-timeout", &max_req_timeout, "maximum requeuing timeout for a message");
  f->AddInt64("max-body-size", &max_body_size, "maximum size of a single command body");
  f->AddInt64("max-rdy-count", &max_rdy_count, "maximum RDY count for a client");
  f->AddInt64("max-channel-consumers", &max_channel_consumers, "maximum channel consumer connection count per nsqd instance (default 0, i.e., unlimited)");
  f->AddDuration("max-heartbeat-interval", &max_heartbeat_interval, "maximum client configurable duration of time between client heartbeats");
  f->AddInt64("max-output-buffer-size", &max_output_buffer_size, "maximum client configurable size (in bytes) for a client output buffer");
  f->AddDuration("max-output-buffer-timeout", &max_output_buffer_timeout, "maximum client configurable duration of time between flushing to a client");
  f->AddDuration("min-output-buffer-timeout", &min_output_buffer_timeout, "minimum client configurable duration of time between flushing to a client");
  f->AddDuration("output-buffer-timeout", &output_buffer_timeout, "default duration of time between flushing data to clients");
  f->AddBool("deflate", &deflate, "enable deflate feature negotiation (client compression)");
  f->AddInt64("max-deflate-level", &max_deflate_level, "max deflate compression level a client can negotiate (> values == > nsqd CPU usage)");
  f->AddBool("snappy", &snappy, "enable snappy feature negotiation (client compression)");
  f->AddString("https-address", &https_address, "<addr>:<port> to listen on for HTTPS clients");
  f->AddString("tls-cert", &tls_cert, "path to certificate file");
  f->AddString("tls-key", &tls_key, "path to key file");
  f->AddString("tls-root-ca-file", &tls_root_ca_file, "path to certificate authority file");
  f->AddString("tls-client-auth-policy", &tls_client_auth_policy, "client certificate auth policy ('require' or 'require-verify')");
  f->AddBoolStyleString("tls-required", &tls_required, "true", "require TLS for client connections (true, false, tcp-https)");
  f->AddString("tls-min-version", &tls_min_version, "minimum SSL/TLS version acceptable ('tls1.0', 'tls1.1', 'tls1.2' or 'tls1.3')");
  f->AddBool("grpc-tls", &grpc_tls, "serve gRPC over TLS; without --grpc-tls-cert/--grpc-tls-key with --tls-cert/--tls-key (and --tls-client-auth-policy)");
  f->AddString("grpc-tls-cert", &grpc_tls_cert, "path to the PEM certificate of the gRPC port (enables gRPC TLS)");
  f->AddString("grpc-tls-key", &grpc_tls_key, "path to the PEM private key of --grpc-tls-cert");
  f->AddString("grpc-tls-client-ca", &grpc_tls_client_ca, "path to a PEM CA file: gRPC clients must present a certificate it signed (mTLS; enables gRPC TLS)");
  grpcutil::RegisterClientFlags(f, &discovery_tls, "discovery-", /*auth_secret=*/false);
  f->AddStringList("auth-http-address", &auth_http_addresses, "<addr>:<port> or a full url to query auth server", "auth_http_addresses");
  f->AddString("auth-http-request-method", &auth_http_request_method, "HTTP method to use for auth server requests (get or post)");
  f->AddDuration("http-client-connect-timeout", &http_client_connect_timeout, "timeout for HTTP connect");
  f->AddDuration("http-client-request-timeout", &http_client_request_timeout, "timeout for HTTP request");
  f->AddString("statsd-address", &statsd_address, "UDP <addr>:<port> of a statsd daemon for pushing stats");
  f->AddString("statsd-prefix", &statsd_prefix, "prefix used for keys sent to statsd (%s for host replacement)");
  f->AddDuration("statsd-interval", &statsd_interval, "duration between pushing to statsd");
  f->AddBool("statsd-mem-stats", &statsd_mem_stats, "toggle sending memory and GC stats to statsd");
  f->AddInt64("statsd-udp-packet-size", &statsd_udp_packet_size, "the size in bytes of statsd UDP packets");
  f->AddBool("statsd-exclude-ephemeral", &statsd_exclude_ephemeral, "Skip ephemeral topics and channels when sending stats to statsd");
  f->AddStringList("e2e-processing-latency-percentile", &e2e_processing_latency_percentiles, "message processing time percentiles (as float (0, 1.0]) to track (can be specified multiple times or comma separated '1.0,0.99,0.95', default none)", "e2e_processing_latency_percentiles");
  f->AddDuration("e2e-processing-latency-window-time", &e2e_processing_latency_window_time, "calculate end to end latency quantiles for this duration of time (ie: 60s would only show quantile calculations from the past 60 seconds)");
  f->AddInt64("queue-scan-selection-count", &queue_scan_selection_count, "number of channels to check per cycle (every 100ms) for in-flight and deferred timeouts (accepted for nsqd compatibility)");
  f->AddInt64("queue-scan-worker-pool-max", &queue_scan_worker_pool_max, "max concurrency for checking in-flight and deferred message timeouts (accepted for nsqd compatibility)");
  f->AddString("topology-region", &topology_region, "A region represents a larger domain, made up of one or more zones for preferring closer consumer");
  f->AddString("topology-zone", &topology_zone, "A zone represents a logical failure domain for preferring closer consumer");
  f->AddStringList("enable-experiment", &enable_experiment, "enable experimental feature (may be given multiple times) (valid options: \"topology-aware-consumption\")");
  // Beyond NSQ (not stock nsqd flags): the default policy of every new channel.
  f->AddInt64("max-attempts", &max_attempts, "[beyond NSQ] deliveries without FIN after which a message goes to --dead-letter-topic (or is dropped) (default 0, i.e., unlimited)");
  f->AddString("dead-letter-topic", &dead_letter_topic, "[beyond NSQ] topic that receives messages past --max-attempts (and expired ones under --dead-letter-expired); empty = drop them");
  f->AddDuration("message-ttl", &message_ttl, "[beyond NSQ] messages older than this (from their publish time) are not delivered (default 0, i.e., never)");
  f->AddBool("dead-letter-expired", &dead_letter_expired, "[beyond NSQ] send messages older than --message-ttl to --dead-letter-topic instead of dropping them");
  f->AddInt64("max-depth", &max_depth, "[beyond NSQ] most ready messages per channel (default 0, i.e., unbounded)");
  f->AddString("depth-policy", &depth_policy, "[beyond NSQ] what a channel at --max-depth does with a publish: reject_new (it fails) or drop_oldest");
}

absl::Status BrokerOptions::Validate() const {
  if (node_id < 0 || node_id >= 1024) return absl::InvalidArgumentError("--node-id must be [0,1024)");
  if (mem_queue_size < 0) return absl::InvalidArgumentError("--mem-queue-size must be >= 0");
  if (max_msg_size <= 0) return absl::InvalidArgumentError("--max-msg-size must be > 0");
  // nsqd accepts --max-msg-size above --max-body-size: each check then applies on its own
  // (a PUB is bounded by the first, an MPUB's whole body by the second).
  if (max_body_size <= 0) return absl::InvalidArgumentError("--max-body-size must be > 0");
  if (msg_timeout <= absl::ZeroDuration()) return absl::InvalidArgumentError("--msg-timeout must be > 0");
  if (max_msg_timeout < msg_timeout) {
    return absl::InvalidArgumentError("--max-msg-timeout must be >= --msg-timeout");
  }
  if (max_req_timeout < absl::ZeroDuration()) return absl::InvalidArgumentError("--max-req-timeout must be >= 0");
  if (max_rdy_count < 1) return absl::InvalidArgumentError("--max-rdy-count must be >= 1");
  if (max_channel_consumers < 0) return absl::InvalidArgumentError("--max-channel-consumers must be >= 0");
  if (sync_every < 1) return absl::InvalidArgumentError("--sync-every must be >= 1");
  if (grpc_address.empty()) return absl::InvalidArgumentError("--grpc-address must not be empty");
  if (broadcast_tcp_port < 0 || broadcast_tcp_port > 65535) {
    return absl::InvalidArgumentError("--broadcast-tcp-port must be [0,65535]");
  }
  if (broadcast_http_port < 0 || broadcast_http_port > 65535) {
    return absl::InvalidArgumentError("--broadcast-http-port must be [0,65535]");
  }
  if (max_deflate_level < 1 || max_deflate_level > 9) {
    return absl::InvalidArgumentError("--max-deflate-level must be [1,9]");
  }
  if (auth_http_request_method != "get" && auth_http_request_method != "post") {
    return absl::InvalidArgumentError("--auth-http-request-method must be post or get");
  }
  if (tls_required != "false" && tls_required != "true" && tls_required != "tcp-https") {
    return absl::InvalidArgumentError("--tls-required must be true, false or tcp-https");
  }
  const bool tls_enabled = !tls_cert.empty() && !tls_key.empty();
  if (!tls_enabled && (tls_required != "false" || !tls_client_auth_policy.empty())) {
    return absl::InvalidArgumentError("cannot require TLS client connections without TLS key and cert");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (absl::StatusOr<grpcutil::ServerTlsOptions> g = GrpcServerTls(); !g.ok()) return g.status();
  if (absl::StatusOr<std::vector<double>> p = E2EPercentiles(); !p.ok()) return p.status();
  if (!statsd_address.empty() && statsd_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--statsd-interval must be > 0");
  }
  return ValidatePolicyFlags();
}

absl::Status BrokerOptions::ValidatePolicyFlags() const {
  if (max_attempts < 0 || max_attempts > 65535) {
    return absl::InvalidArgumentError("--max-attempts must be [0,65535]");
  }
  if (message_ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("--message-ttl must be >= 0");
  if (max_depth < 0) return absl::InvalidArgumentError("--max-depth must be >= 0");
  if (depth_policy != "reject_new" && depth_policy != "drop_oldest") {
    return absl::InvalidArgumentError("--depth-policy must be reject_new or drop_oldest");
  }
  if (!dead_letter_topic.empty() && !names::IsValidName(dead_letter_topic)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dead-letter-topic \"", dead_letter_topic, "\" is not a valid topic name"));
  }
  if (dead_letter_expired && dead_letter_topic.empty()) {
    return absl::InvalidArgumentError("--dead-letter-expired needs --dead-letter-topic");
  }
  if (dead_letter_expired && message_ttl == absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--dead-letter-expired needs --message-ttl");
  }
  return absl::OkStatus();
}

QueuePolicy BrokerOptions::DefaultPolicy() const {
  QueuePolicy p;
  p.max_attempts = static_cast<int32_t>(max_attempts);
  p.dead_letter_topic = dead_letter_topic;
  p.message_ttl = message_ttl;
  p.dead_letter_expired = dead_letter_expired;
  p.max_depth = max_depth;
  p.depth_policy = depth_policy == "drop_oldest" ? DepthPolicy::kDropOldest : DepthPolicy::kRejectNew;
  return p;
}

absl::StatusOr<std::vector<double>> BrokerOptions::E2EPercentiles() const {
  std::vector<double> out;
  for (const std::string& given : e2e_processing_latency_percentiles) {
    for (absl::string_view part : absl::StrSplit(given, ',')) {
      double v = 0;
      if (!absl::SimpleAtod(part, &v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value \"", given, "\" for flag -e2e-processing-latency-percentile"));
      }
      // nsqd: "invalid E2E processing latency percentile: %v".
      if (!(v > 0 && v <= 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid E2E processing latency percentile: ", part));
      }
      out.push_back(v);
    }
  }
  return out;
}

std::vector<std::string> BrokerOptions::NoOpNotices() const {
  std::vector<std::string> out;
  const BrokerOptions d;
  if (verbose) out.push_back("--verbose is deprecated and has no effect, use --log-level");
  if (worker_id) out.push_back("--worker-id is deprecated and has no effect, use --node-id");
  if (queue_scan_selection_count != d.queue_scan_selection_count ||
      queue_scan_worker_pool_max != d.queue_scan_worker_pool_max) {
    out.push_back(
        "--queue-scan-selection-count/--queue-scan-worker-pool-max have no effect: timeouts "
        "and deferrals fire from one priority queue, there is no sampling scanner to tune");
  }
  if (!enable_experiment.empty()) {
    out.push_back(absl::StrCat(
        "--enable-experiment (", absl::StrJoin(enable_experiment, ","),
        "): topology-aware-consumption counts deliveries by topology (zone_local_msg_count, "
        "region_local_msg_count, global_msg_count) but does not prefer zone-local consumers "
        "when dispatching; other names have no effect"));
  }
  return out;
}

absl::StatusOr<grpcutil::ServerTlsOptions> BrokerOptions::GrpcServerTls() const {
  grpcutil::ServerTlsOptions out;
  if (!grpc_tls && grpc_tls_cert.empty() && grpc_tls_key.empty() && grpc_tls_client_ca.empty()) {
    return out;  // plaintext, whatever --tls-* say
  }
  if (grpc_tls_cert.empty() != grpc_tls_key.empty()) {
    return absl::InvalidArgumentError("--grpc-tls-cert and --grpc-tls-key must be given together");
  }
  out.client_ca_file = grpc_tls_client_ca;
  if (!grpc_tls_cert.empty()) {
    out.cert_file = grpc_tls_cert;
    out.key_file = grpc_tls_key;
    return out;
  }
  if (tls_cert.empty() || tls_key.empty()) {
    return absl::InvalidArgumentError(
        "gRPC TLS needs a certificate: --grpc-tls-cert and --grpc-tls-key, or --tls-cert and --tls-key");
  }
  // Reusing the --tls-* files, with their client-certificate policy.
  out.cert_file = tls_cert;
  out.key_file = tls_key;
  if (out.client_ca_file.empty()) {
    if (tls_client_auth_policy == "require-verify") {
      if (tls_root_ca_file.empty()) {
        return absl::InvalidArgumentError(
            "gRPC TLS with --tls-client-auth-policy=require-verify needs --tls-root-ca-file or --grpc-tls-client-ca");
      }
      out.client_ca_file = tls_root_ca_file;
    } else if (tls_client_auth_policy == "require") {
      out.require_client_cert = true;
    }
  }
  return out;
}

int64_t DefaultNodeId(const std::string& hostname) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  MD5(reinterpret_cast<const unsigned char*>(hostname.data()), hostname.size(), digest);
  uLong crc = crc32(0L, digest, MD5_DIGEST_LENGTH);
  return static_cast<int64_t>(crc % 1024);
}

void BrokerOptions::ResolveDefaults() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  if (node_id == -1) node_id = DefaultNodeId(host);
  if (broadcast_address.empty()) broadcast_address = host;
  // nsqd's tlsRequiredOption.Set: case-insensitive, Go's bool spellings.
  std::string required = absl::AsciiStrToLower(tls_required);
  if (required == "1" || required == "t") required = "true";
  if (required == "0" || required == "f") required = "false";
  if (required == "true" || required == "false" || required == "tcp-https") tls_required = required;
  // nsqd: a client auth policy implies --tls-required.
  if (!tls_client_auth_policy.empty() && tls_required == "false") tls_required = "true";
}

EngineOptions BrokerOptions::ToEngineOptions() const {
  EngineOptions e;
  e.node_id = node_id;
  e.mem_queue_size = mem_queue_size;
  e.msg_timeout = msg_timeout;
  e.max_msg_timeout = max_msg_timeout;
  e.max_msg_size = max_msg_size;
  e.max_req_timeout = max_req_timeout;
  e.max_rdy_count = max_rdy_count;
  e.max_channel_consumers = max_channel_consumers;
  e.topology_zone = topology_zone;
  e.topology_region = topology_region;
  e.topology_aware_consumption =
      std::find(enable_experiment.begin(), enable_experiment.end(), "topology-aware-consumption") !=
      enable_experiment.end();
  e.default_policy = DefaultPolicy();
  // Checked by Validate with nsqd's error; a bad list here means no percentiles.
  if (absl::StatusOr<std::vector<double>> p = E2EPercentiles(); p.ok()) e.e2e_percentiles = *p;
  e.e2e_window = e2e_processing_latency_window_time;
  return e;
}

}  // namespace nsq::broker
