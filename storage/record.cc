#include "storage/record.h"

#include "common/crc32c/crc32c.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace nsq::storage {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kVersionWithExtra = 2;
constexpr uint8_t kVersionPack = 3;
constexpr uint8_t kVersionRef = 4;

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

std::string RecordExtra(const broker::QueuedMessage& m) {
  const broker::MessageOrigin* o = m.message->origin.get();
  if (o == nullptr) return "";
  std::string rest;
  rest.push_back(static_cast<char>(o->reason));
  rest.push_back(static_cast<char>(o->attempts >> 8));
  rest.push_back(static_cast<char>(o->attempts & 0xff));
  rest.append(o->id.bytes.data(), broker::MessageId::kSize);
  for (const std::string* part : {&o->topic, &o->channel}) {
    const size_t n = std::min<size_t>(part->size(), 0xffff);
    rest.push_back(static_cast<char>(n >> 8));
    rest.push_back(static_cast<char>(n & 0xff));
    rest.append(part->data(), n);
  }
  std::string out(4, '\0');
  const uint32_t len = static_cast<uint32_t>(rest.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(len >> (24 - 8 * i));
  return out + rest;
}

void EncodeRecordHeader(const broker::QueuedMessage& m, std::string_view extra,
                        char (&p)[kRecordHeaderSize]) {
  const std::string& body = m.message->body;
  p[4] = static_cast<char>(extra.empty() ? kVersion : kVersionWithExtra);
  p[5] = static_cast<char>(m.attempts >> 8);
  p[6] = static_cast<char>(m.attempts & 0xff);
  PutU64(static_cast<uint64_t>(m.message->timestamp_ns), p + 7);
  PutU64(static_cast<uint64_t>(m.deliver_at_ns), p + 15);
  std::memcpy(p + 23, m.message->id.bytes.data(), broker::MessageId::kSize);
  uint32_t crc = Crc32c(0, p + 4, kRecordHeaderSize - 4);
  crc = Crc32c(crc, extra.data(), extra.size());
  crc = Crc32c(crc, body.data(), body.size());
  p[0] = static_cast<char>(crc >> 24);
  p[1] = static_cast<char>(crc >> 16);
  p[2] = static_cast<char>(crc >> 8);
  p[3] = static_cast<char>(crc);
}

void EncodeRecord(const broker::QueuedMessage& m, std::string* out) {
  char header[kRecordHeaderSize];
  const std::string extra = RecordExtra(m);
  EncodeRecordHeader(m, extra, header);
  out->assign(header, kRecordHeaderSize);
  out->append(extra);
  out->append(m.message->body);
}

namespace {
uint16_t GetU16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

// Parses the extra part at the start of `r` into `origin`; the bytes it took, or 0.
size_t DecodeExtra(std::string_view r, broker::MessageOrigin* origin) {
  if (r.size() < 4) return 0;
  const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(r[0])) << 24) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(r[1])) << 16) |
                       (static_cast<uint32_t>(static_cast<uint8_t>(r[2])) << 8) |
                       static_cast<uint32_t>(static_cast<uint8_t>(r[3]));
  if (len > r.size() - 4 || len < 1 + 2 + broker::MessageId::kSize + 4) return 0;
  std::string_view e = r.substr(4, len);
  origin->reason = static_cast<broker::MessageOrigin::Reason>(static_cast<uint8_t>(e[0]));
  origin->attempts = GetU16(e.data() + 1);
  std::memcpy(origin->id.bytes.data(), e.data() + 3, broker::MessageId::kSize);
  e.remove_prefix(3 + broker::MessageId::kSize);
  for (std::string* part : {&origin->topic, &origin->channel}) {
    if (e.size() < 2) return 0;
    const size_t n = GetU16(e.data());
    if (e.size() < 2 + n) return 0;
    part->assign(e.data() + 2, n);
    e.remove_prefix(2 + n);
  }
  return 4 + len;
}
}  // namespace

bool DecodeRecord(std::string_view r, broker::QueuedMessage* out) {
  if (r.size() < kRecordHeaderSize) return false;
  const char* p = r.data();
  uint32_t stored = (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
                    (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
                    static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
  if (stored != Crc32c(0, p + 4, r.size() - 4)) return false;
  const uint8_t version = static_cast<uint8_t>(p[4]);
  if (version != kVersion && version != kVersionWithExtra) return false;
  auto m = std::make_shared<broker::Message>();
  m->timestamp_ns = static_cast<int64_t>(GetU64(p + 7));
  std::memcpy(m->id.bytes.data(), p + 23, broker::MessageId::kSize);
  size_t body_at = kRecordHeaderSize;
  if (version == kVersionWithExtra) {
    auto origin = std::make_shared<broker::MessageOrigin>();
    const size_t n = DecodeExtra(r.substr(kRecordHeaderSize), origin.get());
    if (n == 0) return false;
    body_at += n;
    m->origin = std::move(origin);
  }
  m->body.assign(p + body_at, r.size() - body_at);
  out->message = std::move(m);
  out->attempts = GetU16(p + 5);
  out->deliver_at_ns = static_cast<int64_t>(GetU64(p + 15));
  out->backend_seq = 0;
  return true;
}

void EncodePackLength(uint32_t length, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(length >> (24 - 8 * i));
}

namespace {
uint32_t GetU32(const char* p) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(p[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(p[3]));
}
}  // namespace

void EncodePackHeader(uint32_t records, char (&p)[kPackHeaderSize]) {
  p[4] = static_cast<char>(kVersionPack);
  EncodePackLength(records, p + 5);
  EncodePackLength(Crc32c(0, p + 4, kPackHeaderSize - 4), p);
}

void EncodeRef(uint32_t records, uint64_t store, uint64_t first, char (&p)[kRefSize]) {
  p[4] = static_cast<char>(kVersionRef);
  EncodePackLength(records, p + 5);
  PutU64(store, p + 9);
  PutU64(first, p + 17);
  EncodePackLength(Crc32c(0, p + 4, kRefSize - 4), p);
}

ValueRecords::ValueRecords(std::string_view value) : rest_(value) {
  if (value.size() >= 5 && static_cast<uint8_t>(value[4]) == kVersionRef) {
    ref_ = true;
    rest_ = {};
    if (value.size() == kRefSize && GetU32(value.data()) == Crc32c(0, value.data() + 4, kRefSize - 4)) {
      count_ = GetU32(value.data() + 5);
      ref_store_ = GetU64(value.data() + 9);
      ref_first_ = GetU64(value.data() + 17);
    }
    return;
  }
  if (value.size() < 5 || static_cast<uint8_t>(value[4]) != kVersionPack) {
    count_ = left_ = 1;  // a lone record; DecodeRecord tells whether it is intact
    return;
  }
  pack_ = true;
  if (value.size() < kPackHeaderSize ||
      GetU32(value.data()) != Crc32c(0, value.data() + 4, kPackHeaderSize - 4)) {
    rest_ = {};
    return;
  }
  count_ = left_ = GetU32(value.data() + 5);
  rest_.remove_prefix(kPackHeaderSize);
}

bool ValueRecords::Next(std::string_view* record) {
  if (left_ == 0 || ref_) return false;
  if (!pack_) {
    *record = rest_;
    left_ = 0;
    return true;
  }
  if (rest_.size() < 4 || GetU32(rest_.data()) > rest_.size() - 4) {
    left_ = 0;
    return false;
  }
  const uint32_t n = GetU32(rest_.data());
  *record = rest_.substr(4, n);
  rest_.remove_prefix(4 + n);
  --left_;
  return true;
}

void EncodeQueueKey(uint64_t queue_id, uint64_t seq, char* out) {
  PutU64(queue_id, out);
  PutU64(seq, out + 8);
}

std::string QueueKey(uint64_t queue_id, uint64_t seq) {
  std::string k(16, '\0');
  EncodeQueueKey(queue_id, seq, k.data());
  return k;
}

uint64_t SeqOfKey(std::string_view key) { return key.size() == 16 ? GetU64(key.data() + 8) : 0; }

}  // namespace nsq::storage
