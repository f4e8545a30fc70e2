#include "services/admin/history.h"

#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

Counters C(int64_t depth, int64_t messages, int64_t delivered, int64_t backlog, int64_t req = 0, int64_t to = 0) {
  Counters c;
  c.depth = depth;
  c.messages = messages;
  c.delivered_in = delivered;
  c.backlog = backlog;
  c.requeued = req;
  c.timed_out = to;
  return c;
}

TEST(RatesTest, PerSecondDifferences) {
  Rates r = RatesBetween(C(0, 100, 100, 10, 5, 1), C(0, 300, 300, 30, 25, 3), absl::Seconds(2));
  EXPECT_DOUBLE_EQ(r.in, 100);
  EXPECT_DOUBLE_EQ(r.requeued, 10);
  EXPECT_DOUBLE_EQ(r.timed_out, 1);
  // 200 entered the channels, their backlog grew by 20: 180 finished in 2 s.
  EXPECT_DOUBLE_EQ(r.finished, 90);
}

TEST(RatesTest, CountersThatWentDownCountAsZero) {
  Rates r = RatesBetween(C(0, 500, 500, 0, 9, 9), C(0, 10, 10, 0, 1, 1), absl::Seconds(1));
  EXPECT_EQ(r.in, 0);
  EXPECT_EQ(r.requeued, 0);
  EXPECT_EQ(r.timed_out, 0);
  EXPECT_EQ(r.finished, 0);
  // An emptied backlog (nothing entered) is not counted as finished work below zero.
  r = RatesBetween(C(0, 0, 0, 100), C(0, 0, 0, 0), absl::Seconds(1));
  EXPECT_DOUBLE_EQ(r.finished, 100);
  r = RatesBetween(C(0, 0, 0, 0), C(0, 0, 0, 100), absl::Seconds(1));
  EXPECT_EQ(r.finished, 0);
  EXPECT_EQ(RatesBetween(C(0, 0, 0, 0), C(0, 9, 9, 0), absl::ZeroDuration()).in, 0);
}

TEST(HistoryTest, CurrentRateUsesTheLastTwoPolls) {
  History h(absl::Minutes(15), absl::Seconds(15), 100);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  h.Record(t0, {{"topic:a", C(0, 0, 0, 0)}});
  EXPECT_FALSE(h.CurrentRates("topic:a").has_value());
  h.Record(t0 + absl::Seconds(2), {{"topic:a", C(0, 20, 20, 0)}});
  h.Record(t0 + absl::Seconds(4), {{"topic:a", C(0, 60, 60, 0)}});
  ASSERT_TRUE(h.CurrentRates("topic:a").has_value());
  EXPECT_DOUBLE_EQ(h.CurrentRates("topic:a")->in, 20);
  EXPECT_FALSE(h.CurrentRates("topic:b").has_value());
}

TEST(HistoryTest, RingKeepsOnePointPerStepAndWraps) {
  History h(absl::Seconds(100), absl::Seconds(10), 100);
  EXPECT_EQ(h.capacity(), 10u);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  // A poll every 5 s for 200 s: one point per 10 s is kept, the last 10 of them.
  for (int i = 0; i <= 40; ++i) {
    h.Record(t0 + absl::Seconds(5 * i), {{"c", C(i, 10 * i, 10 * i, i)}});
  }
  auto s = h.Series("c");
  ASSERT_EQ(s.size(), 10u);
  for (size_t k = 1; k < s.size(); ++k) {
    EXPECT_EQ(s[k].unix_ms - s[k - 1].unix_ms, 10000);
    EXPECT_DOUBLE_EQ(s[k].rates.in, 2);  // 20 messages per 10 s
  }
  EXPECT_EQ(s.back().depth, 40);
  EXPECT_EQ(s.front().depth, 22);
  EXPECT_EQ(s.front().rates.in, 0);  // no previous point
}

TEST(HistoryTest, SeriesAreBoundedAndForgottenAfterTheWindow) {
  History h(absl::Seconds(60), absl::Seconds(10), 2);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  h.Record(t0, {{"a", C(1, 1, 1, 1)}, {"b", C(1, 1, 1, 1)}, {"c", C(1, 1, 1, 1)}});
  EXPECT_EQ(h.series_count(), 2u);
  EXPECT_EQ(h.dropped_series(), 1);
  EXPECT_TRUE(h.Series("c").empty());
  // "a" keeps reporting; "b" stops and is dropped once the window passes.
  h.Record(t0 + absl::Seconds(61), {{"a", C(1, 1, 1, 1)}});
  EXPECT_EQ(h.series_count(), 1u);
  EXPECT_TRUE(h.Series("b").empty());
  EXPECT_EQ(h.Series("a").size(), 2u);
}

}  // namespace
}  // namespace nsq::admin
