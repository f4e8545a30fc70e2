#include "services/broker/legacy/policy_json.h"

#include <cstdint>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace nsq::legacy {
namespace {

// Debian's abseil has its own string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("E_INVALID ", Sv(why)));
}

void WriteOriginObject(json::GoJsonWriter& w, const broker::MessageOrigin& o) {
  w.BeginObject();
  w.Key("topic").String(o.topic);
  w.Key("channel").String(o.channel);
  w.Key("id").String(Sv(o.id.view()));
  w.Key("attempts").Int(o.attempts);
  w.Key("reason").String(Sv(OriginReasonName(o.reason)));
  w.EndObject();
}

std::string_view StateName(broker::PeekedMessage::State s) {
  switch (s) {
    case broker::PeekedMessage::State::kInFlight: return "in_flight";
    case broker::PeekedMessage::State::kReady: return "ready";
    case broker::PeekedMessage::State::kDeferred: return "deferred";
  }
  return "ready";
}

}  // namespace

void WritePolicy(json::GoJsonWriter& w, const broker::QueuePolicy& p) {
  w.BeginObject();
  w.Key("max_attempts").Int(p.max_attempts);
  w.Key("dead_letter_topic").String(p.dead_letter_topic);
  w.Key("message_ttl_ms").Int(absl::ToInt64Milliseconds(p.message_ttl));
  w.Key("dead_letter_expired").Bool(p.dead_letter_expired);
  w.Key("max_depth").Int(p.max_depth);
  w.Key("depth_policy").String(p.depth_policy == broker::DepthPolicy::kDropOldest ? "drop_oldest"
                                                                                 : "reject_new");
  w.EndObject();
}

std::string PolicyJson(const broker::QueuePolicy& policy) {
  json::GoJsonWriter w;
  WritePolicy(w, policy);
  return w.Release();
}

absl::StatusOr<broker::QueuePolicy> ParsePolicyJson(std::string_view body) {
  using nlohmann::json;
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Invalid("policy body must be a JSON object");
  }
  auto get_int = [](const json& v, const char* key, int64_t min, int64_t max,
                    int64_t* out) -> absl::Status {
    if (!v.is_number_integer()) return Invalid(absl::StrCat(key, " must be an integer"));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
      return Invalid(absl::StrCat(key, " must be <= ", max));
    }
    const int64_t x = v.get<int64_t>();
    if (x < min) return Invalid(absl::StrCat(key, " must be >= ", min));
    if (x > max) return Invalid(absl::StrCat(key, " must be <= ", max));
    *out = x;
    return absl::OkStatus();
  };
  // Negative values pass here so that ValidatePolicy gives its own message.
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  broker::QueuePolicy p;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    int64_t n = 0;
    if (key == "max_attempts") {
      if (absl::Status st = get_int(v, "max_attempts", std::numeric_limits<int32_t>::min(),
                                    std::numeric_limits<int32_t>::max(), &n);
          !st.ok()) {
        return st;
      }
      p.max_attempts = static_cast<int32_t>(n);
    } else if (key == "dead_letter_topic") {
      if (!v.is_string()) return Invalid("dead_letter_topic must be a string");
      p.dead_letter_topic = v.get<std::string>();
    } else if (key == "message_ttl_ms") {
      // Bounded so that the duration cannot overflow.
      if (absl::Status st = get_int(v, "message_ttl_ms", kMin, kMax / 1000000, &n); !st.ok()) return st;
      p.message_ttl = absl::Milliseconds(n);
    } else if (key == "dead_letter_expired") {
      if (!v.is_boolean()) return Invalid("dead_letter_expired must be true or false");
      p.dead_letter_expired = v.get<bool>();
    } else if (key == "max_depth") {
      if (absl::Status st = get_int(v, "max_depth", kMin, kMax, &n); !st.ok()) return st;
      p.max_depth = n;
    } else if (key == "depth_policy") {
      const std::string s = v.is_string() ? v.get<std::string>() : "";
      if (s == "reject_new") {
        p.depth_policy = broker::DepthPolicy::kRejectNew;
      } else if (s == "drop_oldest") {
        p.depth_policy = broker::DepthPolicy::kDropOldest;
      } else {
        return Invalid("depth_policy must be reject_new or drop_oldest");
      }
    } else {
      return Invalid(absl::StrCat("unknown policy key \"", key, "\""));
    }
  }
  return p;
}

std::string_view OriginReasonName(broker::MessageOrigin::Reason reason) {
  return reason == broker::MessageOrigin::Reason::kExpired ? "expired" : "max_attempts";
}

std::string OriginJson(const broker::MessageOrigin& origin) {
  json::GoJsonWriter w;
  WriteOriginObject(w, origin);
  return w.Release();
}

std::string PeekJson(const std::vector<broker::PeekedMessage>& messages, size_t max_body_bytes) {
  json::GoJsonWriter w;
  w.BeginObject();
  w.Key("messages").BeginArray();
  size_t body_bytes = 0;
  bool truncated = false;
  for (const broker::PeekedMessage& p : messages) {
    const broker::Message& m = *p.message;
    if (body_bytes > 0 && body_bytes + m.body.size() > max_body_bytes) {
      truncated = true;
      break;
    }
    body_bytes += m.body.size();
    w.BeginObject();
    w.Key("state").String(Sv(StateName(p.state)));
    w.Key("id").String(Sv(m.id.view()));
    w.Key("attempts").Int(p.attempts);
    w.Key("timestamp").Int(m.timestamp_ns);
    if (IsValidUtf8(m.body)) {
      w.Key("body").String(m.body);
    } else {
      w.Key("body").String(absl::Base64Escape(m.body));
      w.Key("encoding").String("base64");
    }
    if (p.state == broker::PeekedMessage::State::kDeferred) w.Key("due_ns").Int(p.due_ns);
    if (p.state == broker::PeekedMessage::State::kInFlight) {
      w.Key("deadline_ns").Int(p.deadline_ns);
      w.Key("client_id").String(p.consumer);
    }
    if (m.origin) {
      w.Key("origin");
      WriteOriginObject(w, *m.origin);
    }
    w.EndObject();
  }
  w.EndArray();
  if (truncated) w.Key("truncated").Bool(true);
  w.EndObject();
  return w.Release();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace nsq::legacy
