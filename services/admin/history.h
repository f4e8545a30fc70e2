#pragma once

// Recent figures per series (a topic, a channel, a node), kept in memory for rates and
// charts without Graphite. Each series is a fixed-capacity ring: one point per `step`
// over `window`, so memory is bounded by max_series * (window / step) points whatever the
// cluster does. The current rate of a series comes from its last two polls, not the ring.
//
// Thread-safe (one mutex; Record runs on the poll thread, reads on HTTP threads).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nsq::admin {

// Cumulative counters and gauges of one series at one instant.
struct Counters {
  int64_t depth = 0;        // gauge: messages waiting
  int64_t messages = 0;     // counter: messages put in
  int64_t delivered_in = 0; // counter: messages put into the channels (topic, node: sum)
  int64_t backlog = 0;      // gauge: channel depth + in flight + deferred (summed)
  int64_t requeued = 0;     // counter
  int64_t timed_out = 0;    // counter
};

struct Rates {
  double in = 0;         // messages/s put in
  double finished = 0;   // messages/s that left the channels for good
  double requeued = 0;
  double timed_out = 0;
};

// Rates between two samples `dt` apart. A counter that went down (a broker restarted or a
// channel was emptied and recreated) counts as zero, never negative. Finished is what
// entered the channels minus what the channels' backlog grew by.
Rates RatesBetween(const Counters& a, const Counters& b, absl::Duration dt);

struct HistoryPoint {
  int64_t unix_ms = 0;
  int64_t depth = 0;
  Rates rates;  // since the previous point (zero for the first)
};

class History {
 public:
  History(absl::Duration window, absl::Duration step, size_t max_series);

  // One poll's figures. Series not in `series` for longer than the window are dropped.
  void Record(absl::Time t, const std::map<std::string, Counters>& series) ABSL_LOCKS_EXCLUDED(mu_);

  std::optional<Rates> CurrentRates(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<HistoryPoint> Series(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);

  size_t series_count() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t capacity() const { return capacity_; }
  int64_t dropped_series() const ABSL_LOCKS_EXCLUDED(mu_);

  static std::string TopicKey(const std::string& topic) { return "topic:" + topic; }
  static std::string ChannelKey(const std::string& topic, const std::string& channel) {
    return "channel:" + topic + ":" + channel;
  }
  static std::string NodeKey(const std::string& node) { return "node:" + node; }

 private:
  struct Sample {
    int64_t unix_ms = 0;
    Counters c;
  };
  struct Ring {
    std::vector<Sample> buf;  // grows to capacity, then wraps
    size_t next = 0;          // where the next sample goes once full
    Sample prev, last;        // the last two polls (current rate)
    bool has_prev = false;
    int64_t last_seen_ms = 0;
  };

  const absl::Duration window_;
  const absl::Duration step_;
  const size_t capacity_;
  const size_t max_series_;
  mutable absl::Mutex mu_;
  std::map<std::string, Ring> rings_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nsq::admin
