// The broker's registrar against a real in-process discovery server, over gRPC and over
// lookupd protocol V1.

#include "services/broker/discovery_client/registrar.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"
#include "services/broker/core/storage.h"
#include "services/discovery/discovery_server.h"

namespace nsq::broker::discovery_client {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(10);

discovery::DiscoveryOptions DiscoveryOpts(int grpc_port = 0, int tcp_port = 0) {
  discovery::DiscoveryOptions o;
  o.tcp_address = absl::StrCat("127.0.0.1:", tcp_port);
  o.http_address = "127.0.0.1:0";
  o.grpc_address = absl::StrCat("127.0.0.1:", grpc_port);
  o.broadcast_address = "127.0.0.1";
  return o;
}

BrokerIdentity Identity() {
  BrokerIdentity id;
  id.broadcast_address = "10.1.1.1";
  id.hostname = "broker-host";
  id.tcp_port = 4150;
  id.http_port = 4151;
  id.grpc_port = 4153;
  id.topology_zone = "z1";
  id.topology_region = "r1";
  return id;
}

// Polls `pred` until true or kWait passes.
template <typename Pred>
bool Eventually(Pred pred) {
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return pred();
}

class RegistrarTest : public ::testing::TestWithParam<bool> {  // true: lookupd V1
 protected:
  RegistrarTest() : engine_(EngineOptions{}, RealClock::Get(), &storage_) {
    discovery_ = std::make_unique<discovery::DiscoveryServer>(DiscoveryOpts());
    EXPECT_TRUE(discovery_->Start().ok());
  }
  ~RegistrarTest() override {
    if (registrar_) registrar_->Stop();
  }

  RegistrarOptions Options() const {
    RegistrarOptions o;
    if (GetParam()) {
      o.lookupd_tcp_addresses = {absl::StrCat("127.0.0.1:", discovery_->tcp_port())};
    } else {
      o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
    }
    o.min_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    return o;
  }

  void StartRegistrar() {
    registrar_ = std::make_unique<Registrar>(&engine_, Options());
    engine_.AddObserver(registrar_.get());
    ASSERT_TRUE(engine_.Start().ok());
    registrar_->Start(Identity());
  }

  std::vector<std::string> ProducerAddresses(const std::string& topic) {
    std::vector<std::string> out;
    auto r = discovery_->registry()->Lookup(topic);
    if (!r) return out;
    for (const auto& p : r->producers) out.push_back(p.broadcast_address);
    return out;
  }

  std::vector<std::string> Channels(const std::string& topic) {
    return discovery_->registry()->Channels(topic);
  }

  MemoryStorage storage_;
  Engine engine_;
  std::unique_ptr<discovery::DiscoveryServer> discovery_;
  std::unique_ptr<Registrar> registrar_;
};

TEST_P(RegistrarTest, RegistersTopicsAndChannelsThatExistedBeforeAndAfterStart) {
  registrar_ = std::make_unique<Registrar>(&engine_, Options());
  engine_.AddObserver(registrar_.get());
  ASSERT_TRUE(engine_.Start().ok());
  ASSERT_TRUE(engine_.CreateChannel("before", "c1").ok());
  registrar_->Start(Identity());
  // The topic and its channel are two registrations: wait for both (the channel's may
  // land a moment after the topic's).
  ASSERT_TRUE(Eventually([&] {
    return ProducerAddresses("before").size() == 1 && Channels("before") == std::vector<std::string>{"c1"};
  }));

  ASSERT_TRUE(engine_.CreateChannel("after", "c2").ok());
  ASSERT_TRUE(Eventually([&] { return Channels("after") == std::vector<std::string>{"c2"}; }));
  EXPECT_THAT(ProducerAddresses("after"), ElementsAre("10.1.1.1"));
  auto r = discovery_->registry()->Lookup("after");
  EXPECT_EQ(r->producers[0].tcp_port, 4150);
  EXPECT_EQ(r->producers[0].http_port, 4151);
  EXPECT_EQ(r->producers[0].grpc_port, GetParam() ? 0 : 4153);
  // nsqd sends --topology-zone/--topology-region in its lookupd IDENTIFY.
  EXPECT_EQ(r->producers[0].topology_zone, "z1");
  EXPECT_EQ(r->producers[0].topology_region, "r1");
}

TEST_P(RegistrarTest, DeletedTopicIsUnregistered) {
  StartRegistrar();
  ASSERT_TRUE(engine_.Publish("orders", {"x"}).ok());
  ASSERT_TRUE(Eventually([&] { return ProducerAddresses("orders").size() == 1; }));
  ASSERT_TRUE(engine_.DeleteTopic("orders").ok());
  EXPECT_TRUE(Eventually([&] { return ProducerAddresses("orders").empty(); }));
}

TEST_P(RegistrarTest, StopRemovesTheBrokerAtOnce) {
  StartRegistrar();
  ASSERT_TRUE(engine_.Publish("orders", {"x"}).ok());
  ASSERT_TRUE(Eventually([&] { return ProducerAddresses("orders").size() == 1; }));
  registrar_->Stop();
  EXPECT_TRUE(Eventually([&] { return ProducerAddresses("orders").empty(); }));
}

TEST_P(RegistrarTest, ReRegistersEverythingWhenDiscoveryComesBack) {
  StartRegistrar();
  ASSERT_TRUE(engine_.CreateChannel("orders", "billing").ok());
  ASSERT_TRUE(Eventually([&] { return ProducerAddresses("orders").size() == 1; }));
  const int grpc_port = discovery_->grpc_port();
  const int tcp_port = discovery_->tcp_port();
  discovery_->Stop();
  discovery_.reset();
  // Changes while discovery is down are not lost.
  ASSERT_TRUE(engine_.CreateChannel("orders", "audit").ok());
  ASSERT_TRUE(engine_.Publish("clicks", {"x"}).ok());
  ASSERT_TRUE(Eventually([&] { return !registrar_->peer(0)->connected(); }));

  discovery_ = std::make_unique<discovery::DiscoveryServer>(DiscoveryOpts(grpc_port, tcp_port));
  ASSERT_TRUE(discovery_->Start().ok());
  ASSERT_TRUE(Eventually([&] {
    return ProducerAddresses("orders").size() == 1 && ProducerAddresses("clicks").size() == 1;
  }));
  EXPECT_THAT(Channels("orders"), ElementsAre("audit", "billing"));
  // The registrar counts the session once it has sent everything; the registry can show
  // it a moment before that.
  EXPECT_TRUE(Eventually([&] { return registrar_->peer(0)->registrations() >= 2; }));
}

TEST_P(RegistrarTest, NewTopicGetsTheChannelsDiscoveryKnows) {
  discovery_->registry()->CreateChannel("orders", "billing");
  discovery_->registry()->CreateChannel("orders", "tail#ephemeral");
  StartRegistrar();
  ASSERT_TRUE(Eventually([&] { return registrar_->peer(0)->connected(); }));
  ASSERT_TRUE(engine_.Publish("orders", {"first"}).ok());
  // The channel is created before the topic hands out its first message, so it holds it.
  ASSERT_TRUE(Eventually([&] {
    auto stats = engine_.GetStats({"orders", "", false});
    return stats.ok() && stats->size() == 1 && (*stats)[0].channels.size() == 1 &&
           (*stats)[0].channels[0].depth == 1;
  }));
  auto stats = engine_.GetStats({"orders", "", false});
  ASSERT_EQ((*stats)[0].channels.size(), 1u);  // not the ephemeral one
  EXPECT_EQ((*stats)[0].channels[0].name, "billing");
  EXPECT_EQ((*stats)[0].depth, 0);
}

TEST_P(RegistrarTest, UnreachableDiscoveryDoesNotBlockTheEngine) {
  RegistrarOptions o;
  // Nothing listens there: connections are refused.
  discovery_->Stop();
  o = Options();
  registrar_ = std::make_unique<Registrar>(&engine_, o);
  engine_.AddObserver(registrar_.get());
  ASSERT_TRUE(engine_.Start().ok());
  registrar_->Start(Identity());
  ASSERT_TRUE(engine_.Publish("orders", {"x"}).ok());
  EXPECT_FALSE(registrar_->peer(0)->connected());
  // The topic starts without the lookup: a consumer gets the message.
  ASSERT_TRUE(engine_.CreateChannel("orders", "c").ok());
  EXPECT_TRUE(Eventually([&] {
    auto stats = engine_.GetStats({"orders", "c", false});
    return stats.ok() && (*stats)[0].channels[0].depth == 1;
  }));
}

TEST(RegistrarLookupdAddressesTest, NewAddressRegistersAndRemovedAddressUnregisters) {
  MemoryStorage storage;
  Engine engine(EngineOptions{}, RealClock::Get(), &storage);
  discovery::DiscoveryServer d1(DiscoveryOpts());
  discovery::DiscoveryServer d2(DiscoveryOpts());
  ASSERT_TRUE(d1.Start().ok());
  ASSERT_TRUE(d2.Start().ok());
  const std::string a1 = absl::StrCat("127.0.0.1:", d1.tcp_port());
  const std::string a2 = absl::StrCat("127.0.0.1:", d2.tcp_port());
  RegistrarOptions o;
  o.min_backoff = absl::Milliseconds(20);
  Registrar registrar(&engine, o);
  engine.AddObserver(&registrar);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(engine.Publish("orders", {"x"}).ok());
  registrar.Start(Identity());
  EXPECT_EQ(registrar.peer_count(), 0u);

  auto producers = [](discovery::DiscoveryServer& d) {
    auto r = d.registry()->Lookup("orders");
    return r ? r->producers.size() : 0u;
  };
  registrar.SetLookupdAddresses({a1, a1});  // a duplicate counts once
  EXPECT_EQ(registrar.peer_count(), 1u);
  ASSERT_TRUE(Eventually([&] { return producers(d1) == 1; }));
  const auto first = registrar.peer(0);

  registrar.SetLookupdAddresses({a2, a1});
  ASSERT_EQ(registrar.peer_count(), 2u);
  EXPECT_EQ(registrar.peer(0), first);  // the kept session is not restarted
  ASSERT_TRUE(Eventually([&] { return producers(d2) == 1; }));
  EXPECT_EQ(first->registrations(), 1);

  registrar.SetLookupdAddresses({a2});
  EXPECT_TRUE(Eventually([&] { return producers(d1) == 0; }));
  EXPECT_EQ(producers(d2), 1u);
  ASSERT_EQ(registrar.peer_count(), 1u);
  EXPECT_EQ(registrar.peer(0)->address(), a2);
  registrar.Stop();
}

INSTANTIATE_TEST_SUITE_P(Protocols, RegistrarTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("LookupdV1") : std::string("Grpc");
                         });

}  // namespace
}  // namespace nsq::broker::discovery_client
