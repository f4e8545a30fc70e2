// Raw DEFLATE and Snappy framing as the V2 connection uses them, without sockets.

#include "services/broker/legacy/stream_codec.h"

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace nsq::legacy {
namespace {

TEST(StreamCodecTest, SnappyAndDeflateRoundTripInPieces) {
  for (bool snappy : {true, false}) {
    auto a = snappy ? NewSnappyCodec() : NewDeflateCodec(6);
    auto b = snappy ? NewSnappyCodec() : NewDeflateCodec(6);
    std::string wire;
    const std::string big(200000, 'q');
    a->Encode("first", &wire);
    a->Encode(big, &wire);
    std::string out;
    for (char c : wire) {  // one byte at a time
      b->Feed(std::string_view(&c, 1));
      size_t n = 0;
      do {
        ASSERT_TRUE(b->Decode(&out, 1000, &n).ok());
      } while (n > 0);
    }
    EXPECT_EQ(out, "first" + big) << snappy;
  }
}

TEST(StreamCodecTest, SnappyStartsWithTheStreamIdentifier) {
  auto a = NewSnappyCodec();
  std::string wire;
  a->Encode("x", &wire);
  EXPECT_EQ(wire.substr(0, 10), std::string("\xff\x06\x00\x00sNaPpY", 10));
}

TEST(StreamCodecTest, CorruptSnappyChecksumIsDataLoss) {
  auto a = NewSnappyCodec();
  auto b = NewSnappyCodec();
  std::string wire;
  a->Encode("hello", &wire);
  wire[14] ^= 1;  // inside the checksum of the first chunk
  b->Feed(wire);
  std::string out;
  size_t n = 0;
  EXPECT_EQ(b->Decode(&out, 100, &n).code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace nsq::legacy
