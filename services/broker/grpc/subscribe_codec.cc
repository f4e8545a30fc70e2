#include "services/broker/grpc/subscribe_codec.h"

#include <cstring>
#include <string_view>

namespace nsq::broker::subscribe_codec {
namespace {

// Wire types and the tags used (field_number << 3 | wire_type).
constexpr uint8_t kVarint = 0;
constexpr uint8_t kLen = 2;
constexpr uint8_t Tag(int field, uint8_t wire_type) {
  return static_cast<uint8_t>(field << 3 | wire_type);
}
// SubscribeResponse.messages, SubscribeRequest.finish, SubscribeRequest.Finish.ids.
constexpr uint8_t kResponseMessagesTag = Tag(1, kLen);
constexpr uint8_t kRequestFinishTag = Tag(3, kLen);
constexpr uint8_t kFinishIdsTag = Tag(1, kLen);
// nsq.v1.Message fields.
constexpr uint8_t kIdTag = Tag(1, kLen);
constexpr uint8_t kTimestampTag = Tag(2, kVarint);
constexpr uint8_t kAttemptsTag = Tag(3, kVarint);
constexpr uint8_t kBodyTag = Tag(4, kLen);
constexpr uint8_t kOriginTag = Tag(5, kLen);
// nsq.v1.Origin fields.
constexpr uint8_t kOriginTopicTag = Tag(1, kLen);
constexpr uint8_t kOriginChannelTag = Tag(2, kLen);
constexpr uint8_t kOriginIdTag = Tag(3, kLen);
constexpr uint8_t kOriginAttemptsTag = Tag(4, kVarint);
constexpr uint8_t kOriginReasonTag = Tag(5, kVarint);

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(uint64_t v, char* out) {
  while (v >= 0x80) {
    *out++ = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<char>(v);
  return out;
}

size_t LenFieldSize(size_t n) { return n == 0 ? 0 : 1 + VarintSize(n) + n; }

// The size of an encoded nsq.v1.Origin (without its own tag and length).
size_t OriginSize(const MessageOrigin& o) {
  size_t n = LenFieldSize(o.topic.size()) + LenFieldSize(o.channel.size()) + 1 + 1 + MessageId::kSize;
  if (o.attempts != 0) n += 1 + VarintSize(o.attempts);
  n += 1 + VarintSize(static_cast<uint8_t>(o.reason));
  return n;
}

char* PutLenField(uint8_t tag, std::string_view v, char* out) {
  if (v.empty()) return out;
  *out++ = static_cast<char>(tag);
  out = PutVarint(v.size(), out);
  std::memcpy(out, v.data(), v.size());
  return out + v.size();
}

char* PutOrigin(const MessageOrigin& o, char* out) {
  *out++ = static_cast<char>(kOriginTag);
  out = PutVarint(OriginSize(o), out);
  out = PutLenField(kOriginTopicTag, o.topic, out);
  out = PutLenField(kOriginChannelTag, o.channel, out);
  out = PutLenField(kOriginIdTag, o.id.view(), out);
  if (o.attempts != 0) {
    *out++ = static_cast<char>(kOriginAttemptsTag);
    out = PutVarint(o.attempts, out);
  }
  *out++ = static_cast<char>(kOriginReasonTag);
  return PutVarint(static_cast<uint8_t>(o.reason), out);
}

// The size of one encoded nsq.v1.Message (without its own tag and length).
size_t MessageSize(const Delivery& d) {
  size_t n = 1 + 1 + MessageId::kSize;  // id is always 16 bytes
  // int64 as a varint: negative values take 10 bytes, as protobuf writes them.
  const uint64_t ts = static_cast<uint64_t>(d.message->timestamp_ns);
  if (ts != 0) n += 1 + VarintSize(ts);
  if (d.attempts != 0) n += 1 + VarintSize(d.attempts);
  const size_t body = d.message->body.size();
  if (body != 0) n += 1 + VarintSize(body) + body;
  if (d.message->origin) {
    const size_t o = OriginSize(*d.message->origin);
    n += 1 + VarintSize(o) + o;
  }
  return n;
}

// Reads a length varint at *p (< end). False if truncated, longer than 5 bytes or over
// INT32_MAX (protobuf's bound for a length): such input takes the protobuf path.
bool GetLength(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 35 && *p < end; shift += 7) {
    const uint8_t byte = *(*p)++;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return result <= 0x7fffffff;
    }
  }
  return false;
}

// Reads a one-byte tag equal to `tag` followed by a length that fits before `end`.
bool GetLenField(const uint8_t** p, const uint8_t* end, uint8_t tag, uint64_t* len) {
  if (*p >= end || **p != tag) return false;
  ++*p;
  if (!GetLength(p, end, len)) return false;
  return *len <= static_cast<uint64_t>(end - *p);
}

}  // namespace

size_t EncodedMessagesSize(absl::Span<const Delivery> deliveries) {
  size_t total = 0;
  for (const Delivery& d : deliveries) {
    const size_t n = MessageSize(d);
    total += 1 + VarintSize(n) + n;
  }
  return total;
}

char* EncodeMessages(absl::Span<const Delivery> deliveries, char* out) {
  for (const Delivery& d : deliveries) {
    const Message& m = *d.message;
    *out++ = static_cast<char>(kResponseMessagesTag);
    out = PutVarint(MessageSize(d), out);
    *out++ = static_cast<char>(kIdTag);
    *out++ = static_cast<char>(MessageId::kSize);
    std::memcpy(out, m.id.bytes.data(), MessageId::kSize);
    out += MessageId::kSize;
    const uint64_t ts = static_cast<uint64_t>(m.timestamp_ns);
    if (ts != 0) {
      *out++ = static_cast<char>(kTimestampTag);
      out = PutVarint(ts, out);
    }
    if (d.attempts != 0) {
      *out++ = static_cast<char>(kAttemptsTag);
      out = PutVarint(d.attempts, out);
    }
    if (!m.body.empty()) {
      *out++ = static_cast<char>(kBodyTag);
      out = PutVarint(m.body.size(), out);
      std::memcpy(out, m.body.data(), m.body.size());
      out += m.body.size();
    }
    if (m.origin) out = PutOrigin(*m.origin, out);
  }
  return out;
}

bool DecodeFinishOnly(absl::string_view data, std::vector<absl::string_view>* ids) {
  ids->clear();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(data.data());
  const uint8_t* const end = p + data.size();
  uint64_t len = 0;
  if (!GetLenField(&p, end, kRequestFinishTag, &len)) return false;
  const uint8_t* const finish_end = p + len;
  if (finish_end != end) return false;  // anything after the one finish field
  while (p < finish_end) {
    if (!GetLenField(&p, finish_end, kFinishIdsTag, &len)) return false;
    ids->emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    p += len;
  }
  return true;
}

}  // namespace nsq::broker::subscribe_codec
