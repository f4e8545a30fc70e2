#pragma once

// A tiny blocking HTTP/1.1 client for tests and command-line tools: one request per
// connection, plain or TLS, no redirects. Not for hot paths.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace nsq::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // In order received.
  std::string body;

  // First value of header `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
};

// Sends `method target` to `host_port` ("127.0.0.1:4151", "[::1]:80", "localhost:80")
// with `body` (Content-Length set when non-empty or for POST/PUT) and extra `headers`,
// and reads the whole response. The response is read while the request is still being
// written, so an early answer (such as 413) is returned even if the server stops reading.
// `timeout` bounds the whole exchange. Errors: InvalidArgument (bad host_port or method),
// Unavailable (cannot resolve or connect, connection lost), DeadlineExceeded (timeout),
// Internal (malformed response).
absl::StatusOr<ClientResponse> HttpRequest(
    std::string method, std::string host_port, std::string target, std::string body = "",
    std::vector<std::pair<std::string, std::string>> headers = {},
    absl::Duration timeout = absl::Seconds(5));

// HTTPS client settings.
struct ClientTls {
  // Verifies the server's chain and that its certificate names the host (or IP) of
  // host_port. Empty: no verification at all (tools talking to self-signed servers).
  std::string ca_file;
  // Presented when the server asks for a client certificate; optional.
  std::string cert_file;
  std::string key_file;
};

// HttpRequest over TLS. Also InvalidArgument when a file in `tls` does not load, and
// Unavailable when the handshake fails (with TLS 1.3 a rejected client certificate shows
// up as a failed read instead, also Unavailable).
absl::StatusOr<ClientResponse> HttpsRequest(
    const ClientTls& tls, std::string method, std::string host_port, std::string target,
    std::string body = "", std::vector<std::pair<std::string, std::string>> headers = {},
    absl::Duration timeout = absl::Seconds(5));

}  // namespace nsq::http
