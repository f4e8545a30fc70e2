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

// Queue keys: [u64 queue id][u64 sequence], big-endian so that keys sort in FIFO order.
std::string QueueKey(uint64_t queue_id, uint64_t seq);
// The same into out[0..16), without an allocation (a write's per-message key).
void EncodeQueueKey(uint64_t queue_id, uint64_t seq, char* out);
uint64_t SeqOfKey(std::string_view key);

}  // namespace nsq::storage
