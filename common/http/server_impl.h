#pragma once

// The server behind http::Server: private to //common/http. Server::Impl owns the routing
// table, the listener, the I/O threads and the registry of open connections; each
// connection is a Session (http_session.h).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "common/http/server.h"
#include "common/net/host_port.h"

namespace nsq::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

inline std::string FormatEndpoint(const tcp::endpoint& ep) {
  return nsq::net::JoinHostPort(ep.address().to_string(), ep.port());
}

// A plain-text response (the server's own errors: 404, 413, 500...).
inline Response TextResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// Lets a thread outside the server (one answering an AsyncHandler's request later) post
// to the io_context only while it runs: Stop() closes it first. Post under `mu`.
struct ReplyGate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

// What the listener needs from one connection: Start() once registered, and Close() from
// Stop() once every I/O thread has been joined.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Start() = 0;
  virtual void Close() = 0;
};

// Owns the routing table, the listener, the I/O threads and the registry of open
// connections. Routes are guarded by `routes_mu_`; the registry by `sessions_mu_`; the
// lifecycle fields are touched only by the owner thread (Start/Stop) and, for the
// acceptor, by the accept handler, which never runs concurrently with Start/Stop's use.
class Server::Impl {
 public:
  explicit Impl(Options options);

  ~Impl() { Stop(); }

  // Every route is kept as an AsyncHandler; a plain Handler replies at once.
  static std::shared_ptr<const AsyncHandler> Wrap(Handler handler) {
    return std::make_shared<const AsyncHandler>(
        [handler = std::move(handler)](const Request& req, Reply reply) { reply(handler(req)); });
  }

  void Handle(std::string path, Handler handler) {
    HandleAsync(std::move(path), *Wrap(std::move(handler)));
  }

  void HandleAsync(std::string path, AsyncHandler handler) {
    absl::MutexLock lock(&routes_mu_);
    exact_[std::move(path)] = std::make_shared<const AsyncHandler>(std::move(handler));
  }

  void HandlePrefix(std::string prefix, Handler handler) {
    auto wrapped = Wrap(std::move(handler));
    absl::MutexLock lock(&routes_mu_);
    prefix_[std::move(prefix)] = std::move(wrapped);
  }

  void SetNotFound(Handler handler) {
    auto wrapped = Wrap(std::move(handler));
    absl::MutexLock lock(&routes_mu_);
    not_found_ = std::move(wrapped);
  }

  std::shared_ptr<const AsyncHandler> Lookup(const std::string& path) const {
    absl::ReaderMutexLock lock(&routes_mu_);
    if (auto it = exact_.find(path); it != exact_.end()) return it->second;
    // std::map is sorted, so walking backwards from upper_bound meets longer matching
    // prefixes of `path` before shorter ones.
    for (auto it = prefix_.upper_bound(path); it != prefix_.begin();) {
      --it;
      if (absl::StartsWith(path, it->first)) return it->second;
    }
    return not_found_;
  }

  absl::Status Start();
  void Stop();

  void Register(uint64_t id, std::weak_ptr<Session> session) {
    absl::MutexLock lock(&sessions_mu_);
    sessions_.emplace(id, std::move(session));
  }

  void Unregister(uint64_t id) {
    absl::MutexLock lock(&sessions_mu_);
    sessions_.erase(id);
  }

  const Options& options() const { return options_; }
  // Set by Stop(); completion handlers that see it close their connection and return.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  int port() const { return bound_port_; }
  const std::string& address() const { return bound_address_; }
  const std::shared_ptr<ReplyGate>& reply_gate() const { return reply_gate_; }
  // Set by Start() when Options::tls is; then every connection is TLS.
  ssl::context* tls_context() const { return tls_context_.get(); }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const Options options_;

  mutable absl::Mutex routes_mu_;
  std::map<std::string, std::shared_ptr<const AsyncHandler>> exact_ ABSL_GUARDED_BY(routes_mu_);
  std::map<std::string, std::shared_ptr<const AsyncHandler>> prefix_ ABSL_GUARDED_BY(routes_mu_);
  std::shared_ptr<const AsyncHandler> not_found_ ABSL_GUARDED_BY(routes_mu_);
  std::shared_ptr<ReplyGate> reply_gate_ = std::make_shared<ReplyGate>();

  // Declared before ioc_: sessions still referenced by queued handlers are destroyed
  // with ioc_ and unregister themselves.
  absl::Mutex sessions_mu_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Session>> sessions_
      ABSL_GUARDED_BY(sessions_mu_);

  std::unique_ptr<ssl::context> tls_context_;  // Outlives the sessions (declared before ioc_).
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_timer_;
  uint64_t next_session_id_ = 0;  // Accept handler only.
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  int bound_port_ = 0;
  std::string bound_address_;
};

}  // namespace nsq::http
