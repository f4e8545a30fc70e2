#include "services/discovery/discovery_metrics.h"

#include <string>

#include "prometheus/client_metric.h"

namespace nsq::discovery {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

double Call(const std::function<int64_t()>& f) { return f ? static_cast<double>(f()) : 0; }

}  // namespace

std::vector<prometheus::MetricFamily> DiscoveryMetrics::Collect() const {
  const Registry::Counts counts = sources_.registry->GetCounts();
  const auto nodes = sources_.registry->Nodes();
  return {
      Gauge("nsq_discovery_start_time_seconds", "Start time of the discovery service, Unix seconds",
            absl::ToDoubleSeconds(sources_.start_time - absl::UnixEpoch())),
      Gauge("nsq_discovery_peers", "Identified brokers (connections or sessions), active or not",
            static_cast<double>(counts.peers)),
      Gauge("nsq_discovery_active_producers", "Brokers heard from within the inactive timeout",
            static_cast<double>(nodes.size())),
      Gauge("nsq_discovery_topics", "Registered topics", static_cast<double>(counts.topics)),
      Gauge("nsq_discovery_channels", "Registered channels", static_cast<double>(counts.channels)),
      Gauge("nsq_discovery_lookupd_tcp_connections", "Open lookupd protocol V1 connections",
            Call(sources_.tcp_connections)),
      Gauge("nsq_discovery_grpc_sessions", "Open Register streams", Call(sources_.grpc_sessions)),
      Gauge("nsq_discovery_watchers", "Open Watch streams", Call(sources_.watchers)),
  };
}

}  // namespace nsq::discovery
