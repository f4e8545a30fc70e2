#include "services/broker/core/message.h"

#include <cstring>

namespace nsq::broker {

bool MessageId::FromBytes(std::string_view raw, MessageId* out) {
  if (raw.size() != kSize) return false;
  std::memcpy(out->bytes.data(), raw.data(), kSize);
  return true;
}

MessageId IdGenerator::Next(absl::Time now) {
  constexpr int64_t kTwepoch = 1288834974288;  // NSQ's epoch, in ">> 20" units
  int64_t ts = absl::ToUnixNanos(now) >> 20;
  if (ts < last_ts_) ts = last_ts_;  // clock went backwards: stay monotonic
  if (ts == last_ts_) {
    if (++sequence_ > 0xfff) {
      sequence_ = 0;
      ++ts;
    }
  } else {
    sequence_ = 0;
  }
  last_ts_ = ts;
  uint64_t id = (static_cast<uint64_t>(ts - kTwepoch) << 22) |
                (static_cast<uint64_t>(node_id_ & 0x3ff) << 12) | static_cast<uint64_t>(sequence_);
  static constexpr char kHex[] = "0123456789abcdef";
  MessageId out;
  for (int i = 0; i < 16; ++i) {
    out.bytes[15 - i] = kHex[id & 0xf];
    id >>= 4;
  }
  return out;
}

}  // namespace nsq::broker
