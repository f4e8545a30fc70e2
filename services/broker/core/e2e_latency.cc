#include "services/broker/core/e2e_latency.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nsq::broker {

int LatencyHistogram::BucketOf(int64_t ns) {
  if (ns < (int64_t{1} << kMinExp)) return 0;
  const int e = 63 - std::countl_zero(static_cast<uint64_t>(ns));
  if (e >= kMaxExp) return kBuckets - 1;
  const int sub = static_cast<int>((ns >> (e - kSubBits)) & ((1 << kSubBits) - 1));
  return 1 + (e - kMinExp) * (1 << kSubBits) + sub;
}

int64_t LatencyHistogram::BucketLower(int index) {
  if (index <= 0) return 0;
  if (index >= kBuckets - 1) return int64_t{1} << kMaxExp;
  const int e = kMinExp + (index - 1) / (1 << kSubBits);
  const int sub = (index - 1) % (1 << kSubBits);
  return static_cast<int64_t>((1 << kSubBits) + sub) << (e - kSubBits);
}

int64_t LatencyHistogram::BucketUpper(int index) {
  if (index >= kBuckets - 1) return INT64_MAX;
  return BucketLower(index + 1);
}

void LatencyHistogram::Add(int64_t ns) {
  if (ns < 0) ns = 0;
  ++counts_[BucketOf(ns)];
  if (count_ == 0 || ns < min_) min_ = ns;
  if (count_ == 0 || ns > max_) max_ = ns;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  if (count_ == 0 || other.max_ > max_) max_ = other.max_;
  count_ += other.count_;
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

double LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))), 1, count_);
  if (rank == count_) return static_cast<double>(max_);
  uint64_t seen = 0;
  int i = 0;
  for (; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) break;
  }
  // The middle of the bucket's part that holds values: within [min, max].
  const int64_t lo = std::max(BucketLower(i), min_);
  const int64_t hi = std::min(BucketUpper(i) - 1, max_);
  return static_cast<double>(lo + (hi - lo) / 2);
}

std::vector<E2ePercentile> E2ePercentiles(const LatencyHistogram& h, const std::vector<double>& quantiles) {
  std::vector<E2ePercentile> out;
  out.reserve(quantiles.size());
  for (double q : quantiles) out.push_back({q, h.Quantile(q)});
  return out;
}

E2eLatencyRecorder::E2eLatencyRecorder(std::vector<double> percentiles, absl::Duration window)
    : percentiles_(std::move(percentiles)),
      slot_ns_(std::max<int64_t>(1, absl::ToInt64Nanoseconds(window) / kE2eWindowSlots)) {
  for (size_t i = 0; i < bounds_ns_.size(); ++i) {
    bounds_ns_[i] = static_cast<int64_t>(std::llround(kE2eBucketBoundsSeconds[i] * 1e9));
  }
  if (!percentiles_.empty()) slots_ = std::make_unique<std::array<Slot, kE2eWindowSlots>>();
}

void E2eLatencyRecorder::Record(int64_t now_ns, int64_t published_ns) {
  const int64_t ns = std::max<int64_t>(0, now_ns - published_ns);
  size_t b = 0;
  while (b < bounds_ns_.size() && ns > bounds_ns_[b]) ++b;  // Prometheus `le`: <= bound
  ++buckets_[b];
  ++count_;
  sum_seconds_ += static_cast<double>(ns) * 1e-9;
  if (slots_ == nullptr) return;
  const int64_t epoch = now_ns / slot_ns_;
  Slot& slot = (*slots_)[static_cast<size_t>(epoch % kE2eWindowSlots)];
  if (slot.epoch != epoch) {
    slot.h.Reset();
    slot.epoch = epoch;
  }
  slot.h.Add(ns);
}

E2eLatencyStats E2eLatencyRecorder::Stats(int64_t now_ns) const {
  E2eLatencyStats s;
  s.buckets.assign(buckets_.begin(), buckets_.end());
  s.count = count_;
  s.sum_seconds = sum_seconds_;
  if (slots_ == nullptr) return s;
  auto window = std::make_shared<LatencyHistogram>();
  const int64_t epoch = now_ns / slot_ns_;
  for (const Slot& slot : *slots_) {
    if (slot.epoch > epoch - kE2eWindowSlots && slot.epoch <= epoch) window->Merge(slot.h);
  }
  s.has_percentiles = true;
  s.window_count = window->count();
  s.percentiles = E2ePercentiles(*window, percentiles_);
  s.window = std::move(window);
  return s;
}

}  // namespace nsq::broker
