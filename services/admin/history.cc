#include "services/admin/history.h"

#include <algorithm>

namespace nsq::admin {
namespace {

double PerSecond(int64_t from, int64_t to, double seconds) {
  if (to <= from || seconds <= 0) return 0;
  return static_cast<double>(to - from) / seconds;
}

}  // namespace

Rates RatesBetween(const Counters& a, const Counters& b, absl::Duration dt) {
  const double s = absl::ToDoubleSeconds(dt);
  Rates r;
  if (s <= 0) return r;
  r.in = PerSecond(a.messages, b.messages, s);
  r.requeued = PerSecond(a.requeued, b.requeued, s);
  r.timed_out = PerSecond(a.timed_out, b.timed_out, s);
  if (b.delivered_in >= a.delivered_in) {
    const double entered = static_cast<double>(b.delivered_in - a.delivered_in);
    const double grew = static_cast<double>(b.backlog - a.backlog);
    r.finished = std::max(0.0, (entered - grew) / s);
  }
  return r;
}

History::History(absl::Duration window, absl::Duration step, size_t max_series)
    : window_(window),
      step_(step),
      capacity_(static_cast<size_t>(std::max<int64_t>(2, absl::IDivDuration(window, step, &step)))),
      max_series_(max_series) {}

void History::Record(absl::Time t, const std::map<std::string, Counters>& series) {
  const int64_t now_ms = absl::ToUnixMillis(t);
  const int64_t step_ms = absl::ToInt64Milliseconds(step_);
  absl::MutexLock lock(&mu_);
  for (const auto& [key, c] : series) {
    auto it = rings_.find(key);
    if (it == rings_.end()) {
      if (rings_.size() >= max_series_) {
        dropped_++;
        continue;
      }
      it = rings_.emplace(key, Ring{}).first;
    }
    Ring& r = it->second;
    if (r.last_seen_ms != 0) {
      r.prev = r.last;
      r.has_prev = true;
    }
    r.last = Sample{now_ms, c};
    r.last_seen_ms = now_ms;
    const Sample* newest = nullptr;
    if (!r.buf.empty()) {
      newest = r.buf.size() < capacity_ ? &r.buf.back() : &r.buf[(r.next + capacity_ - 1) % capacity_];
    }
    if (newest != nullptr && now_ms - newest->unix_ms < step_ms) continue;
    if (r.buf.size() < capacity_) {
      r.buf.push_back(r.last);
    } else {
      r.buf[r.next] = r.last;
      r.next = (r.next + 1) % capacity_;
    }
  }
  const int64_t window_ms = absl::ToInt64Milliseconds(window_);
  for (auto it = rings_.begin(); it != rings_.end();) {
    if (now_ms - it->second.last_seen_ms > window_ms) {
      it = rings_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Rates> History::CurrentRates(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = rings_.find(key);
  if (it == rings_.end() || !it->second.has_prev) return std::nullopt;
  const Ring& r = it->second;
  return RatesBetween(r.prev.c, r.last.c, absl::Milliseconds(r.last.unix_ms - r.prev.unix_ms));
}

std::vector<HistoryPoint> History::Series(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  std::vector<HistoryPoint> out;
  auto it = rings_.find(key);
  if (it == rings_.end()) return out;
  const Ring& r = it->second;
  const size_t n = r.buf.size();
  const size_t first = n < capacity_ ? 0 : r.next;
  const Sample* prev = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = r.buf[(first + i) % n];
    HistoryPoint p;
    p.unix_ms = s.unix_ms;
    p.depth = s.c.depth;
    if (prev != nullptr) p.rates = RatesBetween(prev->c, s.c, absl::Milliseconds(s.unix_ms - prev->unix_ms));
    out.push_back(p);
    prev = &s;
  }
  return out;
}

size_t History::series_count() const {
  absl::MutexLock lock(&mu_);
  return rings_.size();
}

int64_t History::dropped_series() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace nsq::admin
