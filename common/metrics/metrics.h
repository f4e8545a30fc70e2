#pragma once

// Prometheus text exposition for prometheus-cpp collectables (Registry and friends),
// and the GET /metrics endpoint on a common/http server.

#include <memory>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "prometheus/collectable.h"

namespace nsq::metrics {

// Content type of the Prometheus text format, version 0.0.4.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Collects every collectable, in order, and renders all metric families in the
// Prometheus text format. Thread-safe as far as the collectables are (Registry is).
std::string SerializeText(const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables);
// Same, skipping collectables that no longer exist.
std::string SerializeText(const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables);

// Serves GET (and HEAD) /metrics on `server` with kTextContentType; other methods get
// 405. The server keeps the collectables alive. May be called before or after Start().
void RegisterMetricsEndpoint(http::Server* server,
                             std::vector<std::shared_ptr<prometheus::Collectable>> collectables);

}  // namespace nsq::metrics
