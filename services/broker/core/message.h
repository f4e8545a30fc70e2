#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace nsq::broker {

// NSQ's 16-byte message id: 16 lowercase hex characters of a 64-bit snowflake-like id.
// Clients treat it as opaque bytes.
struct MessageId {
  static constexpr size_t kSize = 16;
  std::array<char, kSize> bytes{};

  std::string_view view() const { return std::string_view(bytes.data(), kSize); }
  std::string ToString() const { return std::string(view()); }
  // False unless `raw` is exactly 16 bytes.
  static bool FromBytes(std::string_view raw, MessageId* out);

  // As two words: every FIN, REQ and TOUCH looks its id up in a channel's in-flight map
  // (a byte-string hash and a memcmp call were ~10% of a consuming broker's CPU).
  friend bool operator==(const MessageId& a, const MessageId& b) {
    return a.word(0) == b.word(0) && a.word(1) == b.word(1);
  }
  friend bool operator!=(const MessageId& a, const MessageId& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const MessageId& id) {
    return H::combine(std::move(h), id.word(0), id.word(1));
  }

 private:
  uint64_t word(int i) const {
    uint64_t w;
    std::memcpy(&w, bytes.data() + 8 * i, sizeof(w));
    return w;
  }
};

// Where a dead-lettered message came from: carried by its copy in the dead-letter topic.
struct MessageOrigin {
  enum class Reason : uint8_t { kMaxAttempts = 1, kExpired = 2 };
  std::string topic;
  std::string channel;
  MessageId id;           // its id there
  uint16_t attempts = 0;  // deliveries there
  Reason reason = Reason::kMaxAttempts;
};

// A published message. Immutable once built and shared (reference counted) by every
// channel of its topic, so a topic with N channels holds the body once.
struct Message {
  MessageId id;
  int64_t timestamp_ns = 0;  // publish time, Unix ns
  std::string body;
  std::shared_ptr<const MessageOrigin> origin;  // set on dead-letter copies only
};
using MessagePtr = std::shared_ptr<const Message>;

// Makes NSQ ids: ((ts - epoch) << 22) | (node_id << 12) | sequence, ts = UnixNano >> 20.
// NSQ sleeps when the 12-bit sequence runs out inside one tick; this one borrows the next
// tick instead, so ids stay unique and increasing without blocking. Not thread-safe: one
// per topic, used under the topic's lock.
class IdGenerator {
 public:
  explicit IdGenerator(int64_t node_id) : node_id_(node_id) {}
  MessageId Next(absl::Time now);

 private:
  int64_t node_id_;
  int64_t last_ts_ = 0;
  int64_t sequence_ = 0;
};

}  // namespace nsq::broker
