#pragma once

// A small asynchronous HTTP/1.1 server (HTTP/1.0 too) for NSQ's HTTP APIs.
//
//   nsq::http::Server server({.address = "127.0.0.1:4151", .threads = 1});
//   server.Handle("/ping", [](const nsq::http::Request&) { return nsq::http::Response{.body = "OK"}; });
//   if (absl::Status s = server.Start(); !s.ok()) { ... }
//   ...
//   server.Stop();
//
// Handlers run on the server's I/O threads (Options::threads), one request at a time per
// connection and possibly concurrently across connections, so they must be thread-safe
// when threads > 1 and should not block for long. Boost.Asio/Beast and OpenSSL stay in
// server.cc. HTTPS: set Options::tls.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/http/query.h"
#include "common/tls/config.h"

namespace nsq::http {

struct Request {
  std::string method;  // As sent, e.g. "GET", "POST".
  std::string target;  // Raw request-target, e.g. "/pub?topic=a%20b".
  std::string path;    // Percent-decoded path ('+' kept), e.g. "/pub".
  std::string raw_query;  // Undecoded text after '?', "" when none.
  QueryParams query;      // Decoded pairs in order (see ParseQuery).
  // Error from decoding the query, OK when it was well formed. `query` still holds the
  // valid pairs; NSQ's handlers answer 400 INVALID_REQUEST when this is not OK.
  absl::Status query_status;
  std::vector<std::pair<std::string, std::string>> headers;  // As received, in order.
  std::string body;
  std::string remote_address;  // Peer "ip:port" ("[ip]:port" for IPv6).
  bool tls = false;            // Came over TLS (Options::tls).
  int version = 11;            // 10 for HTTP/1.0, 11 for HTTP/1.1.

  // First value of query parameter `name`, if present.
  std::optional<std::string> QueryValue(std::string_view name) const;
  // Every value of query parameter `name`, in order.
  std::vector<std::string> QueryValues(std::string_view name) const;
  // First value of header `name`, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
};

struct Response {
  int status = 200;  // 100..999; anything else is sent as 500.
  std::string content_type = "text/plain; charset=utf-8";  // Omitted when empty.
  std::vector<std::pair<std::string, std::string>> headers;  // Extra headers.
  std::string body;
};

// Must return normally; an exception is caught and answered with 500 INTERNAL_ERROR.
using Handler = std::function<Response(const Request&)>;

// Sends the answer of one request. Call it once, from any thread, during the handler or
// later (further calls are ignored); until then the connection reads nothing more, so
// a pipelining client's answers stay in order. An answer that comes after Stop() or
// after the connection closed is dropped.
using Reply = std::function<void(Response)>;
// A handler that answers later, e.g. once a publish is durable, without holding an I/O
// thread. `request` is valid only during the call. An exception thrown before it replied
// is answered with 500 INTERNAL_ERROR.
using AsyncHandler = std::function<void(const Request& request, Reply reply)>;

// Thread-compatible lifecycle (Start/Stop from one owner thread, never from a handler);
// Handle/HandlePrefix/SetNotFound are thread-safe and may be called at any time.
class Server {
 public:
  struct Options {
    // "host:port"; host may be an IP, a name, "[v6]" or empty (all IPv4 interfaces);
    // port 0 picks an ephemeral port (see port()).
    std::string address = "127.0.0.1:0";
    int threads = 1;
    // Largest accepted request body; larger ones get 413 BODY_TOO_BIG and the
    // connection is closed without buffering the body.
    size_t max_body_bytes = 5 * 1024 * 1024 + 4096;
    std::string server_name;  // "Server" response header, omitted when empty.
    // Time allowed to receive one whole request, counted from when the connection starts
    // waiting for it (so it is also the keep-alive idle timeout), and to send a response.
    absl::Duration io_timeout = absl::Minutes(2);
    // Time allowed to write one response. A connection serves one request at a time, so
    // its unsent output is at most one response (nothing more is read meanwhile: TCP
    // pushes back on a client that sends without reading); a client that does not
    // read it within this time is closed.
    absl::Duration write_timeout = absl::Seconds(10);
    // When set, every connection is TLS (HTTPS): the handshake must finish within
    // io_timeout, and a client that fails it (no certificate under a client-auth policy,
    // plaintext) is closed without an answer. Start() fails with InvalidArgument when
    // the certificate, key or CA file does not load.
    std::optional<tls::ServerConfig> tls;
  };

  explicit Server(Options options);
  ~Server();  // Stops.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Exact path match (on the decoded path), any method; the handler checks the method.
  void Handle(std::string path, Handler handler);
  // The same for a handler that answers later (see AsyncHandler).
  void HandleAsync(std::string path, AsyncHandler handler);
  // Paths starting with `prefix`, e.g. "/config/". Longest prefix wins; an exact match
  // beats every prefix.
  void HandlePrefix(std::string prefix, Handler handler);
  // Handler for unmatched paths; the default answers 404 "NOT_FOUND".
  void SetNotFound(Handler handler);

  // Binds, listens and starts the I/O threads. InvalidArgument for a malformed address,
  // Unavailable when it cannot be bound (in use, not local), FailedPrecondition when
  // called twice.
  absl::Status Start();
  // Bound port after a successful Start(), else 0.
  int port() const;
  // Bound "ip:port" after a successful Start(), else "".
  std::string address() const;
  // Closes the listener and every open connection and joins the I/O threads. Returns as
  // soon as running handlers finish. Idempotent; the server cannot be restarted.
  void Stop();

  class Impl;  // Defined in server.cc.

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsq::http
