#include "services/broker/core/message_queue.h"

#include <algorithm>

namespace nsq::broker {
namespace {
// Messages read from the backend at once when memory runs dry: big enough to amortize a
// backend read, small enough to keep memory near the bound with --mem-queue-size=0.
constexpr size_t kRefillBatch = 1024;
}  // namespace

MessageQueue::MessageQueue(int64_t capacity, std::unique_ptr<BackendQueue> backend, bool durable)
    : capacity_(std::max<int64_t>(capacity, 0)),
      durable_(durable && backend != nullptr),
      backend_(std::move(backend)) {}

absl::Status MessageQueue::Put(QueuedMessage message) {
  if (message.backend_seq == 0) {
    absl::Status error;
    if (!RetryHeld(&error)) return error;
  }
  return PutBehindHeld(message);
}

absl::Status MessageQueue::PutBehindHeld(QueuedMessage& message) {
  const bool backend_busy = backend_ && backend_->Depth() > 0;
  if (message.backend_seq != 0 || !backend_ ||
      (!backend_busy && static_cast<int64_t>(memory_.size()) < capacity_)) {
    // On disk already (durable), or room in memory, or no backend (until TrimToCapacity).
    memory_.push_back(std::move(message));
    return absl::OkStatus();
  }
  return backend_->Append(absl::MakeConstSpan(&message, 1));
}

absl::Status MessageQueue::PutBatch(std::vector<QueuedMessage>& messages) {
  absl::Status error;
  if (!RetryHeld(&error)) return error;
  size_t i = 0;
  if (!backend_ || backend_->Depth() == 0) {
    while (i < messages.size() && static_cast<int64_t>(memory_.size()) < capacity_) {
      memory_.push_back(std::move(messages[i++]));
    }
  }
  if (i == messages.size()) return absl::OkStatus();
  if (!backend_) {
    while (i < messages.size()) memory_.push_back(std::move(messages[i++]));  // until TrimToCapacity
    return absl::OkStatus();
  }
  absl::Status st = backend_->Append(absl::MakeConstSpan(messages).subspan(i));
  if (!st.ok()) {
    // None of the batch is queued: give back what went to memory, in order.
    for (size_t k = i; k-- > 0;) {
      messages[k] = std::move(memory_.back());
      memory_.pop_back();
    }
  }
  return st;
}

absl::Status MessageQueue::PutOrHold(QueuedMessage message) {
  absl::Status st;
  if (message.backend_seq == 0 && !RetryHeld(&st)) {
    held_.push_back(std::move(message));
    return st;
  }
  st = PutBehindHeld(message);  // leaves `message` alone when it fails
  if (!st.ok()) held_.push_back(std::move(message));
  return st;
}

bool MessageQueue::RetryHeld(absl::Status* error) {
  if (held_.empty()) return true;
  std::vector<QueuedMessage> batch(held_.begin(), held_.end());
  absl::Status st = backend_->Append(batch);
  if (!st.ok()) {
    *error = st;
    return false;
  }
  held_.clear();
  return true;
}

bool MessageQueue::Pop(QueuedMessage* out, absl::Status* error) {
  if (memory_.empty() && backend_ && backend_->Depth() > 0) {
    refill_.clear();
    absl::Status st = backend_->Pop(kRefillBatch, &refill_);
    if (!st.ok() && error) *error = st;
    for (auto& m : refill_) memory_.push_back(std::move(m));
    refill_.clear();
  }
  if (memory_.empty()) {
    // Everything the backend had is out: what it refused comes next.
    if (held_.empty() || (backend_ && backend_->Depth() > 0)) return false;
    *out = std::move(held_.front());
    held_.pop_front();
    return true;
  }
  *out = std::move(memory_.front());
  memory_.pop_front();
  return true;
}

absl::Status MessageQueue::Peek(size_t max, std::vector<QueuedMessage>* out) const {
  const size_t start = out->size();
  for (size_t i = 0; i < memory_.size() && out->size() - start < max; ++i) out->push_back(memory_[i]);
  absl::Status st;
  if (backend_ && out->size() - start < max) st = backend_->Peek(max - (out->size() - start), out);
  for (size_t i = 0; i < held_.size() && out->size() - start < max; ++i) out->push_back(held_[i]);
  return st;
}

int64_t MessageQueue::TrimToCapacity() {
  int64_t dropped = 0;
  if (backend_) return 0;
  while (static_cast<int64_t>(memory_.size()) > capacity_) {
    memory_.pop_back();
    ++dropped;
  }
  return dropped;
}

absl::Status MessageQueue::Persist(std::vector<QueuedMessage> front,
                                   std::vector<QueuedMessage> back) {
  if (!backend_) {
    memory_.clear();
    return absl::OkStatus();
  }
  std::vector<QueuedMessage> on_disk, unheld;
  auto sort_out = [&](QueuedMessage& m) {
    (m.backend_seq != 0 ? on_disk : unheld).push_back(std::move(m));
  };
  for (auto& m : front) sort_out(m);
  for (auto& m : memory_) sort_out(m);
  for (auto& m : back) sort_out(m);
  memory_.clear();
  absl::Status st;
  if (!on_disk.empty()) st.Update(backend_->Update(on_disk));
  if (!unheld.empty()) st.Update(backend_->Prepend(unheld));
  // What the backend refused while running is younger than all it has.
  if (!held_.empty()) {
    std::vector<QueuedMessage> refused(held_.begin(), held_.end());
    held_.clear();
    st.Update(backend_->Append(refused));
  }
  st.Update(backend_->Flush());
  return st;
}

absl::Status MessageQueue::Clear() {
  memory_.clear();
  held_.clear();
  return backend_ ? backend_->Clear() : absl::OkStatus();
}

absl::Status MessageQueue::Destroy() {
  memory_.clear();
  held_.clear();
  return backend_ ? backend_->Destroy() : absl::OkStatus();
}

}  // namespace nsq::broker
