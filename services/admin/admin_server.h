#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "services/admin/admin_options.h"

namespace nsq::http {
class Server;
}

namespace nsq::admin {

class Cluster;
class History;
class Notifier;
class AdminMetrics;
class AdminApi;

// The admin process (our nsqadmin): the poller (Cluster), the history, the notifier and the
// HTTP port. main() builds one, Start()s it, waits for SIGINT/SIGTERM and Stop()s it. Tests
// run it in-process on "127.0.0.1:0".
class AdminServer {
 public:
  explicit AdminServer(AdminOptions options);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Validates the options, starts polling and listening. On error nothing is left running.
  absl::Status Start();
  void Stop();  // Idempotent.

  int http_port() const;
  std::string http_address() const;
  Cluster* cluster() { return cluster_.get(); }

 private:
  AdminOptions options_;
  std::unique_ptr<History> history_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<AdminMetrics> metrics_;
  std::unique_ptr<AdminApi> api_;
  std::unique_ptr<http::Server> http_;
  bool started_ = false;
};

}  // namespace nsq::admin
