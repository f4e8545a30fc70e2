#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "services/broker/core/message_queue.h"
#include "services/broker/core/storage.h"

namespace nsq::broker {

// A channel's deferred messages (DPUB, REQ with a delay, not-yet-due records read back
// from its queue), each waiting for its deliver_at_ns. The first `capacity` wait in
// memory; the rest wait in a DeferredQueue (RocksDB, ordered by due time), so deferred
// messages count against --mem-queue-size as ready ones do, and in durable mode
// (capacity 0) every deferred message is on disk. Without a DeferredQueue (ephemeral
// channels) messages past capacity are dropped, as an ephemeral channel's ready queue
// drops them. Not thread-safe: owned by a Channel under its lock.
class DeferredSet {
 public:
  // `ready` is the channel's queue: a message that the DeferredQueue takes from it (REQ
  // of a durable message) is acked there.
  DeferredSet(int64_t capacity, std::unique_ptr<DeferredQueue> store, MessageQueue* ready);

  // An acknowledged message (its deliver_at_ns set): never lost. When the DeferredQueue
  // refuses it, it waits in memory past the capacity (held_count) and the error is
  // returned for health.
  absl::Status Add(QueuedMessage message);
  // Newly published messages, all or nothing: on an error none of them is queued (the
  // publish fails).
  absl::Status AddPublished(std::vector<QueuedMessage>& messages);
  // Removes up to `max` messages due at or before `now_ns` (memory first, then the
  // DeferredQueue), appending them to `out` with deliver_at_ns cleared.
  absl::Status PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out);
  // Copies up to `max` messages, earliest due first (deliver_at_ns set), taking none.
  absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) const;
  // The earliest due time; INT64_MAX when there is none.
  int64_t NextDue() const;

  int64_t size() const { return static_cast<int64_t>(memory_.size()) + stored(); }
  int64_t stored() const { return store_ ? store_->Depth() : 0; }
  // In memory past the capacity because the DeferredQueue refused them.
  int64_t held_count() const {
    return std::max<int64_t>(0, static_cast<int64_t>(memory_.size()) - capacity_);
  }
  // Dropped past the capacity with no DeferredQueue (ephemeral).
  uint64_t dropped() const { return dropped_; }

  // Graceful shutdown: writes what waits in memory to the DeferredQueue; what it refuses,
  // or cannot take (no DeferredQueue, or a message its durable queue still holds), is
  // returned with deliver_at_ns set for the caller to persist with the ready queue.
  absl::Status Persist(std::vector<QueuedMessage>* leftover);
  absl::Status Flush() { return store_ ? store_->Flush() : absl::OkStatus(); }
  absl::Status Clear();
  absl::Status Destroy();

 private:
  struct Entry {
    int64_t due_ns;
    uint64_t seq;  // keeps equal due times in arrival order
    QueuedMessage queued;
    bool operator>(const Entry& o) const {
      return due_ns != o.due_ns ? due_ns > o.due_ns : seq > o.seq;
    }
  };
  void PushMemory(QueuedMessage message);
  bool MemoryFull() const { return static_cast<int64_t>(memory_.size()) >= capacity_; }

  const int64_t capacity_;
  std::unique_ptr<DeferredQueue> store_;
  MessageQueue* const ready_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> memory_;
  uint64_t next_seq_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace nsq::broker
