// The broker's Prometheus metrics over an engine on the fake clock.

#include "services/broker/broker_metrics.h"

#include <string>
#include <vector>

#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"
#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

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
