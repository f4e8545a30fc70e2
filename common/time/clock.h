#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nsq {

// Time source of the engine. Injected so that timeouts and deferrals are tested
// without sleeping. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  static RealClock* Get() {
    static RealClock clock;
    return &clock;
  }
};

}  // namespace nsq
