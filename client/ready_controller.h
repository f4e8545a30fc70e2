#pragma once

// The consumer's flow control without I/O (go-nsq's consumer.go, nsq.md 5.3-5.4): how
// much RDY each broker connection gets, the backoff state machine and RDY
// redistribution. Time is passed in, so tests drive it with a fake clock; the caller
// sends the RDY values TakeUpdates() returns and calls Tick() at NextDeadline().
//
// Not thread-safe: the consumer calls it under its own lock.

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "client/config.h"

namespace nsq::client {

class ReadyController {
 public:
  using ConnId = uint64_t;

  // What a handled message says to the backoff state machine.
  enum class Signal {
    kSuccess,   // FIN: leave backoff one step
    kBackoff,   // REQ after a failure: one step deeper
    kContinue,  // REQ without backoff, or a message FINished unhandled: no change
  };

  ReadyController(const Config& config, uint64_t seed);

  // A subscribed connection that accepts RDY up to `max_rdy` (the broker's
  // max_rdy_count). Every connection's share is recomputed.
  void AddConnection(ConnId id, int64_t max_rdy, absl::Time now);
  void RemoveConnection(ConnId id, absl::Time now);
  // A message arrived on `id` (it is now in flight there).
  void OnMessage(ConnId id, absl::Time now);
  // A message of `id` was answered.
  void OnResult(ConnId id, Signal signal, absl::Time now);
  // 0 pauses: RDY 0 everywhere.
  void SetMaxInFlight(int64_t max_in_flight, absl::Time now);
  // Runs what is due at `now`: the end of a backoff wait, RDY redistribution.
  void Tick(absl::Time now);
  // When Tick() next has something to do.
  absl::Time NextDeadline() const;

  // The RDY values changed since the last call, as (connection, count), ordered by
  // connection. Only changes are returned (RDY is written only when it changes).
  std::vector<std::pair<ConnId, int64_t>> TakeUpdates();

  int64_t ready(ConnId id) const;
  int64_t total_ready() const;
  int64_t in_flight(ConnId id) const;
  int backoff_counter() const { return backoff_counter_; }
  // True while waiting out a backoff (RDY 0 everywhere).
  bool in_backoff_wait() const { return backoff_until_ != absl::InfinitePast(); }
  // go-nsq's IsStarved: a connection with 0 < in flight >= 85% of its RDY.
  bool IsStarved() const;
  int64_t max_in_flight() const { return max_in_flight_; }

 private:
  struct Conn {
    int64_t max_rdy = 0;
    int64_t rdy = 0;        // wanted
    int64_t sent = 0;       // last returned by TakeUpdates
    int64_t in_flight = 0;
    absl::Time last_message;
    absl::Time last_rdy;    // when rdy last changed
  };

  void SetReady(ConnId id, Conn& c, int64_t count, absl::Time now);
  // Outside backoff: every connection's share of max_in_flight.
  void Rebalance(absl::Time now);
  void StartBackoffWait(absl::Time now);
  void EndBackoffWait(absl::Time now);
  void Redistribute(absl::Time now);
  bool NeedsRedistribution() const;
  ConnId RandomConn(const std::vector<ConnId>& from);

  const Config config_;
  std::mt19937_64 rng_;
  int64_t max_in_flight_;
  std::map<ConnId, Conn> conns_;
  int backoff_counter_ = 0;
  absl::Time backoff_until_ = absl::InfinitePast();  // InfinitePast: not waiting
  absl::Time next_redistribute_ = absl::InfinitePast();
};

}  // namespace nsq::client
