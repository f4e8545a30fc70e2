#pragma once

#include <vector>

#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "services/broker/core/engine.h"
#include "storage/rocksdb_storage.h"

namespace nsq::broker {

// The broker's Prometheus metrics, all declared here. They are read from the engine's
// own counters at scrape time, so the data path pays nothing for them.
class BrokerMetrics final : public prometheus::Collectable {
 public:
  // `storage` may be null (no storage counters then).
  BrokerMetrics(const Engine* engine, absl::Time start_time,
                const storage::RocksStorage* storage = nullptr);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Engine* const engine_;
  const absl::Time start_time_;
  const storage::RocksStorage* const storage_;
};

}  // namespace nsq::broker
