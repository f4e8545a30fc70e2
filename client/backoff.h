#pragma once

// go-nsq's backoff strategies (nsq.md 5.4): exponential (multiplier x 2^attempt) and full
// jitter (a random duration in [0, that)), both capped. No I/O, no clock.

#include <cstdint>
#include <random>

#include "absl/time/time.h"
#include "client/config.h"

namespace nsq::client {

// The un-jittered duration for `attempt` (>= 0): multiplier x 2^attempt, saturating at
// `cap`.
absl::Duration ExponentialBackoff(absl::Duration multiplier, int attempt, absl::Duration cap);

// The backoff to wait for `attempt` under `strategy`, capped at `cap`. Full jitter draws
// from `rng` (seeded by the caller, so tests are deterministic).
absl::Duration BackoffDuration(BackoffStrategy strategy, absl::Duration multiplier, int attempt,
                               absl::Duration cap, std::mt19937_64& rng);

}  // namespace nsq::client
