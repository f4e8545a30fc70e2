#include "services/broker/core/memory_storage.h"

#include <deque>
#include <utility>
#include <vector>

namespace nsq::broker {
namespace {

class MemoryBackendQueue final : public BackendQueue {
 public:
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
      out->push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return absl::OkStatus();
  }
  int64_t Depth() const override { return static_cast<int64_t>(queue_.size()); }
  absl::Status Clear() override {
    queue_.clear();
    return absl::OkStatus();
  }
  absl::Status Destroy() override { return Clear(); }

 private:
  std::deque<QueuedMessage> queue_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BackendQueue>> MemoryStorage::OpenQueue(std::string_view,
                                                                       std::string_view, bool) {
  return std::make_unique<MemoryBackendQueue>();
}

absl::Status MemoryStorage::MoveQueue(BackendQueue*, std::string_view, std::string_view, bool) {
  return absl::OkStatus();
}

absl::Status MemoryStorage::SaveMetadata(const Metadata&) { return absl::OkStatus(); }

absl::StatusOr<Metadata> MemoryStorage::LoadMetadata() { return Metadata{}; }

}  // namespace nsq::broker
