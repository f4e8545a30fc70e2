// The broker's Prometheus metrics over an engine on the fake clock.

#include "services/broker/broker_metrics.h"

#include <string>
#include <string_view>
#include <vector>

#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "services/broker/core/engine_fixture.h"
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

TEST(BrokerPolicyMetricsTest, PolicyCountersAreExportedPerChannel) {
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

using ::testing::HasSubstr;
using ::testing::Not;

class BrokerMetricsTest : public engine_testing::EngineTest {
 protected:
  std::string Scrape() {
    BrokerMetrics metrics(engine_.get(), absl::UnixEpoch());
    return prometheus::TextSerializer().Serialize(metrics.Collect());
  }
};

TEST_F(BrokerMetricsTest, ChannelE2eLatencyIsAHistogramPerChannel) {
  engine_testing::RecordingSink sink;
  auto c = Sub("orders", "billing", &sink);
  Publish("orders", {"a", "b", "c"});
  clock_.Advance(absl::Milliseconds(3));
  ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(c->Finish(sink.deliveries[1].message->id).ok());
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE nsq_channel_e2e_latency_seconds histogram"));
  const std::string p = "nsq_channel_e2e_latency_seconds";
  const std::string l = "channel=\"billing\",topic=\"orders\"";
  EXPECT_THAT(text, HasSubstr(p + "_count{" + l + "} 2\n"));
  EXPECT_THAT(text, HasSubstr(p + "_sum{" + l + "} 2.006\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{" + l + ",le=\"0.001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{" + l + ",le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{" + l + ",le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{" + l + ",le=\"5\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(p + "_bucket{" + l + ",le=\"+Inf\"} 2\n"));
}

TEST_F(BrokerMetricsTest, NoE2eSeriesWhenRecordingIsOff) {
  EngineOptions o;
  o.record_e2e_latency = false;
  Reset(o);
  ASSERT_TRUE(engine_->CreateChannel("orders", "billing").ok());
  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("nsq_channel_depth{channel=\"billing\",topic=\"orders\"} 0"));
  EXPECT_THAT(text, Not(HasSubstr("nsq_channel_e2e_latency_seconds_count")));
}

}  // namespace
}  // namespace nsq::broker
