#include "common/crc32c/crc32c.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace nsq {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
}

TEST(Crc32cTest, ExtendsOverMoreData) {
  const std::string data(1000, 'q');
  EXPECT_EQ(Crc32c(Crc32c(0, data.data(), 333), data.data() + 333, 667),
            Crc32c(0, data.data(), 1000));
}

TEST(Crc32cTest, HardwareAndSoftwareAgreeOnEveryLengthAndAlignment) {
  if (!crc32c_internal::HaveHardware()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  const unsigned seed = 20261201;
  std::mt19937 rng(seed);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n = 0; offset + n <= data.size(); n += 7) {
      const char* p = data.data() + offset;
      ASSERT_EQ(crc32c_internal::Hardware(0x1234u, p, n), crc32c_internal::Software(0x1234u, p, n))
          << "seed " << seed << " offset " << offset << " length " << n;
    }
  }
}

}  // namespace
}  // namespace nsq
