// Publish-to-FIN latency: the log-linear histogram, the per-channel recorder on the fake
// clock (Prometheus buckets, nsqd's windowed percentiles, the topic's merge).

#include "services/broker/core/e2e_latency.h"

#include <string>
#include <vector>

#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using engine_testing::RecordingSink;

constexpr double kMs = 1e6;

TEST(LatencyHistogramTest, BucketsCoverEveryValueInOrder) {
  int64_t prev_upper = 0;
  for (int i = 0; i < LatencyHistogram::kBuckets - 1; ++i) {
    EXPECT_EQ(LatencyHistogram::BucketLower(i), prev_upper) << i;
    prev_upper = LatencyHistogram::BucketUpper(i);
    EXPECT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketLower(i)), i);
    EXPECT_EQ(LatencyHistogram::BucketOf(prev_upper - 1), i);
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(INT64_MAX), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::BucketOf(0), 0);
}

TEST(LatencyHistogramTest, QuantilesAreWithinABucketAndTheMaxIsExact) {
  LatencyHistogram h;
  for (int i = 1; i <= 1000; ++i) h.Add(int64_t{i} * 1000 * 1000);  // 1..1000 ms
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_THAT(h.Quantile(0.5), DoubleNear(500 * kMs, 500 * kMs * 0.0625));
  EXPECT_THAT(h.Quantile(0.99), DoubleNear(990 * kMs, 990 * kMs * 0.0625));
  EXPECT_EQ(h.Quantile(1.0), 1000 * kMs);
  EXPECT_EQ(LatencyHistogram().Quantile(0.99), 0);
  LatencyHistogram one;
  one.Add(123456789);
  EXPECT_EQ(one.Quantile(0.5), 123456789);  // clamped to the exact min and max
}

class E2eLatencyTest : public engine_testing::EngineTest {
 protected:
  void WithPercentiles(std::vector<double> q, absl::Duration window = absl::Minutes(10)) {
    EngineOptions o;
    o.e2e_percentiles = std::move(q);
    o.e2e_window = window;
    Reset(o);
  }
  // Publishes n messages now, then FINs message i (0-based) after (i+1)*step.
  void FinishWithLatencies(const std::string& topic, const std::string& channel, int n,
                           absl::Duration step) {
    RecordingSink sink;
    auto c = Sub(topic, channel, &sink, n);
    PublishN(topic, n);
    ASSERT_THAT(sink.deliveries, SizeIs(n));
    for (const Delivery& d : sink.deliveries) {
      clock_.Advance(step);
      ASSERT_TRUE(c->Finish(d.message->id).ok());
    }
    c->Close();
  }
};

TEST_F(E2eLatencyTest, FinRecordsPublishToFinLatencyInThePrometheusBuckets) {
  RecordingSink sink;
  auto c = Sub("t", "c", &sink);
  Publish("t", {"a", "b"});
  clock_.Advance(absl::Milliseconds(250));
  ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
  clock_.Advance(absl::Seconds(20));
  std::vector<MessageId> ids = {sink.deliveries[1].message->id};
  ASSERT_TRUE(c->FinishBatch(ids)[0].ok());
  ChannelStats st = ChannelStatsOf("t", "c");
  ASSERT_THAT(st.e2e.buckets, SizeIs(kE2eBucketBoundsSeconds.size() + 1));
  EXPECT_EQ(st.e2e.count, 2u);
  EXPECT_DOUBLE_EQ(st.e2e.sum_seconds, 0.25 + 20.25);
  EXPECT_EQ(st.e2e.buckets[5], 1u);  // le 0.5 s
  EXPECT_EQ(st.e2e.buckets[9], 1u);  // le 30 s
  uint64_t total = 0;
  for (uint64_t b : st.e2e.buckets) total += b;
  EXPECT_EQ(total, 2u);
  // No percentiles unless configured: /stats stays as stock nsqd's.
  EXPECT_FALSE(st.e2e.has_percentiles);
  EXPECT_FALSE(TopicStatsOf("t").e2e.has_percentiles);
}

TEST_F(E2eLatencyTest, RequeueAndTimeoutDoNotRecordOnlyFin) {
  RecordingSink sink;
  auto c = Sub("t", "c", &sink);
  Publish("t", {"a"});
  ASSERT_TRUE(c->Requeue(sink.Take()[0].message->id, absl::ZeroDuration()).ok());
  Advance(absl::Seconds(61));  // the redelivery times out
  EXPECT_EQ(ChannelStatsOf("t", "c").e2e.count, 0u);
  std::vector<Delivery> got = sink.Take();
  ASSERT_THAT(got, SizeIs(2));  // after the requeue, after the timeout
  EXPECT_EQ(got[1].attempts, 3);
  ASSERT_TRUE(c->Finish(got[1].message->id).ok());
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.e2e.count, 1u);
  EXPECT_DOUBLE_EQ(st.e2e.sum_seconds, 61);  // from the first publish, across attempts
}

TEST_F(E2eLatencyTest, NotRecordedWhenTurnedOff) {
  EngineOptions o;
  o.record_e2e_latency = false;
  o.e2e_percentiles = {0.99};
  Reset(o);
  RecordingSink sink;
  auto c = Sub("t", "c", &sink);
  Publish("t", {"a"});
  ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_THAT(st.e2e.buckets, IsEmpty());
  EXPECT_FALSE(st.e2e.has_percentiles);
}

TEST_F(E2eLatencyTest, PercentilesOverTheWindowInTheConfiguredOrder) {
  WithPercentiles({1.0, 0.99, 0.5});
  FinishWithLatencies("t", "c", 100, absl::Milliseconds(1));  // 1..100 ms
  ChannelStats st = ChannelStatsOf("t", "c");
  ASSERT_TRUE(st.e2e.has_percentiles);
  EXPECT_EQ(st.e2e.window_count, 100u);
  ASSERT_THAT(st.e2e.percentiles, SizeIs(3));
  EXPECT_EQ(st.e2e.percentiles[0].quantile, 1.0);
  EXPECT_EQ(st.e2e.percentiles[0].value_ns, 100 * kMs);
  EXPECT_EQ(st.e2e.percentiles[1].quantile, 0.99);
  EXPECT_THAT(st.e2e.percentiles[1].value_ns, DoubleNear(99 * kMs, 99 * kMs * 0.0625));
  EXPECT_EQ(st.e2e.percentiles[2].quantile, 0.5);
  EXPECT_THAT(st.e2e.percentiles[2].value_ns, DoubleNear(50 * kMs, 50 * kMs * 0.0625));
}

TEST_F(E2eLatencyTest, OldLatenciesLeaveTheWindow) {
  WithPercentiles({1.0}, absl::Minutes(6));  // slots of one minute
  FinishWithLatencies("t", "c", 3, absl::Seconds(10));  // 10, 20, 30 s
  EXPECT_EQ(ChannelStatsOf("t", "c").e2e.window_count, 3u);
  clock_.Advance(absl::Minutes(3));
  FinishWithLatencies("t", "c", 1, absl::Milliseconds(5));
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.e2e.window_count, 4u);
  EXPECT_EQ(st.e2e.percentiles[0].value_ns, 30e9);
  clock_.Advance(absl::Minutes(4));  // the first three are over six minutes old
  st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.e2e.window_count, 1u);
  EXPECT_EQ(st.e2e.percentiles[0].value_ns, 5 * kMs);
  clock_.Advance(absl::Minutes(7));
  st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.e2e.window_count, 0u);
  EXPECT_EQ(st.e2e.percentiles[0].value_ns, 0);
  EXPECT_EQ(st.e2e.count, 4u);  // the Prometheus histogram is cumulative
}

TEST_F(E2eLatencyTest, TopicMergesItsChannelsWindows) {
  WithPercentiles({1.0, 0.5});
  FinishWithLatencies("t", "fast", 10, absl::Milliseconds(1));
  FinishWithLatencies("t", "slow", 10, absl::Milliseconds(100));
  TopicStats t = TopicStatsOf("t");
  ASSERT_TRUE(t.e2e.has_percentiles);
  EXPECT_EQ(t.e2e.window_count, 20u);
  ASSERT_THAT(t.e2e.percentiles, SizeIs(2));
  EXPECT_EQ(t.e2e.percentiles[0].value_ns, 1000 * kMs);
  EXPECT_LE(t.e2e.percentiles[1].value_ns, 10 * kMs * 1.0625);
  // A topic without channels has no percentiles (nsqd: a nil stream).
  Publish("lonely", {"x"});
  EXPECT_FALSE(TopicStatsOf("lonely").e2e.has_percentiles);
}

}  // namespace
}  // namespace nsq::broker
