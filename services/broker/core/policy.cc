#include "services/broker/core/policy.h"

#include "absl/strings/str_cat.h"
#include "common/names/names.h"

namespace nsq::broker {

absl::Status ValidatePolicy(const QueuePolicy& p, std::string_view topic) {
  auto invalid = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("E_INVALID ", why));
  };
  if (p.max_attempts < 0) return invalid("max_attempts must be >= 0");
  if (p.max_attempts > 65535) return invalid("max_attempts must be <= 65535");
  if (p.message_ttl < absl::ZeroDuration()) return invalid("message_ttl must be >= 0");
  if (p.max_depth < 0) return invalid("max_depth must be >= 0");
  if (p.depth_policy != DepthPolicy::kRejectNew && p.depth_policy != DepthPolicy::kDropOldest) {
    return invalid("depth_policy must be reject_new or drop_oldest");
  }
  if (!p.dead_letter_topic.empty()) {
    if (!names::IsValidName(p.dead_letter_topic)) {
      return invalid(absl::StrCat("dead_letter_topic \"", p.dead_letter_topic, "\" is not a valid topic name"));
    }
    if (p.dead_letter_topic == std::string(topic)) return invalid("dead_letter_topic must not be the topic itself");
  } else if (p.dead_letter_expired) {
    return invalid("dead_letter_expired needs a dead_letter_topic");
  }
  return absl::OkStatus();
}

}  // namespace nsq::broker
