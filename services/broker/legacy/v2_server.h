#pragma once

// The NSQ TCP protocol V2 listener (nsqd's port 4150) over the broker engine. Boost.Asio,
// OpenSSL, zlib and snappy stay in the .cc files (the listener in v2_listener.*, one
// client in v2_connection.*).

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/broker/core/engine.h"
#include "services/broker/auth/auth.h"
#include "services/broker/legacy/tls_options.h"
#include "services/broker/legacy/v2_client_info.h"

namespace nsq::legacy {

struct V2ServerOptions {
  std::string address = "127.0.0.1:0";  // --tcp-address
  int threads = 0;                      // I/O threads; 0 = one per core

  // The engine's bounds, repeated for the decoder and the IDENTIFY reply.
  int64_t max_msg_size = 1048576;
  int64_t max_body_size = 5242880;
  int64_t max_rdy_count = 2500;
  absl::Duration msg_timeout = absl::Seconds(60);
  absl::Duration max_msg_timeout = absl::Minutes(15);
  absl::Duration max_req_timeout = absl::Hours(1);

  // nsqd's ClientTimeout: the default heartbeat interval is half of it.
  absl::Duration client_timeout = absl::Seconds(60);
  absl::Duration max_heartbeat_interval = absl::Seconds(60);  // --max-heartbeat-interval
  int64_t max_output_buffer_size = 65536;                       // --max-output-buffer-size
  absl::Duration max_output_buffer_timeout = absl::Seconds(30);     // --max-output-buffer-timeout
  absl::Duration min_output_buffer_timeout = absl::Milliseconds(25);  // --min-output-buffer-timeout
  absl::Duration output_buffer_timeout = absl::Milliseconds(250);     // --output-buffer-timeout

  bool deflate = true;        // --deflate
  int max_deflate_level = 6;  // --max-deflate-level
  bool snappy = true;         // --snappy
  std::string topology_zone;    // --topology-zone, in the IDENTIFY reply
  std::string topology_region;  // --topology-region

  TlsOptions tls;
  nsq::auth::AuthOptions auth;  // --auth-http-address, --auth-http-request-method

  // Bounds of a client that does not read what it is sent (not nsqd flags: nsqd blocks
  // its reader goroutine on the write instead). Past `max_pending_output_bytes` of
  // responses and messages not yet written, the connection stops reading commands until
  // the backlog is down to half; a write that makes no progress for `write_timeout`
  // closes the connection, whatever the heartbeat settings.
  int64_t max_pending_output_bytes = 4 << 20;
  absl::Duration write_timeout = absl::Seconds(10);
  // SO_SNDBUF of each connection; 0 = the OS's (autotuned). For tests.
  int socket_send_buffer_bytes = 0;
};

// Thread-compatible lifecycle (Start/Stop from the owner); Clients() is thread-safe.
// Threads: `threads` I/O threads, each running its own connections (a connection's
// handlers never run concurrently), and one worker for auth server queries.
class V2Server {
 public:
  V2Server(broker::Engine* engine, V2ServerOptions options);
  ~V2Server();  // Stops.
  V2Server(const V2Server&) = delete;
  V2Server& operator=(const V2Server&) = delete;

  // Binds and starts serving. InvalidArgument for a bad address or TLS setup,
  // Unavailable when the address cannot be bound.
  absl::Status Start();
  int port() const;
  // Closes the listener and every connection (their consumers leave their channels)
  // and joins the threads. Idempotent.
  void Stop();

  std::vector<V2ClientInfo> Clients() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsq::legacy
