#pragma once

// nsqadmin's HTTP surface under --base-path: the JSON API (/api/*), /config/:opt, /ping,
// /metrics, the static UI and its page URLs. Reads come from the cluster's latest
// snapshot; actions fan out to the brokers (and discovery), then refresh the snapshot so
// that the answer and the next read show the change. Thread-safe: handlers run on the HTTP
// server's threads.

#include <memory>
#include <string>

#include "common/http/server.h"
#include "services/admin/acl.h"
#include "services/admin/admin_metrics.h"
#include "services/admin/admin_options.h"
#include "services/admin/cluster.h"
#include "services/admin/history.h"
#include "services/admin/notify.h"

namespace nsq::admin {

struct ApiDeps {
  const AdminOptions* options = nullptr;
  Cluster* cluster = nullptr;
  const History* history = nullptr;
  Notifier* notifier = nullptr;
  AdminMetrics* metrics = nullptr;
  std::string hostname;  // "via" of notifications
};

class AdminApi {
 public:
  explicit AdminApi(ApiDeps deps);
  // Routes everything under the base path (and the base path without its slash) to Handle.
  void Register(http::Server* server);
  http::Response Handle(const http::Request& request);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nsq::admin
