#pragma once

#include <memory>
#include <string_view>

#include "services/broker/core/storage.h"

namespace nsq::broker {

// Keeps overflow in memory and metadata nowhere: for tests and the in-process benchmark
// (the broker runs on //storage, RocksDB). Memory is therefore not bounded by
// --mem-queue-size with it, and nothing survives a restart.
class MemoryStorage final : public Storage {
 public:
  absl::StatusOr<std::unique_ptr<BackendQueue>> OpenQueue(std::string_view topic,
                                                          std::string_view channel,
                                                          bool durable) override;
  absl::Status MoveQueue(BackendQueue* queue, std::string_view topic, std::string_view channel,
                         bool durable) override;
  absl::StatusOr<std::unique_ptr<DeferredQueue>> OpenDeferred(std::string_view topic,
                                                              std::string_view channel) override;
  absl::Status SaveMetadata(const Metadata& metadata) override;
  absl::StatusOr<Metadata> LoadMetadata() override;
};

}  // namespace nsq::broker
