#include "services/admin/http_upstream.h"

#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

// nsqd 1.3.0's /stats?format=json, trimmed.
constexpr char kStats[] = R"({"version":"1.3.0","health":"OK","start_time":1700000000,
 "topics":[{"topic_name":"t","channels":[
   {"channel_name":"c","depth":3,"backend_depth":1,"in_flight_count":2,"deferred_count":1,
    "message_count":9,"zone_local_msg_count":6,"global_msg_count":3,"requeue_count":4,"timeout_count":5,"client_count":1,
    "clients":[{"client_id":"h","hostname":"h.example","version":"V2","remote_address":"10.0.0.1:51234",
      "state":3,"ready_count":7,"in_flight_count":2,"message_count":9,"finish_count":6,"requeue_count":4,
      "connect_ts":1700000001,"sample_rate":0,"deflate":false,"snappy":true,"user_agent":"go-nsq/1.1.0",
      "topology_zone":"z1","topology_region":"r1","tls":true,"tls_version":"TLS1.3","authed":true,"auth_identity":"alice"}],
    "paused":true,"e2e_processing_latency":{"count":0,"percentiles":null}}],
  "depth":8,"backend_depth":2,"message_count":11,"message_bytes":99,"paused":false,
  "e2e_processing_latency":{"count":0,"percentiles":null}}],
 "memory":{"heap_objects":0},"producers":[]})";

TEST(HttpUpstreamTest, ParsesNsqdStats) {
  auto s = ParseNsqdStats(kStats);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->version, "1.3.0");
  EXPECT_EQ(s->start_time, 1700000000);
  ASSERT_EQ(s->topics.size(), 1u);
  const TopicInfo& t = s->topics[0];
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.depth, 8);
  EXPECT_EQ(t.backend_depth, 2);
  EXPECT_EQ(t.message_count, 11);
  EXPECT_EQ(t.message_bytes, 99);
  ASSERT_EQ(t.channels.size(), 1u);
  const ChannelInfo& c = t.channels[0];
  EXPECT_EQ(c.depth, 3);
  EXPECT_EQ(c.deferred_count, 1);
  EXPECT_EQ(c.requeue_count, 4);
  EXPECT_EQ(c.timeout_count, 5);
  EXPECT_EQ(c.zone_local_msg_count, 6);
  EXPECT_EQ(c.region_local_msg_count, 0);
  EXPECT_EQ(c.global_msg_count, 3);
  EXPECT_TRUE(c.paused);
  ASSERT_EQ(c.clients.size(), 1u);
  EXPECT_EQ(c.clients[0].protocol, "V2");
  EXPECT_EQ(c.clients[0].ready_count, 7);
  EXPECT_EQ(c.clients[0].finish_count, 6);
  EXPECT_TRUE(c.clients[0].snappy);
  EXPECT_EQ(c.clients[0].topology_zone, "z1");
  EXPECT_EQ(c.clients[0].topology_region, "r1");
  EXPECT_TRUE(c.clients[0].tls);
  EXPECT_EQ(c.clients[0].auth_identity, "alice");
}

TEST(HttpUpstreamTest, AcceptsTheLegacyEnvelopeAndNulls) {
  auto s = ParseNsqdStats(R"({"status_code":200,"status_txt":"OK","data":{"version":"0.3.8","topics":null}})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->version, "0.3.8");
  EXPECT_TRUE(s->topics.empty());
}

TEST(HttpUpstreamTest, MalformedStatsAreAnError) {
  EXPECT_FALSE(ParseNsqdStats("not json").ok());
  EXPECT_FALSE(ParseNsqdStats("[1,2]").ok());
  // Wrong types are tolerated field by field, never a crash.
  auto s = ParseNsqdStats(R"({"topics":[{"topic_name":5,"depth":"x","channels":[1,{"channel_name":"c"}]}]})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->topics[0].name, "");
  EXPECT_EQ(s->topics[0].channels.size(), 1u);
}

TEST(HttpUpstreamTest, ParsesLookupdNodesWithParallelTombstones) {
  auto n = ParseLookupdNodes(R"({"producers":[{"remote_address":"1.2.3.4:5","hostname":"h",
    "broadcast_address":"b","tcp_port":4150,"http_port":4151,"version":"1.3.0",
    "tombstones":[false,true],"topics":["a","b"]}]})", "lookupd:4161");
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->size(), 1u);
  EXPECT_EQ((*n)[0].HttpAddress(), "b:4151");
  EXPECT_EQ((*n)[0].remote_addresses[0], "lookupd:4161/1.2.3.4:5");
  EXPECT_EQ((*n)[0].tombstones, (std::vector<bool>{false, true}));
  // Short tombstone arrays (an inconsistent lookupd) do not crash.
  n = ParseLookupdNodes(R"({"producers":[{"topics":["a","b"],"tombstones":[true]}]})", "l");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].tombstones, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace nsq::admin

namespace nsq::admin {
namespace {

TEST(HttpUpstreamTest, ParsesNsqdsE2ePercentiles) {
  auto s = ParseNsqdStats(R"({"version":"1.3.0","topics":[{"topic_name":"t","channels":[
    {"channel_name":"c","e2e_processing_latency":{"count":12,"percentiles":[
      {"quantile":1,"value":2500000},{"quantile":0.99,"value":1250000}]}}],
    "e2e_processing_latency":{"count":12,"percentiles":[{"quantile":1,"value":2500000}]}},
    {"topic_name":"u","channels":[],"e2e_processing_latency":{"count":0,"percentiles":null}}]})");
  ASSERT_TRUE(s.ok()) << s.status();
  const E2eInfo& c = s->topics[0].channels[0].e2e;
  EXPECT_EQ(c.count, 12);
  ASSERT_EQ(c.percentiles.size(), 2u);
  EXPECT_EQ(c.percentiles[1].quantile, 0.99);
  EXPECT_EQ(c.percentiles[1].value, 1250000);
  EXPECT_EQ(s->topics[0].e2e.percentiles.size(), 1u);
  EXPECT_TRUE(s->topics[1].e2e.percentiles.empty());
}

}  // namespace
}  // namespace nsq::admin
