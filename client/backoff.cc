#include "client/backoff.h"

#include <algorithm>

namespace nsq::client {

absl::Duration ExponentialBackoff(absl::Duration multiplier, int attempt, absl::Duration cap) {
  absl::Duration d = multiplier;
  for (int i = 0; i < attempt && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

absl::Duration BackoffDuration(BackoffStrategy strategy, absl::Duration multiplier, int attempt,
                               absl::Duration cap, std::mt19937_64& rng) {
  const absl::Duration d = ExponentialBackoff(multiplier, attempt, cap);
  if (strategy == BackoffStrategy::kExponential || d <= absl::ZeroDuration()) return d;
  const int64_t ns = absl::ToInt64Nanoseconds(d);
  std::uniform_int_distribution<int64_t> dist(0, ns - 1);
  return absl::Nanoseconds(dist(rng));
}

}  // namespace nsq::client
