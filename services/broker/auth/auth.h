#pragma once

// nsqd's auth server client (nsq.md 1.6): a client's secret is checked against
// --auth-http-address, and the authorizations it returns gate publishing and subscribing.
// Shared by both front doors: the legacy gateway's AUTH (V2) and bearer secrets (HTTP),
// and the gRPC front door's call metadata.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace re2 {
class RE2;
}

namespace nsq::auth {

struct AuthOptions {
  // host:port (queried at http://host:port/auth) or a full http:// URL. Empty = off.
  std::vector<std::string> addresses;
  std::string method = "get";  // --auth-http-request-method: get or post
  absl::Duration request_timeout = absl::Seconds(5);
};

struct Authorization {
  std::vector<std::string> permissions;  // "subscribe", "publish"
  std::shared_ptr<const re2::RE2> topic;
  std::vector<std::shared_ptr<const re2::RE2>> channels;
  bool IsAllowed(std::string_view topic, std::string_view channel) const;
};

struct AuthState {
  std::string identity;
  std::string identity_url;
  absl::Time expires;
  std::vector<Authorization> authorizations;
  // nsqd's check: subscribe when `channel` is set, else publish; regexes unanchored.
  bool IsAllowed(std::string_view topic, std::string_view channel) const;
};

// Parses an auth server reply. InvalidArgument for ttl <= 0, an unknown permission or a
// regex that does not compile.
absl::StatusOr<AuthState> ParseAuthReply(std::string_view json, absl::Time now);

// Asks the auth servers (random start order, first success wins); the reply's ttl counts
// from `clock` (the engine's, so tests move it instead of sleeping). Blocking: call it off
// the I/O threads.
absl::StatusOr<AuthState> QueryAuthServers(const AuthOptions& options,
                                           std::string_view common_name,
                                           std::string_view remote_ip, std::string_view secret,
                                           bool tls, const Clock* clock);

// Go's url.QueryEscape.
std::string QueryEscape(std::string_view s);

}  // namespace nsq::auth
