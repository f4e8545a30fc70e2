#pragma once

// The lookupd TCP port (protocol V1, default 4160) on Boost.Asio: one I/O thread, one
// LookupdV1Session per connection. Asio stays in the .cc.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "services/discovery/lookupd_v1.h"
#include "services/discovery/registry.h"

namespace nsq::discovery {

// Thread-compatible lifecycle (Start/Stop from the owner thread).
class LookupdTcpServer {
 public:
  // `registry` and `info` must outlive the server; `info` is read by sessions, so fill
  // its ports before the first connection (see port()).
  LookupdTcpServer(Registry* registry, const LookupdInfo* info, std::string address);
  ~LookupdTcpServer();  // Stops.
  LookupdTcpServer(const LookupdTcpServer&) = delete;
  LookupdTcpServer& operator=(const LookupdTcpServer&) = delete;

  // Binds and listens. InvalidArgument for a malformed address, Unavailable when it
  // cannot be bound.
  absl::Status Start();
  // Bound port after Start, else 0.
  int port() const;
  // Closes the listener and every connection (their peers leave the registry) and joins
  // the I/O thread. Idempotent.
  void Stop();
  // Open connections.
  int64_t connection_count() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsq::discovery
