#include "tools/nsq_to_http/host_pool.h"

#include "gtest/gtest.h"

namespace nsq::tools {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(HostPoolTest, RoundRobinTakesTurnsWhateverHappens) {
  HostPool p(3, false);
  EXPECT_EQ(p.Pick(kT0), 0u);
  p.Report(0, false, kT0);
  EXPECT_EQ(p.Pick(kT0), 1u);
  EXPECT_EQ(p.Pick(kT0), 2u);
  EXPECT_EQ(p.Pick(kT0), 0u);
}

TEST(HostPoolTest, AFailedHostIsAvoidedUntilItsRetryTime) {
  HostPool p(2, true, absl::Seconds(30));
  p.Report(0, false, kT0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.Pick(kT0 + absl::Seconds(i)), 1u);
  // Back in the pool after 30 s.
  bool saw0 = false;
  for (int i = 0; i < 4; ++i) saw0 |= p.Pick(kT0 + absl::Seconds(31)) == 0;
  EXPECT_TRUE(saw0);
  // A second failure keeps it out twice as long.
  p.Report(0, false, kT0 + absl::Seconds(31));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(p.Pick(kT0 + absl::Seconds(31 + 59)), 1u);
}

TEST(HostPoolTest, WithEveryHostDownTheFirstToReturnIsTried) {
  HostPool p(2, true, absl::Seconds(30));
  p.Report(1, false, kT0);
  p.Report(0, false, kT0 + absl::Seconds(5));
  EXPECT_EQ(p.Pick(kT0 + absl::Seconds(6)), 1u);
}

}  // namespace
}  // namespace nsq::tools
