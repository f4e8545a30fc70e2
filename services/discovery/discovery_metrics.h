#pragma once

#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "services/discovery/registry.h"

namespace nsq::discovery {

// Gauges of the discovery service, all declared here, read at scrape time.
class DiscoveryMetrics final : public prometheus::Collectable {
 public:
  struct Sources {
    const Registry* registry = nullptr;
    absl::Time start_time;
    std::function<int64_t()> tcp_connections;  // lookupd V1 connections
    std::function<int64_t()> grpc_sessions;    // Register streams
    std::function<int64_t()> watchers;         // Watch streams
  };
  explicit DiscoveryMetrics(Sources sources) : sources_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Sources sources_;
};

}  // namespace nsq::discovery
