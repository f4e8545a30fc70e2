#include "storage/record.h"

#include "common/crc32c/crc32c.h"

#include <cstring>
#include <memory>

namespace nsq::storage {
namespace {

constexpr uint8_t kVersion = 1;

void PutU64(uint64_t v, char* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

void EncodeRecordHeader(const broker::QueuedMessage& m, char (&p)[kRecordHeaderSize]) {
  const std::string& body = m.message->body;
  p[4] = static_cast<char>(kVersion);
  p[5] = static_cast<char>(m.attempts >> 8);
  p[6] = static_cast<char>(m.attempts & 0xff);
  PutU64(static_cast<uint64_t>(m.message->timestamp_ns), p + 7);
  PutU64(static_cast<uint64_t>(m.deliver_at_ns), p + 15);
  std::memcpy(p + 23, m.message->id.bytes.data(), broker::MessageId::kSize);
  uint32_t crc = Crc32c(Crc32c(0, p + 4, kRecordHeaderSize - 4), body.data(), body.size());
  p[0] = static_cast<char>(crc >> 24);
  p[1] = static_cast<char>(crc >> 16);
  p[2] = static_cast<char>(crc >> 8);
  p[3] = static_cast<char>(crc);
}

void EncodeRecord(const broker::QueuedMessage& m, std::string* out) {
  char header[kRecordHeaderSize];
  EncodeRecordHeader(m, header);
  out->assign(header, kRecordHeaderSize);
  out->append(m.message->body);
}

bool DecodeRecord(std::string_view r, broker::QueuedMessage* out) {
  if (r.size() < kRecordHeaderSize) return false;
  const char* p = r.data();
  uint32_t stored = (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
                    static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
  if (stored != Crc32c(0, p + 4, r.size() - 4)) return false;
  if (static_cast<uint8_t>(p[4]) != kVersion) return false;
  auto m = std::make_shared<broker::Message>();
  m->timestamp_ns = static_cast<int64_t>(GetU64(p + 7));
  std::memcpy(m->id.bytes.data(), p + 23, broker::MessageId::kSize);
  m->body.assign(p + kRecordHeaderSize, r.size() - kRecordHeaderSize);
  out->message = std::move(m);
  out->attempts = static_cast<uint16_t>((static_cast<uint8_t>(p[5]) << 8) | static_cast<uint8_t>(p[6]));
  out->deliver_at_ns = static_cast<int64_t>(GetU64(p + 15));
  out->backend_seq = 0;
  return true;
}

std::string QueueKey(uint64_t queue_id, uint64_t seq) {
  std::string k(16, '\0');
  PutU64(queue_id, k.data());
  PutU64(seq, k.data() + 8);
  return k;
}

uint64_t SeqOfKey(std::string_view key) { return key.size() == 16 ? GetU64(key.data() + 8) : 0; }

}  // namespace nsq::storage
