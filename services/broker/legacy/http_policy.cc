#include "services/broker/legacy/http_policy.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/names/names.h"
#include "services/broker/legacy/http_v1.h"
#include "services/broker/legacy/policy_json.h"

namespace nsq::legacy {
namespace {

constexpr int64_t kDefaultPeek = 10;
constexpr int64_t kMaxPeek = 1000;  // as gRPC Peek

// The topic (and channel, when `channel` is set) named by the query, with nsqd's
// /channel/* argument codes.
std::optional<http::Response> Names(const http::Request& req, std::string* topic, std::string* channel) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t)) return V1Error(400, "INVALID_ARG_TOPIC");
  *topic = *t;
  if (channel == nullptr) return std::nullopt;
  std::optional<std::string> c = Param(req, "channel");
  if (!c) return V1Error(400, "MISSING_ARG_CHANNEL");
  if (!names::IsValidName(*c)) return V1Error(400, "INVALID_ARG_CHANNEL");
  *channel = *c;
  return std::nullopt;
}

http::Response FromStatus(const absl::Status& st) {
  if (absl::IsInvalidArgument(st)) return V1Error(400, std::string(st.message()));
  if (absl::IsNotFound(st)) {
    return V1Error(404, st.message() == "CHANNEL_NOT_FOUND" ? "CHANNEL_NOT_FOUND" : "TOPIC_NOT_FOUND");
  }
  return V1Error(500, "INTERNAL_ERROR");
}

}  // namespace

http::Response HandleChannelPolicy(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = Names(req, &topic, &channel)) return *err;
  if (req.method == "POST") {
    absl::StatusOr<broker::QueuePolicy> policy = ParsePolicyJson(req.body);
    if (!policy.ok()) return FromStatus(policy.status());
    absl::Status st = engine->SetChannelPolicy(topic, channel, *policy);
    if (!st.ok()) return FromStatus(st);
    return V1Json(PolicyJson(*policy));
  }
  broker::StatsFilter filter{topic, channel, /*include_consumers=*/false};
  absl::StatusOr<std::vector<broker::TopicStats>> stats = engine->GetStats(filter);
  if (!stats.ok()) return FromStatus(stats.status());
  if (stats->empty() || stats->front().channels.empty()) return V1Error(404, "CHANNEL_NOT_FOUND");
  return V1Json(PolicyJson(stats->front().channels.front().policy));
}

http::Response HandleTopicPolicy(broker::Engine* engine, const http::Request& req) {
  std::string topic;
  if (auto err = Names(req, &topic, nullptr)) return *err;
  if (req.method == "POST") {
    absl::StatusOr<broker::QueuePolicy> policy = ParsePolicyJson(req.body);
    if (!policy.ok()) return FromStatus(policy.status());
    absl::Status st = engine->SetTopicPolicy(topic, *policy);
    if (!st.ok()) return FromStatus(st);
    return V1Json(PolicyJson(*policy));
  }
  absl::StatusOr<broker::QueuePolicy> policy = engine->GetTopicPolicy(topic);
  if (!policy.ok()) return FromStatus(policy.status());
  return V1Json(PolicyJson(*policy));
}

http::Response HandleChannelPeek(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = Names(req, &topic, &channel)) return *err;
  int64_t limit = kDefaultPeek;
  if (std::optional<std::string> l = Param(req, "limit")) {
    std::optional<int64_t> n = ParseGoInt(*l);
    if (!n || *n < 1 || *n > kMaxPeek) {
      return V1Error(400, absl::StrCat("E_INVALID limit must be within 1-", kMaxPeek));
    }
    limit = *n;
  }
  absl::StatusOr<std::vector<broker::PeekedMessage>> peeked =
      engine->Peek(topic, channel, static_cast<size_t>(limit));
  if (!peeked.ok()) return FromStatus(peeked.status());
  return V1Json(PeekJson(*peeked));
}

}  // namespace nsq::legacy
