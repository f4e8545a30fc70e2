#include "services/broker/legacy/http_stats.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/broker/legacy/http_v1.h"
#include "services/broker/legacy/stats_render.h"

namespace nsq::legacy {

http::Response HandleStats(broker::Engine* engine, const V2Server* v2, absl::Time start_time,
                           const http::Request& req) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  const std::string format = Param(req, "format").value_or("");
  const std::string topic = Param(req, "topic").value_or("");
  const std::string channel = Param(req, "channel").value_or("");
  auto flag = [&](const char* name) {
    const std::string v = Param(req, name).value_or("");
    if (v == "false" || v == "0") return false;
    return true;  // "true", "1" and anything else
  };
  StatsPage page;
  page.start_time = start_time;
  page.topic_filter = topic;
  page.include_clients = flag("include_clients");
  page.include_mem = flag("include_mem");

  broker::StatsFilter filter;
  filter.topic = topic;
  filter.include_consumers = page.include_clients;
  absl::StatusOr<std::vector<broker::TopicStats>> got = engine->GetStats(filter);
  page.found = got.ok();
  if (page.found) page.topics = *std::move(got);
  std::vector<broker::TopicStats>& topics = page.topics;
  std::sort(topics.begin(), topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (broker::TopicStats& t : topics) {
    if (!channel.empty()) {
      t.channels.erase(std::remove_if(t.channels.begin(), t.channels.end(),
                                      [&](const auto& c) { return c.name != channel; }),
                       t.channels.end());
    }
    std::sort(t.channels.begin(), t.channels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  if (!channel.empty()) {
    // nsqd skips topics without that channel.
    topics.erase(std::remove_if(topics.begin(), topics.end(),
                                [](const auto& t) { return t.channels.empty(); }),
                 topics.end());
  }
  if (v2 != nullptr && page.include_clients && page.found) {
    for (V2ClientInfo& c : v2->Clients()) {
      if (!c.pub_counts.empty()) {
        if (topic.empty() || std::any_of(c.pub_counts.begin(), c.pub_counts.end(),
                                         [&](const auto& p) { return p.first == topic; })) {
          page.producers.push_back(c);
        }
      }
      page.v2_by_address[c.remote_address] = std::move(c);
    }
    std::sort(page.producers.begin(), page.producers.end(),
              [](const auto& a, const auto& b) { return a.connect_time < b.connect_time; });
  }
  const absl::Status health = engine->Health();
  page.health = health.ok() ? "OK" : absl::StrCat("NOK - ", std::string(health.message()));

  if (format != "json") return V1(200, StatsText(page, absl::Now()), kTextContentType);
  return V1Json(StatsJson(page));
}

}  // namespace nsq::legacy
