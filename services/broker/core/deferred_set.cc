#include "services/broker/core/deferred_set.h"

#include <algorithm>
#include <utility>

namespace nsq::broker {

DeferredSet::DeferredSet(int64_t capacity, std::unique_ptr<DeferredQueue> store, MessageQueue* ready)
    : capacity_(std::max<int64_t>(capacity, 0)), store_(std::move(store)), ready_(ready) {}

void DeferredSet::PushMemory(QueuedMessage message) {
  const int64_t due = message.deliver_at_ns;
  memory_.push(Entry{due, next_seq_++, std::move(message)});
}

absl::Status DeferredSet::Add(QueuedMessage message) {
  if (!MemoryFull()) {
    PushMemory(std::move(message));
    return absl::OkStatus();
  }
  if (!store_) {
    ++dropped_;
    return absl::OkStatus();
  }
  // The DeferredQueue's record stands on its own: the message's place in the durable
  // ready queue (if any) goes once it is written.
  const uint64_t old_seq = std::exchange(message.backend_seq, 0);
  absl::Status st = store_->Add(absl::MakeConstSpan(&message, 1));
  if (st.ok()) {
    ready_->Ack(old_seq);
    return st;
  }
  message.backend_seq = old_seq;  // still held there, if it was
  PushMemory(std::move(message));
  return st;
}

absl::Status DeferredSet::AddPublished(std::vector<QueuedMessage>& messages) {
  const size_t room = static_cast<size_t>(
      std::max<int64_t>(0, capacity_ - static_cast<int64_t>(memory_.size())));
  const size_t in_memory = std::min(room, messages.size());
  if (in_memory < messages.size()) {
    if (!store_) {
      dropped_ += messages.size() - in_memory;
    } else if (absl::Status st = store_->Add(absl::MakeConstSpan(messages).subspan(in_memory));
               !st.ok()) {
      return st;
    }
  }
  for (size_t i = 0; i < in_memory; ++i) PushMemory(std::move(messages[i]));
  return absl::OkStatus();
}

absl::Status DeferredSet::PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out) {
  const size_t start = out->size();
  while (out->size() - start < max && !memory_.empty() && memory_.top().due_ns <= now_ns) {
    out->push_back(memory_.top().queued);
    memory_.pop();
  }
  absl::Status st;
  const size_t taken = out->size() - start;
  if (store_ && taken < max && store_->NextDue() <= now_ns) {
    st = store_->PopDue(now_ns, max - taken, out);
  }
  for (size_t i = start; i < out->size(); ++i) (*out)[i].deliver_at_ns = 0;
  return st;
}

absl::Status DeferredSet::Peek(size_t max, std::vector<QueuedMessage>* out) const {
  std::vector<QueuedMessage> all;
  auto copy = memory_;
  while (!copy.empty() && all.size() < max) {
    all.push_back(copy.top().queued);
    copy.pop();
  }
  absl::Status st;
  if (store_) st = store_->Peek(max, &all);
  std::stable_sort(all.begin(), all.end(), [](const QueuedMessage& a, const QueuedMessage& b) {
    return a.deliver_at_ns < b.deliver_at_ns;
  });
  if (all.size() > max) all.resize(max);
  out->insert(out->end(), all.begin(), all.end());
  return st;
}

int64_t DeferredSet::NextDue() const {
  int64_t next = memory_.empty() ? INT64_MAX : memory_.top().due_ns;
  if (store_) next = std::min(next, store_->NextDue());
  return next;
}

absl::Status DeferredSet::Persist(std::vector<QueuedMessage>* leftover) {
  std::vector<QueuedMessage> to_store;
  while (!memory_.empty()) {
    QueuedMessage m = memory_.top().queued;
    memory_.pop();
    (store_ && m.backend_seq == 0 ? to_store : *leftover).push_back(std::move(m));
  }
  absl::Status st;
  if (!to_store.empty()) {
    st = store_->Add(to_store);
    if (!st.ok()) leftover->insert(leftover->end(), to_store.begin(), to_store.end());
  }
  if (store_) st.Update(store_->Flush());
  return st;
}

absl::Status DeferredSet::Clear() {
  memory_ = decltype(memory_)();
  return store_ ? store_->Clear() : absl::OkStatus();
}

absl::Status DeferredSet::Destroy() {
  memory_ = decltype(memory_)();
  return store_ ? store_->Destroy() : absl::OkStatus();
}

}  // namespace nsq::broker
