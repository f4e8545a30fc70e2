#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "services/broker/core/storage.h"

namespace nsq::broker {

// One topic's or channel's FIFO: up to `capacity` messages in memory, the rest in a
// BackendQueue, handed back in publish order. Invariant: every message in memory is
// older than every message in the backend, so once the backend holds anything new
// messages go there too. Without a backend (ephemeral), messages past capacity are
// dropped, as nsqd does. Not thread-safe: owned by a Topic or Channel under its lock.
class MessageQueue {
 public:
  // `durable`: the backend keeps popped messages until Ack (see BackendQueue).
  MessageQueue(int64_t capacity, std::unique_ptr<BackendQueue> backend, bool durable = false);

  // Without a backend (ephemeral) the queue takes everything for now, so that consumers
  // ready at this moment get it even with --mem-queue-size=0; TrimToCapacity() then
  // drops what nobody took, newest first (nsqd: an unbuffered Go channel).
  int64_t TrimToCapacity();

  // Adds at the tail. A message the durable backend still holds (backend_seq != 0, e.g.
  // a requeue) goes to memory: it is on disk already. A backend error is returned as a
  // status and nothing is queued: for a publish, whose caller then reports the failure.
  absl::Status Put(QueuedMessage message);
  // All or nothing, in order: on a backend error none of `messages` is queued.
  absl::Status PutBatch(std::vector<QueuedMessage>& messages);
  // Adds at the tail and never loses the message: for messages the broker already
  // acknowledged (a requeue, a timeout, a released deferred message, a topic's backlog
  // moving to its channels). When the backend refuses it, the message is held in memory
  // behind everything the backend has (counted in held_count(), delivered in order) and
  // the backend's error is returned for the caller to report (health). Held messages go
  // to the backend again on the next write that reaches it.
  absl::Status PutOrHold(QueuedMessage message);
  // Takes the oldest message. False if empty. A backend read error is reported through
  // `error` (and the queue behaves as if the backend were empty until the next call).
  bool Pop(QueuedMessage* out, absl::Status* error);
  // Copies up to `max` messages in delivery order without taking them.
  absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) const;

  int64_t Depth() const {
    return static_cast<int64_t>(memory_.size() + held_.size()) + backend_depth();
  }
  // Messages kept in memory because the backend refused them (see PutOrHold).
  int64_t held_count() const { return static_cast<int64_t>(held_.size()); }
  int64_t backend_depth() const { return backend_ ? backend_->Depth() : 0; }
  bool empty() const { return Depth() == 0; }

  bool durable() const { return durable_; }
  // The message popped as `backend_seq` is done: a durable backend forgets it.
  void Ack(uint64_t backend_seq) {
    if (backend_seq != 0 && backend_) backend_->Ack(backend_seq);
  }

  // Graceful shutdown: writes `front` (in-flight messages), what is in memory, then
  // `back` (deferred messages) to the backend so that a restart finds them in that order
  // ahead of the backend's own: records the backend still holds are rewritten in place
  // (attempts, due time), the others go in front of its head. Ephemeral queues (no
  // backend) just drop them.
  absl::Status Persist(std::vector<QueuedMessage> front, std::vector<QueuedMessage> back);

  // For handing a whole queue over (a topic's backlog to its first channel).
  bool has_backend() const { return backend_ != nullptr; }
  bool memory_empty() const { return memory_.empty() && held_.empty(); }
  std::unique_ptr<BackendQueue> ReleaseBackend() { return std::move(backend_); }
  void SetBackend(std::unique_ptr<BackendQueue> backend) { backend_ = std::move(backend); }
  std::deque<QueuedMessage> ReleaseMemory() { return std::exchange(memory_, {}); }
  // Only on an empty queue: these messages are older than the backend's.
  void AdoptMemory(std::deque<QueuedMessage> memory) { memory_ = std::move(memory); }

  // Writes out what the backend batches in memory (read cursor, acked records), so that
  // a crash redelivers at most what was consumed since the last call.
  absl::Status Flush() { return backend_ ? backend_->Flush() : absl::OkStatus(); }

  absl::Status Clear();
  absl::Status Destroy();

 private:
  const int64_t capacity_;
  const bool durable_;
  // Writes held_ to the backend; false (and the error in *error) if it refused them.
  bool RetryHeld(absl::Status* error);
  // Put without the held_ check; moves from `message` only when it succeeds.
  absl::Status PutBehindHeld(QueuedMessage& message);

  std::deque<QueuedMessage> memory_;
  std::unique_ptr<BackendQueue> backend_;
  // Refused by the backend, younger than everything in it: delivered after it.
  std::deque<QueuedMessage> held_;
  std::vector<QueuedMessage> refill_;
};

}  // namespace nsq::broker
