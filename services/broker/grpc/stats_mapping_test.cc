#include "services/broker/grpc/stats_mapping.h"

#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nsq/v1/broker.pb.h"

namespace nsq::broker {
namespace {

std::vector<TopicStats> OneTopicOneChannelOneClient() {
  ConsumerStats consumer;
  consumer.info.client_id = "client\x01";
  consumer.info.hostname = "host";
  consumer.info.user_agent = "agent/1.0";
  consumer.info.remote_address = "127.0.0.1:5000";
  consumer.info.protocol = "grpc";
  consumer.msg_timeout = absl::Seconds(30);
  consumer.ready_count = 5;
  consumer.in_flight_count = 2;
  consumer.message_count = 10;
  consumer.finish_count = 7;
  consumer.requeue_count = 1;
  consumer.connect_time = absl::FromUnixSeconds(1700000000);
  consumer.info.topology_zone = "z1";
  consumer.info.topology_region = "r1";
  ChannelStats channel;
  channel.name = "ch";
  channel.depth = 3;
  channel.backend_depth = 1;
  channel.in_flight_count = 2;
  channel.deferred_count = 4;
  channel.message_count = 10;
  channel.requeue_count = 1;
  channel.timeout_count = 6;
  channel.paused = true;
  channel.held_count = 5;
  channel.zone_local_msg_count = 7;
  channel.region_local_msg_count = 2;
  channel.global_msg_count = 1;
  channel.consumer_count = 1;
  channel.consumers.push_back(consumer);
  TopicStats topic;
  topic.name = "t";
  topic.depth = 8;
  topic.backend_depth = 2;
  topic.message_count = 11;
  topic.message_bytes = 99;
  topic.paused = false;
  topic.channels.push_back(channel);
  return {topic};
}

TEST(StatsMappingTest, CopiesEveryTopicAndChannelFigure) {
  nsq::v1::GetStatsResponse response;
  AddTopicStats(OneTopicOneChannelOneClient(), /*include_clients=*/true, &response);
  ASSERT_EQ(response.topics_size(), 1);
  const nsq::v1::TopicStats& t = response.topics(0);
  EXPECT_EQ(t.topic_name(), "t");
  EXPECT_EQ(t.depth(), 8);
  EXPECT_EQ(t.backend_depth(), 2);
  EXPECT_EQ(t.message_count(), 11u);
  EXPECT_EQ(t.message_bytes(), 99u);
  EXPECT_FALSE(t.paused());
  ASSERT_EQ(t.channels_size(), 1);
  const nsq::v1::ChannelStats& c = t.channels(0);
  EXPECT_EQ(c.channel_name(), "ch");
  EXPECT_EQ(c.depth(), 3);
  EXPECT_EQ(c.backend_depth(), 1);
  EXPECT_EQ(c.in_flight_count(), 2);
  EXPECT_EQ(c.deferred_count(), 4);
  EXPECT_EQ(c.message_count(), 10u);
  EXPECT_EQ(c.requeue_count(), 1u);
  EXPECT_EQ(c.timeout_count(), 6u);
  EXPECT_EQ(c.client_count(), 1);
  EXPECT_TRUE(c.paused());
  EXPECT_EQ(c.held_in_memory_count(), 5);
  EXPECT_EQ(c.zone_local_msg_count(), 7u);
  EXPECT_EQ(c.region_local_msg_count(), 2u);
  EXPECT_EQ(c.global_msg_count(), 1u);
}

TEST(StatsMappingTest, ClientsCarryTheirFiguresWithClientTextMadePrintable) {
  nsq::v1::GetStatsResponse response;
  AddTopicStats(OneTopicOneChannelOneClient(), /*include_clients=*/true, &response);
  ASSERT_EQ(response.topics(0).channels(0).clients_size(), 1);
  const nsq::v1::ClientStats& s = response.topics(0).channels(0).clients(0);
  EXPECT_EQ(s.client_id(), "client\\x01");
  EXPECT_EQ(s.hostname(), "host");
  EXPECT_EQ(s.user_agent(), "agent/1.0");
  EXPECT_EQ(s.remote_address(), "127.0.0.1:5000");
  EXPECT_EQ(s.protocol(), "grpc");
  EXPECT_EQ(s.ready_count(), 5);
  EXPECT_EQ(s.in_flight_count(), 2);
  EXPECT_EQ(s.message_count(), 10u);
  EXPECT_EQ(s.finish_count(), 7u);
  EXPECT_EQ(s.requeue_count(), 1u);
  EXPECT_EQ(s.connect_ts_ns(), int64_t{1700000000} * 1000000000);
  EXPECT_EQ(s.msg_timeout_ms(), 30000);
  EXPECT_EQ(s.topology_zone(), "z1");
  EXPECT_EQ(s.topology_region(), "r1");
}

TEST(StatsMappingTest, ClientsAreLeftOutWhenNotAskedFor) {
  nsq::v1::GetStatsResponse response;
  AddTopicStats(OneTopicOneChannelOneClient(), /*include_clients=*/false, &response);
  EXPECT_EQ(response.topics(0).channels(0).client_count(), 1);
  EXPECT_EQ(response.topics(0).channels(0).clients_size(), 0);
}

TEST(StatsMappingTest, AppendsTopicsInTheEnginesOrder) {
  std::vector<TopicStats> stats(2);
  stats[0].name = "b";
  stats[1].name = "a";
  nsq::v1::GetStatsResponse response;
  AddTopicStats(stats, true, &response);
  ASSERT_EQ(response.topics_size(), 2);
  EXPECT_EQ(response.topics(0).topic_name(), "b");
  EXPECT_EQ(response.topics(1).topic_name(), "a");
}

}  // namespace
}  // namespace nsq::broker

namespace nsq::broker {
namespace {

TEST(StatsMappingTest, E2ePercentilesAreCopiedOnlyWhenConfigured) {
  std::vector<TopicStats> stats = OneTopicOneChannelOneClient();
  nsq::v1::GetStatsResponse plain;
  AddTopicStats(stats, false, &plain);
  EXPECT_FALSE(plain.topics(0).has_e2e_processing_latency());
  EXPECT_FALSE(plain.topics(0).channels(0).has_e2e_processing_latency());

  E2eLatencyStats e2e;
  e2e.has_percentiles = true;
  e2e.window_count = 12;
  e2e.percentiles = {{1.0, 3e9}, {0.99, 2e6}};
  stats[0].channels[0].e2e = e2e;
  stats[0].e2e = e2e;
  stats[0].e2e.window_count = 20;
  nsq::v1::GetStatsResponse r;
  AddTopicStats(stats, false, &r);
  const nsq::v1::E2eLatency& c = r.topics(0).channels(0).e2e_processing_latency();
  EXPECT_EQ(c.count(), 12u);
  ASSERT_EQ(c.percentiles_size(), 2);
  EXPECT_EQ(c.percentiles(0).quantile(), 1.0);
  EXPECT_EQ(c.percentiles(0).value_ns(), 3e9);
  EXPECT_EQ(c.percentiles(1).quantile(), 0.99);
  EXPECT_EQ(c.percentiles(1).value_ns(), 2e6);
  EXPECT_EQ(r.topics(0).e2e_processing_latency().count(), 20u);
}

}  // namespace
}  // namespace nsq::broker
