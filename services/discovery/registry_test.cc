#include "services/discovery/registry.h"

#include <string>
#include <vector>

#include "common/names/names.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class RecordingListener : public RegistryListener {
 public:
  void TopicsChanged(const std::vector<std::string>& topics) override {
    changed.insert(changed.end(), topics.begin(), topics.end());
  }
  std::vector<std::string> changed;
};

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : registry_(Options(), &clock_) { registry_.SetListener(&listener_); }

  static RegistryOptions Options() {
    RegistryOptions o;
    o.inactive_producer_timeout = absl::Seconds(300);
    o.tombstone_lifetime = absl::Seconds(45);
    return o;
  }

  void AddPeer(const std::string& id, const std::string& address = "10.0.0.1",
               int http_port = 4151) {
    PeerInfo p;
    p.id = id;
    p.remote_address = id;
    p.broadcast_address = address;
    p.hostname = address;
    p.tcp_port = 4150;
    p.http_port = http_port;
    p.version = "1.3.0";
    ASSERT_TRUE(registry_.AddPeer(p).ok());
  }

  std::vector<std::string> ProducerIds(const std::string& topic) {
    std::vector<std::string> ids;
    auto r = registry_.Lookup(topic);
    if (!r) return ids;
    for (const PeerInfo& p : r->producers) ids.push_back(p.id);
    return ids;
  }

  FakeClock clock_;
  RecordingListener listener_;
  Registry registry_;
};

TEST_F(RegistryTest, LookupOfUnregisteredTopicIsNullopt) {
  EXPECT_FALSE(registry_.Lookup("orders").has_value());
}

TEST_F(RegistryTest, RegisterChannelRegistersItsTopicToo) {
  AddPeer("a");
  registry_.Register("a", "orders", "billing");
  auto r = registry_.Lookup("orders");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->channels, ElementsAre("billing"));
  ASSERT_EQ(r->producers.size(), 1u);
  EXPECT_EQ(r->producers[0].broadcast_address, "10.0.0.1");
  EXPECT_THAT(registry_.Topics(), ElementsAre("orders"));
  EXPECT_THAT(listener_.changed, ElementsAre("orders"));
}

TEST_F(RegistryTest, RegisterFromUnknownPeerIsIgnored) {
  registry_.Register("ghost", "orders", "");
  EXPECT_FALSE(registry_.Lookup("orders").has_value());
}

TEST_F(RegistryTest, AddingTheSamePeerTwiceFails) {
  AddPeer("a");
  PeerInfo again;
  again.id = "a";
  EXPECT_EQ(registry_.AddPeer(again).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(RegistryTest, RemovedPeerLeavesLookupButTopicAndChannelStayListed) {
  AddPeer("a");
  AddPeer("b", "10.0.0.2");
  registry_.Register("a", "orders", "billing");
  registry_.Register("b", "orders", "");
  listener_.changed.clear();
  registry_.RemovePeer("a");
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("b"));
  EXPECT_THAT(registry_.Channels("orders"), ElementsAre("billing"));
  EXPECT_THAT(listener_.changed, ElementsAre("orders"));
  registry_.RemovePeer("b");
  ASSERT_TRUE(registry_.Lookup("orders").has_value());
  EXPECT_THAT(ProducerIds("orders"), IsEmpty());
  EXPECT_THAT(registry_.Topics(), ElementsAre("orders"));
}

TEST_F(RegistryTest, InactiveProducerIsHiddenUntilItPingsAgain) {
  AddPeer("a");
  registry_.Register("a", "orders", "");
  clock_.Advance(absl::Seconds(300));
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("a"));  // exactly the timeout: still active
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(ProducerIds("orders"), IsEmpty());
  EXPECT_THAT(registry_.Nodes(), IsEmpty());
  EXPECT_THAT(registry_.InactivePeers(), ElementsAre("a"));
  ASSERT_TRUE(registry_.Touch("a"));
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("a"));
  EXPECT_THAT(registry_.InactivePeers(), IsEmpty());
}

TEST_F(RegistryTest, TombstoneHidesProducerForItsLifetimeOnly) {
  AddPeer("a", "10.0.0.1", 4151);
  AddPeer("b", "10.0.0.2", 4151);
  registry_.Register("a", "orders", "");
  registry_.Register("b", "orders", "");
  registry_.Register("a", "other", "");
  EXPECT_EQ(registry_.TombstoneTopicProducer("orders", "10.0.0.1:4151"), 1);
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("b"));
  EXPECT_THAT(ProducerIds("other"), ElementsAre("a"));  // per topic
  // /nodes still lists it, flagged.
  auto nodes = registry_.Nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].peer.id, "a");
  EXPECT_THAT(nodes[0].topics, ElementsAre("orders", "other"));
  EXPECT_THAT(nodes[0].tombstones, ElementsAre(true, false));
  clock_.Advance(absl::Seconds(44));
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("b"));
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("a", "b"));
  EXPECT_THAT(registry_.Nodes()[0].tombstones, ElementsAre(false, false));
}

TEST_F(RegistryTest, TombstoneOfUnknownNodeChangesNothing) {
  AddPeer("a");
  registry_.Register("a", "orders", "");
  EXPECT_EQ(registry_.TombstoneTopicProducer("orders", "10.0.0.1:9999"), 0);
  EXPECT_THAT(ProducerIds("orders"), ElementsAre("a"));
}

TEST_F(RegistryTest, UnregisterEphemeralChannelDropsItWithItsLastProducer) {
  AddPeer("a");
  AddPeer("b", "10.0.0.2");
  registry_.Register("a", "orders", "tail#ephemeral");
  registry_.Register("b", "orders", "tail#ephemeral");
  registry_.Register("a", "orders", "billing");
  registry_.Unregister("a", "orders", "tail#ephemeral");
  EXPECT_THAT(registry_.Channels("orders"), ElementsAre("billing", "tail#ephemeral"));
  registry_.Unregister("b", "orders", "tail#ephemeral");
  EXPECT_THAT(registry_.Channels("orders"), ElementsAre("billing"));
  registry_.Unregister("a", "orders", "billing");  // durable: the key stays
  EXPECT_THAT(registry_.Channels("orders"), ElementsAre("billing"));
}

TEST_F(RegistryTest, UnregisterTopicLeavesItsChannelsAndDropsAnEmptyEphemeralTopic) {
  AddPeer("a");
  registry_.Register("a", "orders", "billing");
  registry_.Register("a", "temp#ephemeral", "");
  registry_.Unregister("a", "orders", "");
  EXPECT_THAT(ProducerIds("orders"), IsEmpty());
  EXPECT_THAT(registry_.Topics(), ElementsAre("orders", "temp#ephemeral"));
  registry_.Unregister("a", "temp#ephemeral", "");
  EXPECT_THAT(registry_.Topics(), ElementsAre("orders"));
  EXPECT_THAT(registry_.Nodes()[0].topics, IsEmpty());
}

TEST_F(RegistryTest, AdminCreateAndDelete) {
  registry_.CreateTopic("orders");
  ASSERT_TRUE(registry_.Lookup("orders").has_value());
  registry_.CreateChannel("events", "audit");
  EXPECT_THAT(registry_.Topics(), ElementsAre("events", "orders"));
  EXPECT_THAT(registry_.Channels("events"), ElementsAre("audit"));
  EXPECT_FALSE(registry_.DeleteChannel("events", "missing"));
  EXPECT_TRUE(registry_.DeleteChannel("events", "audit"));
  EXPECT_THAT(registry_.Channels("events"), IsEmpty());
  registry_.CreateChannel("orders", "billing");
  registry_.DeleteTopic("orders");
  EXPECT_FALSE(registry_.Lookup("orders").has_value());
  EXPECT_THAT(registry_.Channels("orders"), IsEmpty());
}

TEST_F(RegistryTest, CountsPeersTopicsAndChannels) {
  AddPeer("a");
  registry_.Register("a", "orders", "billing");
  registry_.Register("a", "orders", "audit");
  Registry::Counts c = registry_.GetCounts();
  EXPECT_EQ(c.peers, 1);
  EXPECT_EQ(c.topics, 1);
  EXPECT_EQ(c.channels, 2);
}

TEST(NameTest, FollowsNsqRule) {
  EXPECT_TRUE(names::IsValidName("orders.v1_a-b"));
  EXPECT_TRUE(names::IsValidName("t#ephemeral"));
  EXPECT_FALSE(names::IsValidName(""));
  EXPECT_FALSE(names::IsValidName("a b"));
  EXPECT_FALSE(names::IsValidName(std::string(65, 'a')));
}

}  // namespace
}  // namespace nsq::discovery
