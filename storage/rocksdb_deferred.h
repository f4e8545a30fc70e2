#pragma once

// One channel's deferred messages in RocksDB, ordered by due time. Private to //storage,
// handed out by RocksStorage::OpenDeferred.
//
// Layout: records (storage/record.h) under [u64 queue id][u64 due ns][u64 seq] in the
// `deferred` column family, so that a scan from the queue's first key meets them in due
// order; "deferred_state/<id>" in the default one holds [u64 depth][u64 next seq], written
// in the same batch as every change.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "services/broker/core/storage.h"
#include "storage/rocksdb_queue.h"

namespace nsq::storage {

class RocksDeferred final : public broker::DeferredQueue {
 public:
  RocksDeferred(QueueDatabase* db, uint64_t id, std::string registry_key)
      : s_(db), id_(id), registry_key_(std::move(registry_key)) {}
  ~RocksDeferred() override {
    if (!destroyed_) Flush().IgnoreError();
  }

  absl::Status Load();

  absl::Status Add(absl::Span<const broker::QueuedMessage> messages) override;
  absl::Status PopDue(int64_t now_ns, size_t max, std::vector<broker::QueuedMessage>* out) override;
  absl::Status Peek(size_t max, std::vector<broker::QueuedMessage>* out) override;
  int64_t NextDue() const override { return depth_ > 0 ? next_due_ : INT64_MAX; }
  int64_t Depth() const override { return depth_; }
  absl::Status Flush() override;
  absl::Status Clear() override;
  absl::Status Destroy() override;

 private:
  std::string StateValue() const;
  // Adds the deletion of popped records (everything below popped_upper_) to `batch`.
  void AddPendingDelete(rocksdb::WriteBatch* batch);

  QueueDatabase* const s_;
  const uint64_t id_;
  const std::string registry_key_;
  int64_t depth_ = 0;
  uint64_t next_seq_ = 0;
  int64_t next_due_ = INT64_MAX;
  // Records below this key were popped; their deletion goes with the next write. New
  // records never sort below it: a due time earlier than the last popped one (the clock
  // stepped back) is stored as that one, as it is due anyway.
  std::string popped_upper_;
  bool delete_pending_ = false;
  uint64_t due_floor_ = 0;
  bool destroyed_ = false;
};

}  // namespace nsq::storage
