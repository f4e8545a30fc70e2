#include <cstdint>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "services/broker/core/message.h"

namespace nsq::broker {
namespace {


TEST(IdGeneratorTest, IdsAreSixteenHexCharsUniqueAndIncreasing) {
  IdGenerator gen(7);
  absl::Time now = absl::FromUnixSeconds(1700000000);
  std::set<std::string> seen;
  std::string last;
  // More than 4096 in one tick: the generator borrows the next tick instead of blocking.
  for (int i = 0; i < 10000; ++i) {
    std::string id = gen.Next(now).ToString();
    ASSERT_EQ(id.size(), 16u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ASSERT_GT(id, last);
    last = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdGeneratorTest, NodeIdIsEncodedInTheId) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  uint64_t a = std::stoull(IdGenerator(1).Next(now).ToString(), nullptr, 16);
  uint64_t b = std::stoull(IdGenerator(2).Next(now).ToString(), nullptr, 16);
  EXPECT_EQ((a >> 12) & 0x3ff, 1u);
  EXPECT_EQ((b >> 12) & 0x3ff, 2u);
}

}  // namespace
}  // namespace nsq::broker
