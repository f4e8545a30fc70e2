#include "services/broker/legacy/http_v1.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "common/json/go_json.h"
#include "common/names/names.h"

namespace nsq::legacy {
namespace {

constexpr char kV1Header[] = "X-NSQ-Content-Type";
constexpr char kV1Value[] = "nsq; version=1.0";

}  // namespace

http::Response V1(int status, std::string body, std::string content_type) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  r.headers.emplace_back(kV1Header, kV1Value);
  return r;
}

http::Response V1Text(std::string body) { return V1(200, std::move(body), kTextContentType); }

http::Response V1Empty() { return V1(200, "", ""); }

http::Response V1Json(std::string json) { return V1(200, std::move(json), kJsonContentType); }

http::Response V1Error(int status, std::string_view message) {
  json::GoJsonWriter w;
  w.BeginObject().Key("message").String(absl::string_view(message.data(), message.size()));
  w.EndObject();
  return V1(status, w.Release(), kJsonContentType);
}

std::optional<std::string> Param(const http::Request& req, std::string_view name) {
  return req.QueryValue(name);
}

std::optional<bool> ParseGoBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseGoInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view digits = s;
  if (digits[0] == '+' || digits[0] == '-') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(std::string(s[0] == '+' ? s.substr(1) : s), &v)) return std::nullopt;
  return v;
}

std::optional<http::Response> TopicFromQuery(broker::Engine* engine, const http::Request& req,
                                             std::string* topic, bool create) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t)) return V1Error(400, "INVALID_TOPIC");
  *topic = *t;
  if (create) {
    absl::Status st = engine->CreateTopic(*t);
    if (!st.ok()) return V1Error(503, "EXITING");
  }
  return std::nullopt;
}

}  // namespace nsq::legacy
