#pragma once

// Go's time.Duration text: what NSQ's duration flags, config values and /stats uptimes
// look like. Ported from Go's time/format.go so that edge cases (fractions, overflow,
// "0", the two micro signs) match what NSQ users type.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace nsq::flags {

// Parses Go's time.ParseDuration syntax: an optional sign and a sequence of decimal
// numbers, each with an optional fraction and a unit ("ns", "us", "µs", "ms", "s", "m",
// "h"), e.g. "300ms", "-1.5h", "2h45m". "0" needs no unit. Errors on anything else and
// on overflow of int64 nanoseconds.
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// Formats like Go's time.Duration.String(): "1m0s", "1h30m0s", "250ms", "1.5µs", "0s".
// Durations beyond int64 nanoseconds (including infinite ones) saturate.
std::string FormatGoDuration(absl::Duration duration);

}  // namespace nsq::flags
