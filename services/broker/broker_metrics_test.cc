#include "services/broker/broker_metrics.h"

#include <string>
#include <string_view>
#include <vector>

#include "common/time/fake_clock.h"
#include "gtest/gtest.h"
#include "services/broker/core/memory_storage.h"

namespace nsq::broker {
namespace {

// The value of `family` for topic t, channel c; -1 if it is not exported.
double ChannelValue(const std::vector<prometheus::MetricFamily>& families, const std::string& family) {
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      bool topic = false, channel = false;
      for (const auto& l : m.label) {
        topic |= l.name == "topic" && l.value == "t";
        channel |= l.name == "channel" && l.value == "c";
      }
      if (topic && channel) return m.counter.value;
    }
  }
  return -1;
}

TEST(BrokerMetricsTest, PolicyCountersAreExportedPerChannel) {
  FakeClock clock;
  MemoryStorage storage;
  Engine engine(EngineOptions{}, &clock, &storage);
  ASSERT_TRUE(engine.Start().ok());
  BrokerMetrics metrics(&engine, clock.Now());
  ASSERT_TRUE(engine.CreateChannel("t", "c").ok());
  // Exported as 0 before anything happened, so rates work from the first scrape.
  EXPECT_EQ(ChannelValue(metrics.Collect(), "nsq_channel_depth_rejected_total"), 0);
  EXPECT_EQ(ChannelValue(metrics.Collect(), "nsq_channel_dead_lettered_total"), 0);

  QueuePolicy reject;
  reject.max_depth = 1;
  ASSERT_TRUE(engine.SetChannelPolicy("t", "c", reject).ok());
  const std::vector<std::string_view> bodies = {"a", "b", "c"};
  ASSERT_TRUE(engine.Publish("t", absl::MakeConstSpan(bodies).subspan(0, 1)).ok());
  EXPECT_FALSE(engine.Publish("t", absl::MakeConstSpan(bodies).subspan(1, 2)).ok());
  QueuePolicy drop = reject;
  drop.depth_policy = DepthPolicy::kDropOldest;
  ASSERT_TRUE(engine.SetChannelPolicy("t", "c", drop).ok());
  ASSERT_TRUE(engine.Publish("t", absl::MakeConstSpan(bodies).subspan(2, 1)).ok());

  const std::vector<prometheus::MetricFamily> families = metrics.Collect();
  EXPECT_EQ(ChannelValue(families, "nsq_channel_depth_rejected_total"), 2);
  EXPECT_EQ(ChannelValue(families, "nsq_channel_depth_dropped_total"), 1);
  EXPECT_EQ(ChannelValue(families, "nsq_channel_attempts_exceeded_total"), 0);
  EXPECT_EQ(ChannelValue(families, "nsq_channel_expired_total"), 0);
  EXPECT_EQ(ChannelValue(families, "nsq_channel_dead_lettered_total"), 0);
  for (const prometheus::MetricFamily& f : families) {
    if (f.name.rfind("nsq_channel_depth_", 0) == 0) EXPECT_EQ(f.type, prometheus::MetricType::Counter);
  }
  engine.Shutdown();
}

}  // namespace
}  // namespace nsq::broker
