#include "services/admin/aggregate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

NodeSnapshot Node(const std::string& host, int http_port, std::vector<TopicInfo> topics, bool ok = true) {
  NodeSnapshot n;
  n.producer.broadcast_address = host;
  n.producer.hostname = host;
  n.producer.http_port = http_port;
  n.producer.version = "1.3.0";
  n.ok = ok;
  n.stats.topics = std::move(topics);
  for (const auto& t : n.stats.topics) {
    n.producer.topics.push_back(t.name);
    n.producer.tombstones.push_back(false);
  }
  return n;
}

ChannelInfo Channel(const std::string& name, int64_t depth, int64_t backend, int64_t messages) {
  ChannelInfo c;
  c.name = name;
  c.depth = depth;
  c.backend_depth = backend;
  c.message_count = messages;
  c.in_flight_count = 1;
  c.requeue_count = 2;
  c.timeout_count = 3;
  return c;
}

TopicInfo Topic(const std::string& name, int64_t depth, int64_t messages, std::vector<ChannelInfo> channels) {
  TopicInfo t;
  t.name = name;
  t.depth = depth;
  t.backend_depth = depth / 2;
  t.message_count = messages;
  t.channels = std::move(channels);
  return t;
}

Snapshot TwoNodes() {
  Snapshot s;
  s.nodes.push_back(Node("a", 4151, {Topic("t", 10, 100, {Channel("c1", 4, 1, 100), Channel("c2", 6, 0, 100)})}));
  s.nodes.push_back(Node("b", 4151, {Topic("t", 5, 50, {Channel("c1", 3, 3, 50)}), Topic("u", 0, 7, {})}));
  return s;
}

TEST(AggregateTest, TopicSumsNodesAndChannelsAcrossNodes) {
  Snapshot s = TwoNodes();
  auto v = TopicView(s, "t", nullptr, absl::Now());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["node"], "*");
  EXPECT_EQ((*v)["depth"], 15);
  EXPECT_EQ((*v)["backend_depth"], 5 + 2);
  EXPECT_EQ((*v)["memory_depth"], 15 - 7);
  EXPECT_EQ((*v)["message_count"], 150);
  ASSERT_EQ((*v)["nodes"].size(), 2u);
  EXPECT_EQ((*v)["nodes"][0]["node"], "a:4151");
  ASSERT_EQ((*v)["channels"].size(), 2u);
  const auto& c1 = (*v)["channels"][0];
  EXPECT_EQ(c1["channel_name"], "c1");
  EXPECT_EQ(c1["depth"], 7);
  EXPECT_EQ(c1["backend_depth"], 4);
  EXPECT_EQ(c1["in_flight_count"], 2);
  EXPECT_EQ(c1["requeue_count"], 4);
  EXPECT_EQ(c1["timeout_count"], 6);
  EXPECT_EQ(c1["message_count"], 150);
  EXPECT_EQ(c1["nodes"].size(), 2u);
  EXPECT_TRUE(c1["clients"].is_null());
  EXPECT_EQ((*v)["channels"][1]["nodes"].size(), 1u);
}

// nsqadmin's topology counters: per node and summed, each omitted when zero, with
// delivery_msg_count their sum; clients show their topology (omitted when empty).
TEST(AggregateTest, TopologyCountersAndClientTopologyAsNsqadminShowsThem) {
  Snapshot s = TwoNodes();
  s.nodes[0].stats.topics[0].channels[0].zone_local_msg_count = 3;
  s.nodes[0].stats.topics[0].channels[0].global_msg_count = 1;
  s.nodes[1].stats.topics[0].channels[0].zone_local_msg_count = 2;
  ClientInfo k;
  k.topology_zone = "z1";
  s.nodes[0].stats.topics[0].channels[0].clients = {k};
  auto v = ChannelView(s, "t", "c1", nullptr, absl::Now());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["delivery_msg_count"], 6);
  EXPECT_EQ((*v)["zone_local_msg_count"], 5);
  EXPECT_EQ((*v)["global_msg_count"], 1);
  EXPECT_FALSE(v->contains("region_local_msg_count"));
  EXPECT_EQ((*v)["nodes"][1]["delivery_msg_count"], 2);
  EXPECT_FALSE((*v)["nodes"][1].contains("global_msg_count"));
  const std::string dumped = v->dump();
  EXPECT_NE(dumped.find(R"("message_count":150,"delivery_msg_count":6,"zone_local_msg_count":5,)"
                        R"("global_msg_count":1,"client_count")"),
            std::string::npos)
      << dumped;
  EXPECT_NE(dumped.find(R"("auth_identity_url":"","topology_zone":"z1","tls")"), std::string::npos);

  auto c2 = ChannelView(s, "t", "c2", nullptr, absl::Now());
  ASSERT_TRUE(c2.has_value());
  EXPECT_FALSE(c2->contains("delivery_msg_count"));
  auto t = TopicView(s, "t", nullptr, absl::Now());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ((*t)["delivery_msg_count"], 0);  // nsqd's topics carry no topology counters
  EXPECT_EQ((*t)["nodes"][0]["delivery_msg_count"], 0);
}

TEST(AggregateTest, PausedOnAnyNodeIsPausedInTheSum) {
  Snapshot s = TwoNodes();
  s.nodes[1].stats.topics[0].paused = true;
  s.nodes[0].stats.topics[0].channels[0].paused = true;
  auto v = TopicView(s, "t", nullptr, absl::Now());
  EXPECT_TRUE((*v)["paused"].get<bool>());
  EXPECT_TRUE((*v)["channels"][0]["paused"].get<bool>());
  EXPECT_FALSE((*v)["channels"][1]["paused"].get<bool>());
}

TEST(AggregateTest, UnknownTopicAndChannelAreAbsent) {
  Snapshot s = TwoNodes();
  EXPECT_FALSE(TopicView(s, "nope", nullptr, absl::Now()).has_value());
  EXPECT_FALSE(ChannelView(s, "t", "nope", nullptr, absl::Now()).has_value());
  // Listed by discovery but on no broker: an empty topic, not a 404.
  s.discovery_topics = {"nope"};
  auto v = TopicView(s, "nope", nullptr, absl::Now());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["depth"], 0);
  EXPECT_TRUE((*v)["nodes"].empty());
}

TEST(AggregateTest, FailedNodesAreLeftOutOfSums) {
  Snapshot s = TwoNodes();
  s.nodes[1].ok = false;
  auto v = TopicView(s, "t", nullptr, absl::Now());
  EXPECT_EQ((*v)["depth"], 10);
  EXPECT_EQ((*v)["nodes"].size(), 1u);
}

TEST(AggregateTest, ChannelMergesClientsOfEveryNodeSortedByHostname) {
  Snapshot s = TwoNodes();
  ClientInfo k1, k2;
  k1.hostname = "zeta";
  k1.remote_address = "1.1.1.1:1";
  k1.connect_ts = 100;
  k2.hostname = "alpha";
  k2.remote_address = "2.2.2.2:2";
  k2.connect_ts = 100;
  s.nodes[0].stats.topics[0].channels[0].clients = {k1};
  s.nodes[1].stats.topics[0].channels[0].clients = {k2};
  auto v = ChannelView(s, "t", "c1", nullptr, absl::FromUnixSeconds(110));
  ASSERT_TRUE(v.has_value());
  ASSERT_EQ((*v)["clients"].size(), 2u);
  EXPECT_EQ((*v)["clients"][0]["hostname"], "alpha");
  EXPECT_EQ((*v)["clients"][0]["node"], "b:4151");
  EXPECT_EQ((*v)["clients"][0]["connected"], int64_t{10} * 1000000000);
  EXPECT_EQ((*v)["nodes"][0]["clients"].size(), 1u);
}

TEST(AggregateTest, NodesMarkOlderVersionsOutOfDate) {
  Snapshot s = TwoNodes();
  s.nodes[0].producer.version = "1.2.1";
  s.nodes[1].producer.version = "1.3.0";
  OrderedJson v = NodesView(s);
  ASSERT_EQ(v["nodes"].size(), 2u);
  EXPECT_TRUE(v["nodes"][0]["out_of_date"].get<bool>());
  EXPECT_FALSE(v["nodes"][1]["out_of_date"].get<bool>());
  EXPECT_EQ(v["nodes"][1]["topics"][0]["topic"], "t");
  EXPECT_EQ(v["nodes"][1]["topics"][1]["topic"], "u");
}

TEST(AggregateTest, CounterHasOneEntryPerTopicChannelAndNode) {
  OrderedJson v = CounterView(TwoNodes());
  EXPECT_EQ(v["stats"].size(), 3u);
  EXPECT_EQ(v["stats"]["t:c1:b:4151"]["message_count"], 50);
  EXPECT_EQ(v["stats"]["t:c2:a:4151"]["channel_name"], "c2");
}

TEST(AggregateTest, NodeViewTotals) {
  auto v = NodeView(TwoNodes(), "b:4151", nullptr, absl::Now());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ((*v)["total_messages"], 57);
  EXPECT_EQ((*v)["topics"].size(), 2u);
  EXPECT_FALSE(NodeView(TwoNodes(), "c:1", nullptr, absl::Now()).has_value());
}

TEST(AggregateTest, SeriesSumChannelsAcrossNodes) {
  auto series = SeriesOf(TwoNodes());
  const Counters& c1 = series.at(History::ChannelKey("t", "c1"));
  EXPECT_EQ(c1.depth, 7);
  EXPECT_EQ(c1.messages, 150);
  EXPECT_EQ(c1.backlog, 7 + 2);  // depth + in flight
  const Counters& t = series.at(History::TopicKey("t"));
  EXPECT_EQ(t.depth, 15);
  EXPECT_EQ(t.messages, 150);
  EXPECT_EQ(t.delivered_in, 250);
  EXPECT_EQ(series.at(History::NodeKey("b:4151")).messages, 57);
}

TEST(AggregateTest, OverviewTotalsAndInactiveTopics) {
  Snapshot s = TwoNodes();
  s.discovery_topics = {"only_in_discovery", "t"};
  OrderedJson v = OverviewView(s, nullptr);
  EXPECT_EQ(v["total_depth"], 15);
  EXPECT_EQ(v["total_messages"], 157);
  ASSERT_EQ(v["topics"].size(), 3u);
  EXPECT_EQ(v["topics"][0]["topic_name"], "only_in_discovery");
  EXPECT_EQ(v["topics"][0]["node_count"], 0);
  EXPECT_EQ(v["topics"][1]["channel_count"], 2);
  EXPECT_EQ(AllTopics(s), (std::vector<std::string>{"only_in_discovery", "t", "u"}));
}

TEST(AggregateTest, CompareVersions) {
  EXPECT_LT(CompareVersions("1.2.1", "1.3.0"), 0);
  EXPECT_GT(CompareVersions("1.10.0", "1.9.9"), 0);
  EXPECT_EQ(CompareVersions("1.3.0-alpha", "1.3.0"), 0);
  EXPECT_LT(CompareVersions("garbage", "0.0.1"), 0);
}

}  // namespace
}  // namespace nsq::admin

namespace nsq::admin {
namespace {

TEST(AggregateTest, ChannelE2eIsNsqadminsAggregateOfTheNodesPercentiles) {
  Snapshot s = TwoNodes();
  ChannelInfo& a = s.nodes[0].stats.topics[0].channels[0];  // t/c1 on a
  ChannelInfo& b = s.nodes[1].stats.topics[0].channels[0];  // t/c1 on b
  a.e2e.count = 3;
  a.e2e.percentiles = {{1.0, 3000000}, {0.99, 2000000}};
  b.e2e.count = 1;
  b.e2e.percentiles = {{1.0, 7000000}, {0.99, 6000000}};
  s.nodes[0].stats.topics[0].e2e = a.e2e;
  auto v = ChannelView(s, "t", "c1", nullptr, absl::Now());
  ASSERT_TRUE(v.has_value());
  const OrderedJson& e = (*v)["e2e_processing_latency"];
  EXPECT_EQ(e.dump(),
            R"({"count":4,"percentiles":[{"average":4000000,"count":4,"max":7000000,"min":7000000,"quantile":1},)"
            R"({"average":3000000,"count":4,"max":6000000,"min":6000000,"quantile":0.99}],)"
            R"("topic":"t","channel":"c1","host":"*"})");
  // Each node's row as nsqadmin reads nsqd's quantile.Result.
  const OrderedJson& row = (*v)["nodes"][0]["e2e_processing_latency"];
  EXPECT_EQ(row.dump(),
            R"({"count":3,"percentiles":[{"average":3000000,"count":3,"max":3000000,"min":3000000,"quantile":1,"value":3000000},)"
            R"({"average":2000000,"count":3,"max":2000000,"min":2000000,"quantile":0.99,"value":2000000}],)"
            R"("topic":"","channel":"","host":""})");
  auto t = TopicView(s, "t", nullptr, absl::Now());
  EXPECT_EQ((*t)["e2e_processing_latency"]["count"], 3);
  EXPECT_EQ((*t)["e2e_processing_latency"]["percentiles"][0]["max"], 3000000);
}

TEST(AggregateTest, E2eStaysNsqadminsEmptyValueWithoutPercentiles) {
  auto v = ChannelView(TwoNodes(), "t", "c1", nullptr, absl::Now());
  EXPECT_EQ((*v)["e2e_processing_latency"].dump(),
            R"({"count":0,"percentiles":null,"topic":"t","channel":"c1","host":"*"})");
  EXPECT_FALSE(v->contains("policy"));
  EXPECT_FALSE(v->contains("dead_letter_count"));
}

TEST(AggregateTest, ChannelShowsItsPolicyAndSumsItsCounters) {
  Snapshot s = TwoNodes();
  for (int n : {0, 1}) {
    ChannelInfo& c = s.nodes[n].stats.topics[0].channels[0];
    c.has_policy = true;
    c.policy.max_attempts = 5;
    c.policy.dead_letter_topic = "t_dead";
    c.policy.depth_policy = "reject_new";
    c.dead_letter_count = n + 1;
    c.expired_count = 2;
  }
  auto v = ChannelView(s, "t", "c1", nullptr, absl::Now());
  ASSERT_TRUE(v->contains("policy")) << v->dump();
  EXPECT_EQ((*v)["policy"]["max_attempts"], 5);
  EXPECT_EQ((*v)["policy"]["dead_letter_topic"], "t_dead");
  EXPECT_EQ((*v)["dead_letter_count"], 3);
  EXPECT_EQ((*v)["expired_count"], 4);
  EXPECT_EQ((*v)["depth_rejected_count"], 0);
  EXPECT_EQ((*v)["nodes"][0]["dead_letter_count"], 1);
}

}  // namespace
}  // namespace nsq::admin
