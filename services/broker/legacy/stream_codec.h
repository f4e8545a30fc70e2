#pragma once

// The compressed streams a V2 connection can negotiate in IDENTIFY (nsq.md 1.5): raw
// DEFLATE (RFC 1951, sync-flushed on every write) and Snappy's framing format. zlib and
// snappy stay in stream_codec.cc.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace nsq::legacy {

// One direction each way of one connection; not thread-safe.
class StreamCodec {
 public:
  virtual ~StreamCodec() = default;
  // Compresses `data` as one flushed unit (the peer can decode all of it at once) and
  // appends the bytes to `out`.
  virtual void Encode(std::string_view data, std::string* out) = 0;
  // Takes compressed bytes from the peer.
  virtual void Feed(std::string_view data) = 0;
  // Appends decompressed bytes to `out`, at most about `max` of them (so a small input
  // cannot inflate into unbounded memory); 0 when it needs more input. DataLoss when the
  // stream is corrupt.
  virtual absl::Status Decode(std::string* out, size_t max, size_t* produced) = 0;
};

// `level` 1..9.
std::unique_ptr<StreamCodec> NewDeflateCodec(int level);
std::unique_ptr<StreamCodec> NewSnappyCodec();

}  // namespace nsq::legacy
