#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "services/broker/core/storage.h"

namespace nsq::storage {

// The on-disk form of one queued message, checksummed:
//   [u32 crc32c of the rest][u8 version=1][u16 attempts][i64 timestamp_ns]
//   [i64 deliver_at_ns][16 bytes id][body]
// Integers are big-endian.
constexpr size_t kRecordHeaderSize = 4 + 1 + 2 + 8 + 8 + 16;

void EncodeRecord(const broker::QueuedMessage& message, std::string* out);
// The header alone (checksum included), for writers that append the body without
// copying it first: header + message.message->body is the record.
void EncodeRecordHeader(const broker::QueuedMessage& message, char (&header)[kRecordHeaderSize]);
// False if the record is truncated, of an unknown version, or fails its checksum: a
// damaged record is never turned into a message.
bool DecodeRecord(std::string_view record, broker::QueuedMessage* out);

// Queue keys: [u64 queue id][u64 sequence], big-endian so that keys sort in FIFO order.
std::string QueueKey(uint64_t queue_id, uint64_t seq);
uint64_t SeqOfKey(std::string_view key);

}  // namespace nsq::storage
