#include "common/metrics/metrics.h"

#include <utility>

#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace nsq::metrics {
namespace {

void Append(const prometheus::Collectable& collectable,
            std::vector<prometheus::MetricFamily>* families) {
  std::vector<prometheus::MetricFamily> collected = collectable.Collect();
  families->insert(families->end(), std::make_move_iterator(collected.begin()),
                   std::make_move_iterator(collected.end()));
}

}  // namespace

std::string SerializeText(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : collectables) {
    if (collectable) Append(*collectable, &families);
  }
  return prometheus::TextSerializer().Serialize(families);
}

std::string SerializeText(
    const std::vector<std::weak_ptr<prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& weak : collectables) {
    if (auto collectable = weak.lock()) Append(*collectable, &families);
  }
  return prometheus::TextSerializer().Serialize(families);
}

void RegisterMetricsEndpoint(
    http::Server* server, std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  server->Handle("/metrics", [collectables = std::move(collectables)](const http::Request& req) {
    http::Response resp;
    if (req.method != "GET" && req.method != "HEAD") {
      resp.status = 405;
      resp.headers = {{"Allow", "GET, HEAD"}};
      resp.body = "METHOD_NOT_ALLOWED";
      return resp;
    }
    resp.content_type = kTextContentType;
    resp.body = SerializeText(collectables);
    return resp;
  });
}

}  // namespace nsq::metrics
