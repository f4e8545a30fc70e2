#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "services/broker/core/storage.h"

namespace nsq::storage {

// The on-disk form of one queued message, checksummed:
//   [u32 crc32c of the rest][u8 version][u16 attempts][i64 timestamp_ns]
//   [i64 deliver_at_ns][16 bytes id][extra][body]
// Version 1 has no extra; version 2 (a dead-letter copy) has its origin there:
//   [u32 length of the rest of extra][u8 reason][u16 attempts][16 bytes id]
//   [u16 n][topic][u16 n][channel]
// Integers are big-endian.
constexpr size_t kRecordHeaderSize = 4 + 1 + 2 + 8 + 8 + 16;

void EncodeRecord(const broker::QueuedMessage& message, std::string* out);
// The extra part of `message`'s record ("" unless it has an origin).
std::string RecordExtra(const broker::QueuedMessage& message);
// The header alone (checksum included), for writers that append the rest without
// copying the body first: header + extra + message.message->body is the record.
void EncodeRecordHeader(const broker::QueuedMessage& message, std::string_view extra,
                        char (&header)[kRecordHeaderSize]);
// False if the record is truncated, of an unknown version, or fails its checksum: a
// damaged record is never turned into a message.
bool DecodeRecord(std::string_view record, broker::QueuedMessage* out);

// A pack: consecutive records of one non-durable queue under one key (the first one's
// seq), so that a batch of messages costs RocksDB one key instead of one per message:
//   [u32 crc32c of the next 5 bytes][u8 version 3][u32 n] then n x ([u32 length][record])
// Records keep their own checksums: a damaged one is skipped, its neighbours delivered.
constexpr size_t kPackHeaderSize = 4 + 1 + 4;
// A pack holds at most this many records and body bytes: about one 64 KiB block, so a
// damaged block loses no more than it does with one key per record.
constexpr size_t kPackMaxRecords = 1024;
constexpr size_t kPackMaxBytes = 60 << 10;
void EncodePackHeader(uint32_t records, char (&header)[kPackHeaderSize]);
// The length prefix of one record in a pack.
void EncodePackLength(uint32_t length, char* out);

// A reference: n consecutive records of a topic's shared store (rocksdb_shared.h), which
// holds each body once for all the topic's channels that overflow:
//   [u32 crc32c of the next 21 bytes][u8 version 4][u32 n][u64 store id][u64 first seq]
constexpr size_t kRefSize = 4 + 1 + 4 + 8 + 8;
void EncodeRef(uint32_t records, uint64_t store, uint64_t first, char (&ref)[kRefSize]);

// The records of the value under one queue key: a lone record, a pack, or a reference
// (whose records are read from the shared store: Next() gives none).
class ValueRecords {
 public:
  explicit ValueRecords(std::string_view value);
  bool is_pack() const { return pack_; }
  bool is_ref() const { return ref_; }
  uint64_t ref_store() const { return ref_store_; }
  uint64_t ref_first() const { return ref_first_; }
  // Records the value holds: 1 for a lone record (damaged or not), a pack's or a
  // reference's count, 0 for a pack or reference whose header is damaged.
  uint32_t count() const { return count_; }
  // The next record's bytes (for DecodeRecord); false when none is left or a length runs
  // past the value (the rest of the pack is damaged).
  bool Next(std::string_view* record);

 private:
  std::string_view rest_;
  uint32_t count_ = 0;
  uint32_t left_ = 0;
  bool pack_ = false;
  bool ref_ = false;
  uint64_t ref_store_ = 0;
  uint64_t ref_first_ = 0;
};

// Queue keys: [u64 queue id][u64 sequence], big-endian so that keys sort in FIFO order.
std::string QueueKey(uint64_t queue_id, uint64_t seq);
// The same into out[0..16), without an allocation (a write's per-message key).
void EncodeQueueKey(uint64_t queue_id, uint64_t seq, char* out);
uint64_t SeqOfKey(std::string_view key);

}  // namespace nsq::storage
