#include "client/backoff.h"

#include "gtest/gtest.h"

namespace nsq::client {
namespace {

TEST(BackoffTest, ExponentialDoublesFromTheMultiplierAndIsCapped) {
  EXPECT_EQ(ExponentialBackoff(absl::Seconds(1), 0, absl::Minutes(2)), absl::Seconds(1));
  EXPECT_EQ(ExponentialBackoff(absl::Seconds(1), 3, absl::Minutes(2)), absl::Seconds(8));
  EXPECT_EQ(ExponentialBackoff(absl::Seconds(1), 7, absl::Minutes(2)), absl::Minutes(2));
  EXPECT_EQ(ExponentialBackoff(absl::Seconds(1), 1000, absl::Minutes(2)), absl::Minutes(2));
}

TEST(BackoffTest, FullJitterStaysBelowTheExponentialDurationAndVaries) {
  std::mt19937_64 rng(42);
  absl::Duration lo = absl::InfiniteDuration(), hi = absl::ZeroDuration();
  for (int i = 0; i < 200; ++i) {
    const absl::Duration d =
        BackoffDuration(BackoffStrategy::kFullJitter, absl::Seconds(1), 3, absl::Minutes(2), rng);
    ASSERT_GE(d, absl::ZeroDuration());
    ASSERT_LT(d, absl::Seconds(8));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, absl::Seconds(2));
  EXPECT_GT(hi, absl::Seconds(6));
}

}  // namespace
}  // namespace nsq::client
