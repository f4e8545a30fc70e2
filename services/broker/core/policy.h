#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace nsq::broker {

// What a channel does when a publish would take it past max_depth.
enum class DepthPolicy : uint8_t {
  kRejectNew = 0,   // the publish fails (RESOURCE_EXHAUSTED; E_PUB_FAILED / HTTP 503)
  kDropOldest = 1,  // the oldest ready messages are dropped (counted)
};

// Beyond NSQ: a channel's limits (a topic's is the default its new channels take). All
// off by default, so NSQ clients see nsqd's behaviour unless an operator sets one.
struct QueuePolicy {
  // A message delivered this many times without FIN is not delivered again: it goes to
  // dead_letter_topic, or is dropped (counted) when there is none. 0 = unlimited.
  int32_t max_attempts = 0;
  std::string dead_letter_topic;
  // A message older than this (from its publish time) is not delivered: it is counted as
  // expired and dropped, or dead-lettered when dead_letter_expired. 0 = never.
  absl::Duration message_ttl = absl::ZeroDuration();
  bool dead_letter_expired = false;
  // Most ready messages (memory and disk; in-flight and deferred ones not counted).
  // 0 = unbounded.
  int64_t max_depth = 0;
  DepthPolicy depth_policy = DepthPolicy::kRejectNew;

  bool active() const {
    return max_attempts > 0 || message_ttl > absl::ZeroDuration() || max_depth > 0;
  }
  friend bool operator==(const QueuePolicy& a, const QueuePolicy& b) {
    return a.max_attempts == b.max_attempts && a.dead_letter_topic == b.dead_letter_topic &&
           a.message_ttl == b.message_ttl && a.dead_letter_expired == b.dead_letter_expired &&
           a.max_depth == b.max_depth && a.depth_policy == b.depth_policy;
  }
};

// INVALID_ARGUMENT (E_INVALID wording) for negative limits, a bad dead-letter topic name,
// a dead-letter topic equal to `topic`, or dead_letter_expired without a topic.
absl::Status ValidatePolicy(const QueuePolicy& policy, std::string_view topic);

}  // namespace nsq::broker
