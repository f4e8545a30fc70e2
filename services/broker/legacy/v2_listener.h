#pragma once

// The V2 listener behind V2Server: private to the legacy gateway. It owns the I/O
// threads (one io_context each), the accept loop, the TLS context and the registry of
// open connections; each Connection (v2_connection.h) runs on one io_context.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/broker/core/engine.h"
#include "services/broker/legacy/v2_server.h"

namespace nsq::legacy {

class Connection;

// Lets a thread that is not an I/O thread (the storage's commit thread answering a
// PUB's durability) post to a connection's io_context only while the io_contexts exist:
// Stop closes it before they go. Post under `mu` so Stop cannot slip in between.
struct PostGate {
  absl::Mutex mu;
  bool open ABSL_GUARDED_BY(mu) = true;
};

// Start/Stop from the owner; Clients() and Unregister() from any thread; the accept
// handler on the first io_context.
class V2Server::Impl {
 public:
  Impl(broker::Engine* engine, V2ServerOptions options)
      : engine_(engine), options_(std::move(options)) {}

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  std::vector<V2ClientInfo> Clients() const;

  // A connection leaves the registry when it closes.
  void Unregister(uint64_t id) {
    absl::MutexLock lock(&mu_);
    connections_.erase(id);
  }

  broker::Engine* engine() const { return engine_; }
  const V2ServerOptions& options() const { return options_; }
  boost::asio::ssl::context* tls_context() const { return tls_.get(); }
  boost::asio::thread_pool& auth_pool() { return auth_pool_; }
  const std::shared_ptr<PostGate>& post_gate() const { return post_gate_; }

 private:
  void Accept();

  broker::Engine* const engine_;
  const V2ServerOptions options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // outlives the connections' streams
  std::vector<std::unique_ptr<boost::asio::io_context>> ios_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  boost::asio::thread_pool auth_pool_{1};
  std::shared_ptr<PostGate> post_gate_ = std::make_shared<PostGate>();
  size_t next_io_ = 0;  // accept handler only
  int port_ = 0;
  bool started_ = false;
  bool stopped_ = false;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsq::legacy
