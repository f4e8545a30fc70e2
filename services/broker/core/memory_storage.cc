#include "services/broker/core/memory_storage.h"

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

namespace nsq::broker {
namespace {

// A FIFO in memory. Durable, it keeps each popped message (numbered by backend_seq)
// until Ack, as a durable RocksDB queue does, so engine tests see the same ack protocol.
class MemoryBackendQueue final : public BackendQueue {
 public:
  explicit MemoryBackendQueue(bool durable) : durable_(durable) {}
  void set_durable(bool durable) { durable_ = durable; }
  absl::Status Append(absl::Span<const QueuedMessage> messages) override {
    queue_.insert(queue_.end(), messages.begin(), messages.end());
    return absl::OkStatus();
  }
  absl::Status Prepend(absl::Span<const QueuedMessage> messages) override {
    queue_.insert(queue_.begin(), messages.begin(), messages.end());
    return absl::OkStatus();
  }
  absl::Status Pop(size_t max, std::vector<QueuedMessage>* out) override {
    while (max-- > 0 && !queue_.empty()) {
      QueuedMessage m = std::move(queue_.front());
      queue_.pop_front();
      if (durable_) {
        if (m.backend_seq == 0) m.backend_seq = next_seq_++;
        held_[m.backend_seq] = m;
      }
      out->push_back(std::move(m));
    }
    return absl::OkStatus();
  }
  absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) override {
    for (size_t i = 0; i < max && i < queue_.size(); ++i) out->push_back(queue_[i]);
    return absl::OkStatus();
  }
  void Ack(uint64_t backend_seq) override { held_.erase(backend_seq); }
  absl::Status Update(absl::Span<const QueuedMessage> messages) override {
    for (const QueuedMessage& m : messages) {
      auto it = held_.find(m.backend_seq);
      if (it != held_.end()) it->second = m;
    }
    return absl::OkStatus();
  }
  int64_t Depth() const override { return static_cast<int64_t>(queue_.size()); }
  absl::Status Clear() override {
    queue_.clear();
    held_.clear();
    return absl::OkStatus();
  }
  absl::Status Destroy() override { return Clear(); }

 private:
  bool durable_;
  std::deque<QueuedMessage> queue_;
  std::map<uint64_t, QueuedMessage> held_;  // durable: popped, not yet acked
  uint64_t next_seq_ = 1;
};

// Deferred messages in memory, ordered by (due time, arrival).
class MemoryDeferredQueue final : public DeferredQueue {
 public:
  absl::Status Add(absl::Span<const QueuedMessage> messages) override {
    for (const QueuedMessage& m : messages) queue_.emplace(std::make_pair(m.deliver_at_ns, next_seq_++), m);
    return absl::OkStatus();
  }
  absl::Status PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out) override {
    while (max-- > 0 && !queue_.empty() && queue_.begin()->first.first <= now_ns) {
      out->push_back(std::move(queue_.begin()->second));
      queue_.erase(queue_.begin());
    }
    return absl::OkStatus();
  }
  absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) override {
    for (auto it = queue_.begin(); it != queue_.end() && max-- > 0; ++it) out->push_back(it->second);
    return absl::OkStatus();
  }
  int64_t NextDue() const override { return queue_.empty() ? INT64_MAX : queue_.begin()->first.first; }
  int64_t Depth() const override { return static_cast<int64_t>(queue_.size()); }
  absl::Status Clear() override {
    queue_.clear();
    return absl::OkStatus();
  }
  absl::Status Destroy() override { return Clear(); }

 private:
  std::map<std::pair<int64_t, uint64_t>, QueuedMessage> queue_;
  uint64_t next_seq_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeferredQueue>> MemoryStorage::OpenDeferred(std::string_view,
                                                                           std::string_view) {
  return std::make_unique<MemoryDeferredQueue>();
}

absl::StatusOr<std::unique_ptr<BackendQueue>> MemoryStorage::OpenQueue(std::string_view,
                                                                       std::string_view,
                                                                       bool durable) {
  return std::make_unique<MemoryBackendQueue>(durable);
}

absl::Status MemoryStorage::MoveQueue(BackendQueue* queue, std::string_view, std::string_view,
                                      bool durable) {
  if (auto* q = dynamic_cast<MemoryBackendQueue*>(queue)) q->set_durable(durable);
  return absl::OkStatus();
}

absl::Status MemoryStorage::SaveMetadata(const Metadata&) { return absl::OkStatus(); }

absl::StatusOr<Metadata> MemoryStorage::LoadMetadata() { return Metadata{}; }

}  // namespace nsq::broker
