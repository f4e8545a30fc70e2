#include "tools/nsq_to_http/host_pool.h"

#include <algorithm>

namespace nsq::tools {

HostPool::HostPool(size_t hosts, bool avoid_failed, absl::Duration retry, absl::Duration max_retry)
    : avoid_failed_(avoid_failed), retry_(retry), max_retry_(max_retry), hosts_(hosts) {
  for (Host& h : hosts_) h.retry = retry_;
}

size_t HostPool::Pick(absl::Time now) {
  absl::MutexLock lock(&mu_);
  const size_t n = hosts_.size();
  if (!avoid_failed_) return next_++ % n;
  // The next live host in turn; with none alive, the one that comes back first.
  for (size_t i = 0; i < n; ++i) {
    const size_t h = (next_ + i) % n;
    if (hosts_[h].dead_until <= now) {
      next_ = h + 1;
      return h;
    }
  }
  size_t best = 0;
  for (size_t h = 1; h < n; ++h) {
    if (hosts_[h].dead_until < hosts_[best].dead_until) best = h;
  }
  return best;
}

void HostPool::Report(size_t host, bool ok, absl::Time now) {
  absl::MutexLock lock(&mu_);
  Host& h = hosts_.at(host);
  if (ok) {
    h.dead_until = absl::InfinitePast();
    h.retry = retry_;
  } else {
    h.dead_until = now + h.retry;
    h.retry = std::min(h.retry * 2, max_retry_);
  }
}

}  // namespace nsq::tools
