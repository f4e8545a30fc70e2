#pragma once

#include <cstdint>
#include <deque>
#include <memory>
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
  MessageQueue(int64_t capacity, std::unique_ptr<BackendQueue> backend);

  // Adds at the tail. Returns false if the message was dropped (ephemeral and full);
  // a backend error is returned as a status (the message is not queued).
  absl::Status Put(QueuedMessage message, bool* dropped = nullptr);
  absl::Status PutBatch(std::vector<QueuedMessage>& messages, int64_t* dropped = nullptr);
  // Takes the oldest message. False if empty. A backend read error is reported through
  // `error` (and the queue behaves as if the backend were empty until the next call).
  bool Pop(QueuedMessage* out, absl::Status* error);

  int64_t Depth() const { return static_cast<int64_t>(memory_.size()) + backend_depth(); }
  int64_t backend_depth() const { return backend_ ? backend_->Depth() : 0; }
  bool empty() const { return Depth() == 0; }

  absl::Status Clear();
  absl::Status Destroy();

 private:
  const int64_t capacity_;
  std::deque<QueuedMessage> memory_;
  std::unique_ptr<BackendQueue> backend_;
  std::vector<QueuedMessage> refill_;
};

}  // namespace nsq::broker
