#pragma once

// A topic's shared store: when several of a topic's channels overflow to disk at once,
// each message's record is written once, here, and every channel's queue holds a
// reference to it (record.h, version 4) instead of a copy. Private to //storage.
//
// Records live under [u64 store id][u64 seq] in the `messages` column family, written as
// packs, seqs in write order. Deletion: every queue that holds references has a floor,
// the lowest store seq any of its unconsumed references may name, kept under
// "floor/<store id>/<queue id>" in the default column family (written in the batch of the
// queue's first reference, and with its cursor afterwards). A queue names store seqs in
// increasing order only, so its floor rises as it consumes; everything below the lowest
// floor (persisted floors included, for queues not opened yet after a restart) is deleted.
// Thread-safe: the topic's channels append and pop under their own locks.

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "services/broker/core/storage.h"
#include "storage/record.h"
#include "storage/rocksdb_queue.h"

namespace nsq::storage {

std::string FloorKey(uint64_t store, uint64_t queue);

class SharedStore {
 public:
  SharedStore(QueueDatabase* db, uint64_t id) : s_(db), id_(id) {}
  absl::Status Load();
  uint64_t id() const { return id_; }

  // The topic's non-durable channel queues: sharing starts when there are two.
  void AddChannel();
  void RemoveChannel();
  bool active();

  // A run of one queue's Append: `count` messages from `offset`, either references to
  // store seqs first.. (first != 0) or, first == 0, records of the queue's own.
  struct Run {
    size_t offset = 0;
    size_t count = 0;
    uint64_t first = 0;
  };
  // Places `messages` of queue `queue`: messages another channel already stored are
  // referenced, new ones are put into `batch` (the queue's write) as store records and
  // referenced; requeued or deferred ones, and any that would name a store seq below
  // `*last_ref_end` (references must rise), stay the queue's own. Registers the queue's
  // floor at its first reference (the floor key is put into `batch`).
  // True if it registered the floor (to undo with SetFloor(queue, kNoFloor) should the
  // write fail).
  bool Place(uint64_t queue, uint64_t* last_ref_end, absl::Span<const broker::QueuedMessage> messages,
             rocksdb::WriteBatch* batch, std::vector<Run>* runs);
  // The queue's write of what Place put in its batch failed: the records it stored for
  // `messages` are not there, so the topic's other channels must not reference them.
  void Forget(absl::Span<const broker::QueuedMessage> messages);
  // The seq the next new record gets: every reference written from now on names one at
  // or above it.
  uint64_t tail();
  // The queue's floor rose (or, kNoFloor, it holds no references any more).
  void SetFloor(uint64_t queue, uint64_t floor);
  // Deletes the records below every floor. Called with a queue's cursor write.
  absl::Status Collect();

  // Reads store records in seq order for a queue's Pop or Peek: one iterator, seeking
  // only when the next seq wanted is not the next one it has.
  class Reader {
   public:
    explicit Reader(SharedStore* store) : store_(store) {}
    // The record at `seq`, valid until the next call; false if the store has none (lost:
    // damaged, or a failed write) or the read failed (status()).
    bool Read(uint64_t seq, std::string_view* record);
    rocksdb::Status status() const;

   private:
    bool Load(uint64_t seq);
    // Holds the value the iterator is at.
    void Take();
    SharedStore* store_;
    std::optional<RangeIterator> it_;
    uint64_t key_ = 0, end_ = 0, next_ = 0;  // the value held: [key_, end_), next_ after the last read
    std::optional<ValueRecords> records_;
  };

 private:
  QueueDatabase* const s_;
  const uint64_t id_;
  absl::Mutex mu_;
  int channels_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t tail_ ABSL_GUARDED_BY(mu_) = kInitialSeq;
  uint64_t deleted_below_ ABSL_GUARDED_BY(mu_) = kInitialSeq;
  // Place references nothing below this: raised when a Collect decides, before it deletes.
  uint64_t match_below_ ABSL_GUARDED_BY(mu_) = kInitialSeq;
  absl::flat_hash_map<uint64_t, uint64_t> floors_ ABSL_GUARDED_BY(mu_);  // queue id -> floor
  // Keys of the packs written since the store was opened, in order (what Collect may
  // delete up to without a seek); one Collect at a time.
  std::deque<uint64_t> pack_keys_ ABSL_GUARDED_BY(mu_);
  bool collecting_ ABSL_GUARDED_BY(mu_) = false;
  // Messages stored lately (by the first channel of a publish), for the others: the
  // message object, its id (a reused address is no match) and its store seq.
  struct Recent {
    broker::MessageId id;
    uint64_t seq;
  };
  absl::flat_hash_map<const broker::Message*, Recent> recent_ ABSL_GUARDED_BY(mu_);
  std::deque<const broker::Message*> recent_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsq::storage
