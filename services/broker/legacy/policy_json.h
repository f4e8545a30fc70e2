#pragma once

// Beyond NSQ: a channel's QueuePolicy, a dead-letter copy's MessageOrigin and Peek's
// messages as JSON, shared by the HTTP API (/channel/policy, /topic/policy,
// /channel/peek), /stats and the V2 `NSQ-Origin:` line. No I/O.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json/go_json.h"
#include "services/broker/core/engine.h"

namespace nsq::legacy {

inline constexpr size_t kMaxPeekBodyBytes = 8 << 20;

// {"max_attempts":N,"dead_letter_topic":"x","message_ttl_ms":N,"dead_letter_expired":b,
//  "max_depth":N,"depth_policy":"reject_new"|"drop_oldest"}
void WritePolicy(json::GoJsonWriter& w, const broker::QueuePolicy& policy);
std::string PolicyJson(const broker::QueuePolicy& policy);

// The body of POST /channel/policy and /topic/policy: an object with any of the keys
// above (a missing one is off / its default), nothing else. INVALID_ARGUMENT with an
// "E_INVALID ..." message for anything else; the limits are checked by ValidatePolicy.
absl::StatusOr<broker::QueuePolicy> ParsePolicyJson(std::string_view body);

// "max_attempts" or "expired".
std::string_view OriginReasonName(broker::MessageOrigin::Reason reason);
// {"topic":"t","channel":"c","id":"<16 chars>","attempts":N,"reason":"max_attempts"}
std::string OriginJson(const broker::MessageOrigin& origin);

// {"messages":[{"state":"in_flight"|"ready"|"deferred","id":..,"attempts":N,
//   "timestamp":ns,"body":"<utf-8 text>" (or base64 with "encoding":"base64"),
//   "due_ns" (deferred), "deadline_ns" and "client_id" (in flight), "origin" (dead-letter
//   copies)}]}. Bodies past `max_body_bytes` in total (the first one always goes in) are
// left out, and then the answer ends with "truncated":true, so a peek at big messages
// stays bounded.
std::string PeekJson(const std::vector<broker::PeekedMessage>& messages,
                     size_t max_body_bytes = kMaxPeekBodyBytes);

bool IsValidUtf8(std::string_view s);

}  // namespace nsq::legacy
