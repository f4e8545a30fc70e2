#pragma once

// nsqd's HTTP API (nsq.md 1.7) on the broker's common/http server: /pub, /mpub, /stats,
// /info, /topic/*, /channel/*, /config/:opt, with nsqd's codes, headers and bodies.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/broker/core/engine.h"
#include "services/broker/auth/auth.h"
#include "services/broker/legacy/v2_server.h"

namespace nsq::http {
class Server;
}

namespace nsq::legacy {

struct HttpApiOptions {
  int64_t max_msg_size = 1048576;
  int64_t max_body_size = 5242880;
  absl::Duration max_req_timeout = absl::Hours(1);
  absl::Time start_time;
  std::string hostname;
  std::string broadcast_address;
  // Ports as bound (known only once the listeners start); -1 when not listening.
  std::function<int()> tcp_port;
  std::function<int()> http_port;
  std::function<int()> https_port;
  // For /info.
  absl::Duration max_heartbeat_interval = absl::Seconds(60);
  int64_t max_output_buffer_size = 65536;
  absl::Duration max_output_buffer_timeout = absl::Seconds(30);
  int max_deflate_level = 6;
  std::string topology_zone;  // --topology-zone / --topology-region, shown by /info
  std::string topology_region;
  // --tls-required=true: plain HTTP answers every request (unknown paths too) with
  // 403 TLS_REQUIRED and https_port.
  bool tls_required = false;
  // Auth: when addresses are set, /pub and /mpub need "Authorization: Bearer <secret>"
  // whose authorizations allow publishing to the topic (an nsq-cpp addition: nsqd leaves
  // its HTTP API open).
  nsq::auth::AuthOptions auth;
  // /config/:opt: option name (config key) -> its value as JSON.
  std::map<std::string, std::string> config;
  // Applies PUT /config/log_level (a level name); false when the level is unknown.
  std::function<bool(const std::string&)> set_log_level;
  // Told of PUT /config/nsqlookupd_tcp_addresses.
  std::function<void(const std::vector<std::string>&)> set_lookupd_addresses;
  // nsqd's /ping text on failure is "NOK - <err>"; nothing else to configure.
};

// Registers every endpoint on `server` (and a V1 404 for unknown paths). /ping is
// included. `v2` (may be null) supplies the V2 client details /stats shows. `engine`
// and `v2` must outlive the server's handlers.
void RegisterHttpApi(http::Server* server, broker::Engine* engine, const V2Server* v2,
                     HttpApiOptions options);

}  // namespace nsq::legacy
