#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"

namespace nsq::broker {

// End-to-end processing latency (publish timestamp to FIN, on the engine clock), as nsqd
// records it per channel at FIN. Two views:
//  - a cumulative fixed-bucket histogram since the channel was created, for Prometheus;
//  - with --e2e-processing-latency-percentile, percentiles over a sliding window
//    (--e2e-processing-latency-window-time). nsqd keeps two biased-quantile streams of
//    window/2 each; here the window is a ring of kE2eWindowSlots log-linear histograms of
//    window/kE2eWindowSlots each, so a query covers between (kSlots-1)/kSlots of the
//    window and the whole window (nsqd: between 1/2 and all of it). Values are exact to
//    within a bucket (1/8 of a power of two, i.e. <= 6.25% from the bucket's middle), and
//    clamped to the window's exact minimum and maximum, so quantile 1.0 is the exact max.
// Recording allocates nothing; none of these classes lock (the channel's lock guards them).

// Upper bounds (seconds) of the Prometheus buckets; one more bucket is +Inf.
inline constexpr std::array<double, 14> kE2eBucketBoundsSeconds = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};
inline constexpr int kE2eWindowSlots = 6;

// A log-linear histogram of nanosecond values: 8 buckets per power of two from 1 us to
// about 2.4 hours, one below, one above; plus the exact count, min and max.
class LatencyHistogram {
 public:
  static constexpr int kMinExp = 10;  // 1024 ns
  static constexpr int kMaxExp = 43;  // 2^43 ns ~ 2.4 h
  static constexpr int kSubBits = 3;
  static constexpr int kBuckets = 2 + (kMaxExp - kMinExp) * (1 << kSubBits);

  void Add(int64_t ns);
  void Merge(const LatencyHistogram& other);
  void Reset();
  uint64_t count() const { return count_; }
  // The value below which a fraction q (0, 1] of the values lie (nsqd: rank q*count); 0
  // when empty.
  double Quantile(double q) const;

  static int BucketOf(int64_t ns);
  // The bucket's [lower, upper) bounds in ns.
  static int64_t BucketLower(int index);
  static int64_t BucketUpper(int index);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

struct E2ePercentile {
  double quantile = 0;
  double value_ns = 0;
};

// What stats report (ChannelStats::e2e, TopicStats::e2e).
struct E2eLatencyStats {
  // The cumulative histogram (channels only; empty when not recorded): counts per bucket of
  // kE2eBucketBoundsSeconds plus +Inf, not cumulative; their total and sum.
  std::vector<uint64_t> buckets;
  uint64_t count = 0;
  double sum_seconds = 0;
  // With percentiles configured: nsqd's {"count":N,"percentiles":[...]} over the window.
  bool has_percentiles = false;
  uint64_t window_count = 0;
  std::vector<E2ePercentile> percentiles;
  // The window's histogram, for a topic to merge its channels (as nsqd does); null when
  // percentiles are not configured.
  std::shared_ptr<const LatencyHistogram> window;
};

// Percentiles of `h` as nsqd's quantile.Result lists them, in the order given.
std::vector<E2ePercentile> E2ePercentiles(const LatencyHistogram& h, const std::vector<double>& quantiles);

// One channel's recorder. Not thread-safe: its owner's lock guards it.
class E2eLatencyRecorder {
 public:
  // `percentiles` empty: the Prometheus histogram only, no window.
  E2eLatencyRecorder(std::vector<double> percentiles, absl::Duration window);

  void Record(int64_t now_ns, int64_t published_ns);
  E2eLatencyStats Stats(int64_t now_ns) const;

 private:
  struct Slot {
    int64_t epoch = -1;
    LatencyHistogram h;
  };
  const std::vector<double> percentiles_;
  const int64_t slot_ns_;
  std::array<uint64_t, kE2eBucketBoundsSeconds.size() + 1> buckets_{};
  std::array<int64_t, kE2eBucketBoundsSeconds.size()> bounds_ns_{};
  uint64_t count_ = 0;
  double sum_seconds_ = 0;
  std::unique_ptr<std::array<Slot, kE2eWindowSlots>> slots_;  // with percentiles only
};

}  // namespace nsq::broker
