#include "services/broker/legacy/stats_render.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::legacy {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

// Topic t, channel c, one gRPC consumer connected 30 s after the start.
StatsPage OneGrpcConsumer() {
  broker::ConsumerStats consumer;
  consumer.info.client_id = "g";
  consumer.info.hostname = "h";
  consumer.info.user_agent = "ua";
  consumer.info.remote_address = "127.0.0.1:9";
  consumer.info.protocol = "grpc";
  consumer.ready_count = 2;
  consumer.in_flight_count = 1;
  consumer.message_count = 5;
  consumer.finish_count = 4;
  consumer.connect_time = kStart + absl::Seconds(30);
  broker::ChannelStats channel;
  channel.name = "c";
  channel.depth = 1;
  channel.in_flight_count = 1;
  channel.message_count = 5;
  channel.consumer_count = 1;
  channel.consumers.push_back(consumer);
  broker::TopicStats topic;
  topic.name = "t";
  topic.message_count = 5;
  topic.message_bytes = 15;
  topic.channels.push_back(channel);
  StatsPage page;
  page.health = "OK";
  page.start_time = kStart;
  page.topics.push_back(topic);
  page.include_mem = false;
  return page;
}

// A V2 connection that published 1 message to t and 2 to u.
V2ClientInfo Producer() {
  V2ClientInfo p;
  p.client_id = "p";
  p.user_agent = "pub/1";
  p.remote_address = "127.0.0.1:7";
  p.state = 1;
  p.connect_time = kStart + absl::Seconds(30);
  p.pub_counts = {{"t", 1}, {"u", 2}};
  return p;
}

constexpr char kE2e[] = R"("e2e_processing_latency":{"count":0,"percentiles":null})";

TEST(StatsRenderTest, JsonHasNsqdFieldsInNsqdOrder) {
  EXPECT_EQ(
      StatsJson(OneGrpcConsumer()),
      std::string(R"({"version":"1.3.0","health":"OK","start_time":1700000000,"topics":[)") +
          R"({"topic_name":"t","channels":[{"channel_name":"c","depth":1,"backend_depth":0,)" +
          R"("in_flight_count":1,"deferred_count":0,"message_count":5,"requeue_count":0,)" +
          R"("timeout_count":0,"client_count":1,"clients":[{"client_id":"g","hostname":"h",)" +
          R"("version":"grpc","remote_address":"127.0.0.1:9","state":3,"ready_count":2,)" +
          R"("in_flight_count":1,"message_count":5,"finish_count":4,"requeue_count":0,)" +
          R"("connect_ts":1700000030,"sample_rate":0,"deflate":false,"snappy":false,)" +
          R"("user_agent":"ua","topology_zone":"","topology_region":"","tls":false,)" +
          R"("tls_cipher_suite":"","tls_version":"","tls_negotiated_protocol":"",)" +
          R"("tls_negotiated_protocol_is_mutual":false}],"paused":false,)" + kE2e + "}]," +
          R"("depth":0,"backend_depth":0,"message_count":5,"message_bytes":15,"paused":false,)" +
          kE2e + R"(}],"producers":null})");
}

TEST(StatsRenderTest, JsonShowsMessagesHeldInMemoryOnlyWhenThereAreSome) {
  StatsPage page = OneGrpcConsumer();
  EXPECT_EQ(StatsJson(page).find("held_in_memory_count"), std::string::npos);
  page.topics[0].channels[0].held_count = 3;
  EXPECT_NE(StatsJson(page).find(R"("backend_depth":0,"held_in_memory_count":3,"in_flight_count")"),
            std::string::npos);
}

TEST(StatsRenderTest, JsonShowsE2ePercentilesAsNsqdsQuantileResult) {
  StatsPage page = OneGrpcConsumer();
  broker::E2eLatencyStats e2e;
  e2e.has_percentiles = true;
  e2e.window_count = 42;
  e2e.percentiles = {{1.0, 2500000000}, {0.99, 1234567}, {0.5, 0}};
  page.topics[0].channels[0].e2e = e2e;
  page.topics[0].e2e = e2e;
  page.topics[0].e2e.window_count = 7;
  const std::string want_channel =
      R"("paused":false,"e2e_processing_latency":{"count":42,"percentiles":[)"
      R"({"quantile":1,"value":2500000000},{"quantile":0.99,"value":1234567},)"
      R"({"quantile":0.5,"value":0}]}})";
  EXPECT_THAT(StatsJson(page), HasSubstr(want_channel));
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("message_bytes":15,"paused":false,)"
                                         R"("e2e_processing_latency":{"count":7,"percentiles":[)"));
  const std::string text = StatsText(page, kStart);
  EXPECT_THAT(text, HasSubstr("msgs: 5        e2e%: 2.5s, 1.2ms, 0.0ns\n"));
}

TEST(StatsRenderTest, JsonE2eIsStockWithoutPercentilesEvenWhenRecorded) {
  StatsPage page = OneGrpcConsumer();
  page.topics[0].channels[0].e2e.count = 9;  // the Prometheus histogram, not nsqd's stats
  page.topics[0].channels[0].e2e.buckets = {9, 0};
  EXPECT_THAT(StatsJson(page), HasSubstr(std::string(R"("paused":false,)") + kE2e + "}]"));
}

TEST(StatsRenderTest, JsonShowsTopologyCountersOnlyWhenNonZeroAsNsqdsOmitempty) {
  StatsPage page = OneGrpcConsumer();
  EXPECT_EQ(StatsJson(page).find("_msg_count"), std::string::npos);
  page.topics[0].channels[0].zone_local_msg_count = 3;
  page.topics[0].channels[0].global_msg_count = 2;
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("message_count":5,"zone_local_msg_count":3,)"
                                         R"("global_msg_count":2,"requeue_count":0,)"));
  page.topics[0].channels[0].zone_local_msg_count = 0;
  page.topics[0].channels[0].global_msg_count = 0;
  page.topics[0].channels[0].region_local_msg_count = 4;
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("message_count":5,"region_local_msg_count":4,)"
                                         R"("requeue_count":0,)"));
}

TEST(StatsRenderTest, JsonClientsShowTheirIdentifiedTopology) {
  StatsPage page = OneGrpcConsumer();
  broker::ConsumerStats& consumer = page.topics[0].channels[0].consumers[0];
  consumer.info.topology_zone = "gz";
  consumer.info.topology_region = "gr";
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("topology_zone":"gz","topology_region":"gr",)"));
  consumer.info.protocol = "V2";
  V2ClientInfo v2;
  v2.remote_address = consumer.info.remote_address;
  v2.topology_zone = "vz";
  v2.topology_region = "vr";
  page.v2_by_address[v2.remote_address] = v2;
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("topology_zone":"vz","topology_region":"vr",)"));
}

TEST(StatsRenderTest, JsonTopicsAreNullWhenTheTopicFilterMatchedNothing) {
  StatsPage page;
  page.health = "OK";
  page.start_time = kStart;
  page.found = false;
  page.include_mem = false;
  EXPECT_EQ(StatsJson(page),
            R"({"version":"1.3.0","health":"OK","start_time":1700000000,"topics":null,)"
            R"("producers":null})");
}

TEST(StatsRenderTest, JsonClientsAreNullWithoutIncludeClientsAndMemoryKeepsNsqdKeys) {
  StatsPage page = OneGrpcConsumer();
  page.include_clients = false;
  page.include_mem = true;
  const std::string json = StatsJson(page);
  EXPECT_THAT(json, HasSubstr(R"("client_count":1,"clients":null,)"));
  EXPECT_THAT(json, HasSubstr(R"("memory":{"heap_objects":0,"heap_idle_bytes":0,)"));
  EXPECT_THAT(json, HasSubstr(R"("gc_total_runs":0},"producers":null})"));
}

TEST(StatsRenderTest, JsonEscapesClientTextAsGoDoes) {
  StatsPage page = OneGrpcConsumer();
  page.topics[0].channels[0].consumers[0].info.client_id = "<a&b>";
  EXPECT_THAT(StatsJson(page), HasSubstr(R"("client_id":"\u003ca\u0026b\u003e")"));
}

TEST(StatsRenderTest, JsonProducersShowOnlyTheFilteredTopicsPubCounts) {
  StatsPage page = OneGrpcConsumer();
  page.producers.push_back(Producer());
  page.topic_filter = "t";
  const std::string json = StatsJson(page);
  EXPECT_THAT(json, HasSubstr(R"("producers":[{"client_id":"p","hostname":"","version":"V2",)"
                              R"("remote_address":"127.0.0.1:7","state":1,"ready_count":0,)"));
  // nsqd's field order: topology before pub_counts.
  EXPECT_THAT(json, HasSubstr(R"("user_agent":"pub/1","topology_zone":"","topology_region":"",)"
                              R"("pub_counts":[{"topic":"t","count":1}],"tls":false,)"));
}

TEST(StatsRenderTest, JsonUsesTheV2DetailsOfAV2Consumer) {
  StatsPage page = OneGrpcConsumer();
  broker::ConsumerStats& consumer = page.topics[0].channels[0].consumers[0];
  consumer.info.protocol = "V2";
  V2ClientInfo v2;
  v2.client_id = "v2-id";
  v2.state = 3;
  v2.snappy = true;
  v2.tls = true;
  v2.tls_version = "TLS1.3";
  v2.connect_time = kStart;
  v2.remote_address = consumer.info.remote_address;
  page.v2_by_address[v2.remote_address] = v2;
  const std::string json = StatsJson(page);
  EXPECT_THAT(json, HasSubstr(R"("client_id":"v2-id","hostname":"","version":"V2",)"));
  EXPECT_THAT(json, HasSubstr(R"("connect_ts":1700000000,"sample_rate":0,"deflate":false,)"
                              R"("snappy":true,)"));
  EXPECT_THAT(json, HasSubstr(R"("tls":true,"tls_cipher_suite":"","tls_version":"TLS1.3",)"));
}

TEST(StatsRenderTest, TextShowsTopicsChannelsClientsAndProducersWithNsqdWidths) {
  StatsPage page = OneGrpcConsumer();
  page.producers.push_back(Producer());
  const std::string text = StatsText(page, kStart + absl::Seconds(90));
  EXPECT_THAT(text, StartsWith("nsqd v1.3.0 (built w/nsq-cpp)\nstart_time "));
  EXPECT_THAT(text, HasSubstr("\nuptime 1m30s\n\nHealth: OK\n\nTopics:\n"
                              "   [t              ] depth: 0     be-depth: 0     msgs: 5        "
                              "e2e%: \n"
                              "      [c                        ] depth: 1     be-depth: 0     "
                              "inflt: 1    def: 0    re-q: 0     timeout: 0     msgs: 5        "
                              "e2e%: \n"
                              "        [grpc h:9 ua               ] state: 3 inflt: 1    rdy: 2    "
                              "fin: 4        re-q: 0        msgs: 5        connected: 1m0s\n"));
  EXPECT_THAT(text, EndsWith("\nProducers:\n   [V2 :7 pub/1             ] msgs: 3        "
                             "topics: t=1,u=2 connected: 1m0s\n"));
}

TEST(StatsRenderTest, TextWithNothingSaysNoneAndListsMemoryKeys) {
  StatsPage page;
  page.health = "NOK - disk";
  page.start_time = kStart;
  const std::string text = StatsText(page, kStart);
  EXPECT_THAT(text, HasSubstr("\nHealth: NOK - disk\n\nMemory:\n   heap_objects             \t0\n"));
  EXPECT_THAT(text, EndsWith("   gc_total_runs            \t0\n\nTopics: None\n\nProducers: None\n"));
}

TEST(StatsRenderTest, JsonShowsPolicyCountersAndThePolicyOnlyWhenSet) {
  StatsPage page = OneGrpcConsumer();
  const std::string stock = StatsJson(page);
  for (const char* key : {"attempts_exceeded_count", "expired_count", "dead_letter_count",
                          "depth_dropped_count", "depth_rejected_count", "policy"}) {
    EXPECT_EQ(stock.find(key), std::string::npos) << key;
  }
  broker::ChannelStats& c = page.topics[0].channels[0];
  c.attempts_exceeded_count = 1;
  c.expired_count = 2;
  c.dead_letter_count = 3;
  c.depth_dropped_count = 4;
  c.depth_rejected_count = 5;
  c.policy.max_attempts = 3;
  c.policy.dead_letter_topic = "dlq";
  EXPECT_THAT(StatsJson(page),
              HasSubstr(R"("timeout_count":0,"attempts_exceeded_count":1,"expired_count":2,)"
                        R"("dead_letter_count":3,"depth_dropped_count":4,"depth_rejected_count":5,)"
                        R"("policy":{"max_attempts":3,"dead_letter_topic":"dlq","message_ttl_ms":0,)"
                        R"("dead_letter_expired":false,"max_depth":0,"depth_policy":"reject_new"},)"
                        R"("client_count":1,)"));
}

}  // namespace
}  // namespace nsq::legacy
