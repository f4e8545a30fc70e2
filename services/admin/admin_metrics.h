#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace nsq::admin {

class Cluster;
class History;
class Notifier;

// The admin's own metrics, all declared here: its polls, upstream errors, actions,
// notifications and history size. Counters of actions are kept here; the rest is read
// from its sources at scrape time. Thread-safe.
class AdminMetrics final : public prometheus::Collectable {
 public:
  AdminMetrics(const Cluster* cluster, const History* history, const Notifier* notifier)
      : cluster_(cluster), history_(history), notifier_(notifier) {}

  // `result`: "ok", "warning" (some upstreams failed), "error", "forbidden".
  void RecordAction(const std::string& action, const std::string& result) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Cluster* cluster_;
  const History* history_;
  const Notifier* notifier_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, int64_t> actions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsq::admin
