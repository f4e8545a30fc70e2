#pragma once

// One topic's or channel's queue of records in RocksDB, and what it needs of the database
// it lives in. Private to //storage: RocksStorage (rocksdb_storage.cc) owns the database,
// its writes and syncs, and hands these out through OpenQueue.
//
// Layout: records under [u64 queue id][u64 seq] in the `messages` column family; the read
// cursor under "cursor/<id>" in the default one (not written for durable queues, whose
// records stay until acked). A non-durable queue writes each batch of messages as packs
// (record.h: one key for up to kPackMaxRecords consecutive records, the key being the
// first one's seq), so seqs stay contiguous and a pack at key k holds k..k+n-1. Durable
// queues too: a popped pack stays until all its records are acked; which ones are, for a
// partly acked pack, goes under "acks/<id>/<key>" with the queue's other ack deletions.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "services/broker/core/storage.h"

namespace nsq::storage {

// A queue that holds no reference into its topic's shared store has no floor.
constexpr uint64_t kNoFloor = ~uint64_t{0};
// New queues start here so that Prepend (shutdown) has room below the head.
constexpr uint64_t kInitialSeq = uint64_t{1} << 40;
// Consumed records are deleted in ranges this large (never one by one: see limits.md).
constexpr uint64_t kDeleteRangeEvery = 10000;
// Acked records of a durable queue are deleted in batches this large...
constexpr size_t kAckBatch = 4096;
// ...with runs of at least this many consecutive records as one range deletion.
constexpr size_t kRangeDeleteRun = 256;
// A pack at least half acked that got no new ack over this many ack writes (about a
// second apart while its channel is active) is rewritten as its held records alone, so a
// few long-held messages (deferred requeues) do not keep whole packs on disk.
constexpr int kShrinkIdlePacksAfter = 3;

std::string CursorKey(uint64_t id);
// Durable queues: the acked records of a partly acked pack, [u32 n][one bit per record].
std::string AckMarkKey(uint64_t id, uint64_t key);
std::string AckMarkPrefix(uint64_t id);
// The first key past every key that starts with `prefix` (which ends in '/').
std::string PrefixEnd(std::string prefix);
// Durable queues: how many records the queue holds (acked ones leave holes in the seq
// range), written in the batch of every change of it.
std::string CountKey(uint64_t id);
// A u64 as an 8-byte big-endian value, and back (0 unless exactly 8 bytes).
std::string U64Value(uint64_t v);
uint64_t ValueU64(const std::string& s);
// A RocksDB error as UNAVAILABLE "storage <what> failed: ...".
absl::Status FromRocks(const rocksdb::Status& st, std::string_view what);

// An iterator over the keys [lower, upper) of `cf`, positioned at `lower`. fill_cache off
// for what is read once (queues are).
class RangeIterator {
 public:
  // `seek`: positioned at `lower` (else unpositioned, for a Seek of the caller's own).
  RangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string lower,
                std::string upper, bool fill_cache = false, bool seek = true);
  rocksdb::Iterator* operator->() const { return it_.get(); }
  rocksdb::Iterator* get() const { return it_.get(); }

 private:
  const std::string lower_;
  const std::string upper_;
  const rocksdb::Slice lo_;
  const rocksdb::Slice up_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// One pack of `messages` (record.h) under [id][seq].
void PutPack(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id,
             uint64_t seq, absl::Span<const broker::QueuedMessage> messages);

// `messages` under [id][seq..] as packs of at most kPackMaxRecords records and
// kPackMaxBytes of bodies (a lone record for a pack of one); each value's key goes to
// `keys` if given.
void PutPacks(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id, uint64_t seq,
              absl::Span<const broker::QueuedMessage> messages, std::vector<uint64_t>* keys = nullptr);

class SharedStore;

// Puts `m`'s record under `key` into `batch`: header, extra and body as parts, so the
// body is copied once, into the batch.
void PutRecord(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, rocksdb::Slice key,
               const broker::QueuedMessage& m);

// What a queue needs of its database. Implemented by RocksStorage's implementation.
class QueueDatabase {
 public:
  virtual ~QueueDatabase() = default;
  virtual rocksdb::DB* db() = 0;
  virtual rocksdb::ColumnFamilyHandle* messages_cf() = 0;
  virtual rocksdb::ColumnFamilyHandle* meta_cf() = 0;
  virtual rocksdb::ColumnFamilyHandle* deferred_cf() = 0;
  // Writes a batch holding `messages` message records (syncing per --sync-every). After
  // the first failure every write fails with it until a restart.
  virtual absl::Status Write(rocksdb::WriteBatch* batch, size_t messages) = 0;
  // A record failed its checksum and was skipped.
  virtual void CountCorrupt() = 0;
};

// One topic's or channel's FIFO of records. See BackendQueue; used under its owner's lock.
class RocksQueue final : public broker::BackendQueue {
 public:
  RocksQueue(QueueDatabase* storage, uint64_t id, bool durable, std::string registry_key)
      : s_(storage), id_(id), durable_(durable), registry_key_(std::move(registry_key)) {}

  // Re-registers this queue under `registry_key` with the given durability; `shared`
  // is the store of its topic when it becomes a non-durable channel's queue.
  absl::Status MoveTo(std::string registry_key, bool durable, SharedStore* shared);
  ~RocksQueue() override;
  // A non-durable channel queue shares its topic's store (rocksdb_shared.h). Before Load.
  void AttachShared(SharedStore* shared);

  absl::Status Load();

  absl::Status Append(absl::Span<const broker::QueuedMessage> messages) override;
  absl::Status Prepend(absl::Span<const broker::QueuedMessage> messages) override;
  absl::Status Pop(size_t max, std::vector<broker::QueuedMessage>* out) override;
  absl::Status Peek(size_t max, std::vector<broker::QueuedMessage>* out) override;
  void Ack(uint64_t seq) override;
  absl::Status Update(absl::Span<const broker::QueuedMessage> messages) override;
  absl::Status Flush() override;
  int64_t Depth() const override {
    return static_cast<int64_t>(tail_ - next_read_) - static_cast<int64_t>(holes_ahead_);
  }
  absl::Status Clear() override;
  absl::Status Destroy() override;

 private:
  absl::Status DeleteConsumed();
  // When the head is inside a pack or reference (head_key_ < next_read_): puts its
  // unconsumed records under next_read_, so that no key below next_read_ holds anything
  // unconsumed. The caller deletes the old key (earlier in the batch).
  absl::Status RewriteHeadRest(rocksdb::WriteBatch* batch);
  // Durable: the pack holding `seq`, if it is one being tracked.
  struct HeldPack {
    uint32_t n = 0;
    uint32_t acked = 0;
    std::vector<bool> bits;  // acked records
    bool dirty = false;      // acks not yet under its mark
    bool marked = false;     // its mark is on disk
    int idle = 0;            // ack writes since its last new ack
  };
  HeldPack* PackOf(uint64_t seq, uint64_t* key);
  bool AckedInPack(uint64_t seq);
  // Durable: forgets every pack's acks, and deletes their marks in `batch`.
  void DropAckMarks(rocksdb::WriteBatch* batch);
  // Records lost to damage (a failed checksum, a damaged pack or block).
  void CountLost(uint64_t from, uint64_t to, std::string_view why);
  // Corruption: whether a read from `seq` gets past damaged blocks (and the first key at
  // or after it), and the first key after `bad` that is readable (tail_ if none).
  bool ReadableAt(uint64_t seq, uint64_t* found);
  uint64_t FirstReadableSeq(uint64_t bad);
  absl::Status DeleteAcked();

  QueueDatabase* const s_;
  const uint64_t id_;
  bool durable_;
  std::string registry_key_;
  uint64_t next_read_ = kInitialSeq;  // next record to pop
  // The key of the value holding next_read_: below next_read_ when the head is inside a
  // pack. Every key below it is consumed.
  uint64_t head_key_ = kInitialSeq;
  uint64_t tail_ = kInitialSeq;       // next record to append
  uint64_t delete_from_ = kInitialSeq;  // not durable: consumed keys from here to head_key_
  uint64_t cursor_ = 0;                 // not durable: the cursor on disk
  // Durable: keys to delete (a record, or a pack all of whose records are acked) and how
  // many records each holds; acks not yet written; popped packs not wholly acked by key;
  // marks of packs since wholly acked, to delete.
  std::vector<std::pair<uint64_t, uint32_t>> acked_;
  uint64_t pending_acks_ = 0;
  absl::btree_map<uint64_t, HeldPack> packs_;
  std::vector<uint64_t> unmark_;
  // Durable: records on disk (held ones included), and deleted seqs between next_read_
  // and tail_ (acked before a restart), so that Depth() is the true count.
  uint64_t live_ = 0;
  uint64_t holes_ahead_ = 0;
  bool destroyed_ = false;
  bool reported_corruption_ = false;
  // Shared store: the topic's, or null; references put here rise above this; the floor
  // to write with the next cursor (kNoFloor: no references left) and the one on disk.
  SharedStore* shared_ = nullptr;
  uint64_t last_ref_end_ = 0;
  uint64_t pending_floor_ = kNoFloor;
  uint64_t saved_floor_ = kNoFloor;
  void DetachShared(rocksdb::WriteBatch* batch);
};

}  // namespace nsq::storage
