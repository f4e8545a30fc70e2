#pragma once

// go-nsq's Config (nsq.md 5.1): the options a consumer or producer takes, with go-nsq's
// names and defaults, settable by name as the tools' --consumer-opt / --producer-opt
// ("name,value") do. Plain data; no I/O.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace nsq::client {

enum class BackoffStrategy { kExponential, kFullJitter };

struct Config {
  absl::Duration dial_timeout = absl::Seconds(1);
  absl::Duration read_timeout = absl::Seconds(60);  // > heartbeat_interval
  absl::Duration write_timeout = absl::Seconds(1);
  // How often lookupd is polled; also the reconnect interval for a fixed broker address.
  absl::Duration lookupd_poll_interval = absl::Seconds(60);
  double lookupd_poll_jitter = 0.3;  // random fraction of the interval before the first re-poll
  absl::Duration lookupd_poll_timeout = absl::Minutes(1);
  absl::Duration default_requeue_delay = absl::Seconds(90);  // x attempts
  absl::Duration max_requeue_delay = absl::Minutes(15);
  BackoffStrategy backoff_strategy = BackoffStrategy::kExponential;
  absl::Duration max_backoff_duration = absl::Minutes(2);  // 0 disables backoff
  absl::Duration backoff_multiplier = absl::Seconds(1);
  int64_t max_attempts = 5;  // 0 = unlimited
  absl::Duration low_rdy_idle_timeout = absl::Seconds(10);
  absl::Duration low_rdy_timeout = absl::Seconds(30);
  absl::Duration rdy_redistribute_interval = absl::Seconds(5);
  std::string client_id;  // default: short hostname
  std::string hostname;   // default: hostname
  std::string user_agent = "nsq-cpp-client/0.2";
  absl::Duration heartbeat_interval = absl::Seconds(30);  // negative disables
  int64_t sample_rate = 0;  // 0..99
  int64_t output_buffer_size = 16384;
  absl::Duration output_buffer_timeout = absl::Milliseconds(250);
  int64_t max_in_flight = 1;
  absl::Duration msg_timeout = absl::ZeroDuration();  // 0: the broker's default
  int64_t max_msg_size = 0;  // 0: no client-side limit
  std::string auth_secret;
  bool deflate = false;  // not supported yet by the V2 transport: rejected by Validate()
  int64_t deflate_level = 6;
  bool snappy = false;  // likewise
  bool tls_v1 = false;  // V2: upgrade to TLS in IDENTIFY (an error if the broker cannot)
  std::string tls_root_ca_file;   // "" = the system's roots
  bool tls_insecure_skip_verify = false;
  std::string tls_cert;  // client certificate (PEM), presented when asked
  std::string tls_key;
  // The gRPC transport (not go-nsq options): TLS toward brokers and discovery, on when
  // grpc_tls is set or any grpc_tls_* is given (common/grpc ClientOptions); auth_secret
  // above goes on every gRPC call as "authorization: Bearer <secret>".
  bool grpc_tls = false;             // TLS verified with the system's roots
  std::string grpc_tls_ca_file;      // PEM CA that verifies the servers
  std::string grpc_tls_cert;         // client certificate (PEM), for servers that require one
  std::string grpc_tls_key;
  std::string grpc_tls_server_name;  // name checked in the server certificate instead of the host

  // Sets one option by go-nsq's name ("max_in_flight", "backoff_strategy", ...; also the
  // camel-case struct field names go-nsq accepts, e.g. "MaxInFlight"). Durations take
  // Go syntax ("90s"). InvalidArgument naming the option for an unknown name, a bad value
  // or a value outside go-nsq's range.
  absl::Status Set(std::string_view name, std::string_view value);
  // "name,value" as given to --consumer-opt / --producer-opt.
  absl::Status SetFlag(std::string_view name_comma_value);
  // Cross-field checks (heartbeat below read timeout, unsupported features).
  absl::Status Validate() const;
};

// The REQ delay for a failed message that gave no explicit one (go-nsq Requeue(-1)):
// default_requeue_delay x attempts, capped by max_requeue_delay.
absl::Duration AutoRequeueDelay(const Config& config, uint32_t attempts);

}  // namespace nsq::client
