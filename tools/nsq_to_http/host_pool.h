#pragma once

// nsq_to_http's choice of endpoint: round-robin, or a host pool (bitly/go-hostpool's idea)
// where a host that failed is left alone for a while (30 s, doubling up to 15 min) while
// others work. Thread-safe; time is passed in.

#include <cstddef>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nsq::tools {

class HostPool {
 public:
  HostPool(size_t hosts, bool avoid_failed, absl::Duration retry = absl::Seconds(30),
           absl::Duration max_retry = absl::Minutes(15));
  // The host to try next.
  size_t Pick(absl::Time now);
  void Report(size_t host, bool ok, absl::Time now);

 private:
  struct Host {
    absl::Time dead_until = absl::InfinitePast();
    absl::Duration retry;
  };
  const bool avoid_failed_;
  const absl::Duration retry_, max_retry_;
  absl::Mutex mu_;
  std::vector<Host> hosts_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nsq::tools
