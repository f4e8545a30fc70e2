#include "client/ready_controller.h"

#include <algorithm>

#include <cstdlib>
#include "client/backoff.h"

namespace nsq::client {

ReadyController::ReadyController(const Config& config, uint64_t seed)
    : config_(config), rng_(seed), max_in_flight_(config.max_in_flight) {}

void ReadyController::SetReady(ConnId, Conn& c, int64_t count, absl::Time now) {
  count = std::clamp<int64_t>(count, 0, c.max_rdy);
  if (count == c.rdy) return;
  c.rdy = count;
  c.last_rdy = now;
}

void ReadyController::Rebalance(absl::Time now) {
  if (backoff_counter_ > 0 || in_backoff_wait()) return;  // backoff owns RDY
  const int64_t n = static_cast<int64_t>(conns_.size());
  if (n == 0) return;
  if (max_in_flight_ <= 0) {
    for (auto& [id, c] : conns_) SetReady(id, c, 0, now);
    return;
  }
  const int64_t per = max_in_flight_ / n;
  if (per >= 1) {
    // go-nsq gives every connection max_in_flight / n and leaves the remainder unused;
    // the first ones (by id) take one more each so the whole budget is used.
    const int64_t extra = max_in_flight_ % n;
    int64_t i = 0;
    for (auto& [id, c] : conns_) SetReady(id, c, per + (i++ < extra ? 1 : 0), now);
    return;
  }
  // More connections than max_in_flight: RDY 1 on at most max_in_flight of them (those
  // that have it keep it); Redistribute() moves it around over time.
  int64_t budget = max_in_flight_;
  for (auto& [id, c] : conns_) {
    if (c.rdy > 0 && budget > 0) {
      SetReady(id, c, 1, now);
      --budget;
    } else {
      SetReady(id, c, 0, now);
    }
  }
  for (auto& [id, c] : conns_) {
    if (budget == 0) break;
    if (c.rdy == 0) {
      SetReady(id, c, 1, now);
      --budget;
    }
  }
}

void ReadyController::AddConnection(ConnId id, int64_t max_rdy, absl::Time now) {
  Conn c;
  c.max_rdy = max_rdy > 0 ? max_rdy : 2500;
  c.last_message = now;
  c.last_rdy = now;
  conns_[id] = c;
  if (next_redistribute_ == absl::InfinitePast()) {
    next_redistribute_ = now + config_.rdy_redistribute_interval;
  }
  Rebalance(now);
}

void ReadyController::RemoveConnection(ConnId id, absl::Time now) {
  conns_.erase(id);
  Rebalance(now);
}

void ReadyController::OnMessage(ConnId id, absl::Time now) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  it->second.in_flight++;
  it->second.last_message = now;
}

void ReadyController::OnResult(ConnId id, Signal signal, absl::Time now) {
  auto it = conns_.find(id);
  if (it != conns_.end() && it->second.in_flight > 0) it->second.in_flight--;
  if (in_backoff_wait()) return;  // signals during the wait are ignored, as in go-nsq
  bool changed = false;
  switch (signal) {
    case Signal::kSuccess:
      if (backoff_counter_ > 0) {
        --backoff_counter_;
        changed = true;
      }
      break;
    case Signal::kBackoff: {
      // Deeper only while the next step stays within max_backoff_duration (0: never).
      const absl::Duration next =
          ExponentialBackoff(config_.backoff_multiplier, backoff_counter_ + 1, absl::InfiniteDuration());
      if (config_.max_backoff_duration > absl::ZeroDuration() && next <= config_.max_backoff_duration) {
        ++backoff_counter_;
        changed = true;
      }
      break;
    }
    case Signal::kContinue:
      break;
  }
  if (backoff_counter_ == 0 && changed) {
    Rebalance(now);  // back to full speed
  } else if (backoff_counter_ > 0) {
    StartBackoffWait(now);
  }
}

void ReadyController::StartBackoffWait(absl::Time now) {
  const absl::Duration d = BackoffDuration(config_.backoff_strategy, config_.backoff_multiplier,
                                           backoff_counter_, config_.max_backoff_duration, rng_);
  backoff_until_ = now + d;
  for (auto& [id, c] : conns_) SetReady(id, c, 0, now);
}

void ReadyController::EndBackoffWait(absl::Time now) {
  backoff_until_ = absl::InfinitePast();
  if (backoff_counter_ == 0) {
    Rebalance(now);
    return;
  }
  // Test the waters: one message at a time through one random connection.
  std::vector<ConnId> ids;
  for (auto& [id, c] : conns_) ids.push_back(id);
  if (ids.empty()) return;
  const ConnId choice = RandomConn(ids);
  SetReady(choice, conns_[choice], 1, now);
}

ReadyController::ConnId ReadyController::RandomConn(const std::vector<ConnId>& from) {
  if (from.empty()) std::abort();  // callers check
  std::uniform_int_distribution<size_t> dist(0, from.size() - 1);
  return from[dist(rng_)];
}

bool ReadyController::NeedsRedistribution() const {
  const int64_t n = static_cast<int64_t>(conns_.size());
  return n > max_in_flight_ || (backoff_counter_ > 0 && n > 1);
}

void ReadyController::Redistribute(absl::Time now) {
  if (in_backoff_wait() || !NeedsRedistribution()) return;
  std::vector<ConnId> possible;
  for (auto& [id, c] : conns_) {
    if (c.rdy > 0 && (now - c.last_message > config_.low_rdy_idle_timeout ||
                      now - c.last_rdy > config_.low_rdy_timeout)) {
      SetReady(id, c, 0, now);
    }
    if (c.rdy == 0) possible.push_back(id);
  }
  int64_t available = (backoff_counter_ > 0 ? 1 : max_in_flight_) - total_ready();
  while (available > 0 && !possible.empty()) {
    std::uniform_int_distribution<size_t> dist(0, possible.size() - 1);
    const size_t i = dist(rng_);
    const ConnId id = possible[i];
    possible.erase(possible.begin() + static_cast<std::ptrdiff_t>(i));
    SetReady(id, conns_[id], 1, now);
    --available;
  }
}

void ReadyController::SetMaxInFlight(int64_t max_in_flight, absl::Time now) {
  max_in_flight_ = std::max<int64_t>(0, max_in_flight);
  Rebalance(now);
}

void ReadyController::Tick(absl::Time now) {
  if (in_backoff_wait() && now >= backoff_until_) EndBackoffWait(now);
  // In backoff with RDY 0 everywhere and nothing to wait for (the test-the-waters
  // connection went away): give one connection RDY 1 again.
  if (!in_backoff_wait() && backoff_counter_ > 0 && total_ready() == 0 && !conns_.empty()) {
    std::vector<ConnId> ids;
    for (auto& [id, c] : conns_) ids.push_back(id);
    const ConnId choice = RandomConn(ids);
    SetReady(choice, conns_[choice], 1, now);
  }
  if (next_redistribute_ != absl::InfinitePast() && now >= next_redistribute_) {
    Redistribute(now);
    next_redistribute_ = now + config_.rdy_redistribute_interval;
  }
}

absl::Time ReadyController::NextDeadline() const {
  absl::Time t = absl::InfiniteFuture();
  if (in_backoff_wait()) t = std::min(t, backoff_until_);
  if (next_redistribute_ != absl::InfinitePast() && NeedsRedistribution()) {
    t = std::min(t, next_redistribute_);
  }
  return t;
}

std::vector<std::pair<ReadyController::ConnId, int64_t>> ReadyController::TakeUpdates() {
  std::vector<std::pair<ConnId, int64_t>> out;
  for (auto& [id, c] : conns_) {
    if (c.rdy != c.sent) {
      out.emplace_back(id, c.rdy);
      c.sent = c.rdy;
    }
  }
  return out;
}

int64_t ReadyController::ready(ConnId id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? 0 : it->second.rdy;
}

int64_t ReadyController::total_ready() const {
  int64_t t = 0;
  for (const auto& [id, c] : conns_) t += c.rdy;
  return t;
}

int64_t ReadyController::in_flight(ConnId id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? 0 : it->second.in_flight;
}

bool ReadyController::IsStarved() const {
  for (const auto& [id, c] : conns_) {
    if (c.in_flight > 0 && static_cast<double>(c.in_flight) >= 0.85 * static_cast<double>(c.rdy)) {
      return true;
    }
  }
  return false;
}

}  // namespace nsq::client
