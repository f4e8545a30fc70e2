// A local cluster on loopback: discovery instances and brokers in-process (one broker as
// a real nsqd process, to be killed), the C++ client library consuming through
// Lookup/Watch.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/flags/flags.h"
#include "common/http/client.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "services/broker/broker_options.h"
#include "services/broker/broker_server.h"
#include "services/discovery/discovery_server.h"

namespace nsq::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kWait = absl::Seconds(10);

template <typename Pred>
bool Eventually(Pred pred, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return pred();
}

discovery::DiscoveryOptions DiscoveryOpts(int grpc_port = 0, int tcp_port = 0) {
  discovery::DiscoveryOptions o;
  o.grpc_address = absl::StrCat("127.0.0.1:", grpc_port);
  o.tcp_address = absl::StrCat("127.0.0.1:", tcp_port);
  o.http_address = "127.0.0.1:0";
  o.broadcast_address = "127.0.0.1";
  o.sweep_interval = absl::Milliseconds(50);
  return o;
}

class ClusterTest : public ::testing::Test {
 protected:
  // Starts a discovery instance (on the given ports, 0 = any) with the fake clock.
  discovery::DiscoveryServer* StartDiscovery(int grpc_port = 0, int tcp_port = 0) {
    auto d = std::make_unique<discovery::DiscoveryServer>(DiscoveryOpts(grpc_port, tcp_port), &clock_);
    EXPECT_TRUE(d->Start().ok());
    discoveries_.push_back(std::move(d));
    return discoveries_.back().get();
  }

  std::vector<std::string> DiscoveryAddresses() const {
    std::vector<std::string> out;
    for (const auto& d : discoveries_) out.push_back(absl::StrCat("127.0.0.1:", d->grpc_port()));
    return out;
  }

  broker::BrokerOptions BrokerOpts() {
    static std::atomic<int> n{0};
    broker::BrokerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.http_address = "127.0.0.1:0";
    o.tcp_address = "127.0.0.1:0";
    o.broadcast_address = "127.0.0.1";
    o.data_path = absl::StrCat(::testing::TempDir(), "/cluster_broker", ++n);
    o.node_id = n;
    o.discovery_addresses = DiscoveryAddresses();
    return o;
  }

  broker::BrokerServer* StartBroker() {
    auto b = std::make_unique<broker::BrokerServer>(BrokerOpts());
    EXPECT_TRUE(b->Start().ok());
    brokers_.push_back(std::move(b));
    return brokers_.back().get();
  }

  static std::string GrpcAddress(const broker::BrokerServer* b) {
    return absl::StrCat("127.0.0.1:", b->grpc_port());
  }

  // Lookup over gRPC: the producers' gRPC addresses.
  static std::set<std::string> Lookup(discovery::DiscoveryServer* d, const std::string& topic) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", d->grpc_port()),
                                       grpc::InsecureChannelCredentials());
    auto stub = nsq::v1::Discovery::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    nsq::v1::LookupRequest req;
    req.set_topic(topic);
    nsq::v1::LookupResponse resp;
    std::set<std::string> out;
    if (!stub->Lookup(&ctx, req, &resp).ok()) return out;
    for (const auto& p : resp.producers()) {
      out.insert(absl::StrCat(p.broadcast_address(), ":", p.grpc_port()));
    }
    return out;
  }

  FakeClock clock_;  // discovery's (registry timeouts)
  std::vector<std::unique_ptr<discovery::DiscoveryServer>> discoveries_;
  std::vector<std::unique_ptr<broker::BrokerServer>> brokers_;
};

// Collects what a consumer receives.
struct Received {
  void Add(const client::Message& m) {
    absl::MutexLock lock(&mu);
    bodies.insert(m.body);
    by_broker[m.broker]++;
  }
  size_t count() {
    absl::MutexLock lock(&mu);
    return bodies.size();
  }
  bool Has(const std::string& body) {
    absl::MutexLock lock(&mu);
    return bodies.count(body) != 0;
  }
  absl::Mutex mu;
  std::set<std::string> bodies;
  std::map<std::string, int> by_broker;
};

TEST_F(ClusterTest, BothBrokersAreSeenByBothDiscoveryInstances) {
  StartDiscovery();
  StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(client::Producer(GrpcAddress(a)).Publish("orders", "from a").ok());
  ASSERT_TRUE(client::Producer(GrpcAddress(b)).Publish("orders", "from b").ok());
  for (auto& d : discoveries_) {
    EXPECT_TRUE(Eventually([&] {
      return Lookup(d.get(), "orders") == std::set<std::string>{GrpcAddress(a), GrpcAddress(b)};
    }));
    // And through the lookupd HTTP API, with the brokers' NSQ ports.
    auto resp = http::HttpRequest("GET", absl::StrCat("127.0.0.1:", d->http_port()),
                                  "/lookup?topic=orders");
    ASSERT_TRUE(resp.ok());
    EXPECT_THAT(resp->body, HasSubstr(absl::StrCat("\"tcp_port\":", a->tcp_port(), ",\"http_port\":",
                                                   a->http_port())));
    EXPECT_THAT(resp->body, HasSubstr(absl::StrCat("\"tcp_port\":", b->tcp_port())));
  }
}

TEST_F(ClusterTest, StoppedBrokerLeavesLookup) {
  auto* d = StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(a->engine()->CreateTopic("orders").ok());
  ASSERT_TRUE(b->engine()->CreateTopic("orders").ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(d, "orders").size() == 2; }));
  const std::string gone = GrpcAddress(a);
  a->Stop();
  EXPECT_TRUE(Eventually([&] { return Lookup(d, "orders") == std::set<std::string>{GrpcAddress(b)}; }));
  EXPECT_EQ(Lookup(d, "orders").count(gone), 0u);
}

// A real nsqd process, killed with SIGKILL: its stream ends without a goodbye.
TEST_F(ClusterTest, KilledBrokerProcessLeavesLookupWhenItsStreamEnds) {
  auto* d = StartDiscovery();
  auto* b = StartBroker();
  ASSERT_TRUE(b->engine()->CreateTopic("orders").ok());
  const std::string data = absl::StrCat(::testing::TempDir(), "/killed_nsqd");
  const std::string discovery = absl::StrCat("--discovery-address=127.0.0.1:", d->grpc_port());
  pid_t pid = fork();
  if (pid == 0) {
    execl("services/broker/nsqd", "nsqd", "--grpc-address=127.0.0.1:0",
          "--http-address=127.0.0.1:0", "--tcp-address=127.0.0.1:0",
          "--broadcast-address=127.0.0.1", ("--data-path=" + data).c_str(), "--node-id=7",
          "--log-level=warn", discovery.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  // The process registers no topic yet: wait for it as a node.
  ASSERT_TRUE(Eventually([&] { return d->registry()->Nodes().size() == 2; }));
  // Create the topic on it through its own gRPC port, as seen in discovery.
  std::string killed;
  for (const auto& n : d->registry()->Nodes()) {
    if (n.peer.grpc_port != b->grpc_port()) killed = absl::StrCat("127.0.0.1:", n.peer.grpc_port);
  }
  ASSERT_TRUE(client::Producer(killed).Publish("orders", "x").ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(d, "orders").size() == 2; }));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(Eventually([&] { return Lookup(d, "orders") == std::set<std::string>{GrpcAddress(b)}; }));
}

TEST_F(ClusterTest, TombstoneHidesAProducerForItsLifetime) {
  auto* d = StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(a->engine()->CreateTopic("orders").ok());
  ASSERT_TRUE(b->engine()->CreateTopic("orders").ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(d, "orders").size() == 2; }));
  auto resp = http::HttpRequest(
      "POST", absl::StrCat("127.0.0.1:", d->http_port()),
      absl::StrCat("/topic/tombstone?topic=orders&node=127.0.0.1:", a->http_port()));
  ASSERT_TRUE(resp.ok());
  ASSERT_EQ(resp->status, 200);
  EXPECT_EQ(Lookup(d, "orders"), std::set<std::string>{GrpcAddress(b)});
  clock_.Advance(absl::Seconds(44));
  EXPECT_EQ(Lookup(d, "orders"), std::set<std::string>{GrpcAddress(b)});
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(Lookup(d, "orders"), (std::set<std::string>{GrpcAddress(a), GrpcAddress(b)}));
}

TEST_F(ClusterTest, ConsumerGetsBothBrokersMessagesAndPicksUpANewBrokerAtOnce) {
  StartDiscovery();
  StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(client::Producer(GrpcAddress(a)).Publish("orders", {"a0", "a1", "a2"}).ok());
  ASSERT_TRUE(client::Producer(GrpcAddress(b)).Publish("orders", {"b0", "b1", "b2"}).ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(discoveries_[0].get(), "orders").size() == 2; }));

  Received received;
  client::ConsumerOptions o;
  o.topic = "orders";
  o.channel = "billing";
  o.discovery_addresses = DiscoveryAddresses();
  o.config.max_in_flight = 10;
  o.config.lookupd_poll_interval = absl::Hours(1);  // no polling: only Watch can bring a new broker
  client::Consumer consumer(o, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  // The channel does not exist yet on either broker: the consumer creates it, and the
  // messages published before are already in the topic, so they reach it.
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return received.count() == 6; }));
  {
    absl::MutexLock lock(&received.mu);
    EXPECT_EQ(received.by_broker[GrpcAddress(a)], 3);
    EXPECT_EQ(received.by_broker[GrpcAddress(b)], 3);
  }
  EXPECT_THAT(consumer.ConnectedBrokers(), UnorderedElementsAre(GrpcAddress(a), GrpcAddress(b)));

  // A third broker: its "orders" topic gets the "billing" channel from discovery when
  // it is created (so the first message waits there), it registers, the Watch tells the
  // consumer, and the consumer connects.
  auto* c = StartBroker();
  ASSERT_TRUE(client::Producer(GrpcAddress(c)).Publish("orders", "c0").ok());
  EXPECT_TRUE(Eventually([&] { return received.Has("c0"); }, absl::Seconds(5)));
  EXPECT_THAT(consumer.ConnectedBrokers(),
              UnorderedElementsAre(GrpcAddress(a), GrpcAddress(b), GrpcAddress(c)));
  consumer.Stop();
}

TEST_F(ClusterTest, ConsumerSpreadsMaxInFlightAcrossBrokers) {
  StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(a->engine()->CreateChannel("orders", "billing").ok());
  ASSERT_TRUE(b->engine()->CreateChannel("orders", "billing").ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(discoveries_[0].get(), "orders").size() == 2; }));
  client::ConsumerOptions o;
  o.topic = "orders";
  o.channel = "billing";
  o.discovery_addresses = DiscoveryAddresses();
  o.config.max_in_flight = 5;
  client::Consumer consumer(o, [](const client::Message&) { return true; });
  ASSERT_TRUE(consumer.Start().ok());
  auto ready = [](broker::BrokerServer* s) {
    auto stats = s->engine()->GetStats({"orders", "billing", true});
    if (!stats.ok() || stats->empty() || (*stats)[0].channels.empty() ||
        (*stats)[0].channels[0].consumers.empty()) {
      return int64_t{-1};
    }
    return (*stats)[0].channels[0].consumers[0].ready_count;
  };
  // Once both are subscribed: 2 and 3 (before that, the first one alone had all 5).
  EXPECT_TRUE(Eventually([&] {
    const int64_t ra = ready(a);
    const int64_t rb = ready(b);
    return std::min(ra, rb) == 2 && std::max(ra, rb) == 3;
  }));
}

TEST_F(ClusterTest, BrokersKeepServingWithDiscoveryDownAndReRegisterWhenItReturns) {
  auto* d = StartDiscovery();
  auto* a = StartBroker();
  auto* b = StartBroker();
  ASSERT_TRUE(a->engine()->CreateChannel("orders", "billing").ok());
  ASSERT_TRUE(b->engine()->CreateChannel("orders", "billing").ok());
  ASSERT_TRUE(Eventually([&] { return Lookup(d, "orders").size() == 2; }));

  Received received;
  client::ConsumerOptions o;
  o.topic = "orders";
  o.channel = "billing";
  o.discovery_addresses = DiscoveryAddresses();
  o.config.max_in_flight = 10;
  o.config.lookupd_poll_interval = absl::Milliseconds(100);
  client::Consumer consumer(o, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return consumer.ConnectedBrokers().size() == 2; }));

  const int grpc_port = d->grpc_port();
  const int tcp_port = d->tcp_port();
  discoveries_.clear();  // discovery goes away

  // Publishers and connected consumers are unaffected.
  ASSERT_TRUE(client::Producer(GrpcAddress(a)).Publish("orders", "while down a").ok());
  ASSERT_TRUE(client::Producer(GrpcAddress(b)).Publish("orders", "while down b").ok());
  ASSERT_TRUE(Eventually([&] { return received.count() == 2; }));
  ASSERT_TRUE(b->engine()->CreateChannel("clicks", "stats").ok());  // registered later

  // Discovery returns on the same ports: both brokers register again, with what
  // changed meanwhile.
  d = StartDiscovery(grpc_port, tcp_port);
  EXPECT_TRUE(Eventually([&] { return Lookup(d, "orders").size() == 2; }));
  EXPECT_TRUE(Eventually([&] { return Lookup(d, "clicks") == std::set<std::string>{GrpcAddress(b)}; }));
  EXPECT_THAT(d->registry()->Channels("clicks"), ElementsAre("stats"));
  consumer.Stop();
}

TEST_F(ClusterTest, BrokerRegistersWithALookupdOverProtocolV1) {
  auto* d = StartDiscovery();
  broker::BrokerOptions o = BrokerOpts();
  o.discovery_addresses.clear();
  o.lookupd_tcp_addresses = {absl::StrCat("127.0.0.1:", d->tcp_port())};
  o.broadcast_http_port = 14151;  // advertised instead of the bound one
  broker::BrokerServer broker(o);
  ASSERT_TRUE(broker.Start().ok());
  ASSERT_TRUE(broker.engine()->CreateChannel("orders", "billing").ok());
  std::string body;
  ASSERT_TRUE(Eventually([&] {
    auto resp = http::HttpRequest("GET", absl::StrCat("127.0.0.1:", d->http_port()),
                                  "/lookup?topic=orders");
    body = resp.ok() ? resp->body : "";
    return absl::StrContains(body, "\"producers\":[{") &&
           absl::StrContains(body, "\"channels\":[\"billing\"]");
  }));
  EXPECT_THAT(body, HasSubstr(absl::StrCat("\"broadcast_address\":\"127.0.0.1\",\"tcp_port\":",
                                           broker.tcp_port(), ",\"http_port\":14151,")));
  broker.Stop();
  EXPECT_TRUE(Eventually([&] { return d->registry()->Lookup("orders")->producers.empty(); }));
}

// nsqd's PUT /config/nsqlookupd_tcp_addresses: a new address starts a registration there,
// and an address taken out of the list closes that session (lookupd drops the broker).
TEST_F(ClusterTest, PutNsqlookupdTcpAddressesStartsAndEndsRegistration) {
  auto* d = StartDiscovery();
  broker::BrokerOptions o = BrokerOpts();
  o.discovery_addresses.clear();
  broker::BrokerServer broker(o);
  ASSERT_TRUE(broker.Start().ok());
  ASSERT_TRUE(broker.engine()->CreateChannel("orders", "billing").ok());
  const std::string api = absl::StrCat("127.0.0.1:", broker.http_port());
  const std::string lookupd = absl::StrCat("127.0.0.1:", d->tcp_port());

  auto put = http::HttpRequest("PUT", api, "/config/nsqlookupd_tcp_addresses",
                               absl::StrCat("[\"", lookupd, "\"]"));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(put->body, absl::StrCat("[\"", lookupd, "\"]"));
  std::string body;
  ASSERT_TRUE(Eventually([&] {
    auto resp = http::HttpRequest("GET", absl::StrCat("127.0.0.1:", d->http_port()),
                                  "/lookup?topic=orders");
    body = resp.ok() ? resp->body : "";
    return absl::StrContains(body, "\"channels\":[\"billing\"]") &&
           absl::StrContains(body, "\"producers\":[{");
  })) << body;
  EXPECT_THAT(body, HasSubstr(absl::StrCat("\"tcp_port\":", broker.tcp_port(), ",\"http_port\":",
                                           broker.http_port())));
  // Topics created later reach the new lookupd too.
  ASSERT_TRUE(broker.engine()->CreateChannel("clicks", "c").ok());
  EXPECT_TRUE(Eventually([&] { return d->registry()->Channels("clicks") == std::vector<std::string>{"c"}; }));

  put = http::HttpRequest("PUT", api, "/config/nsqlookupd_tcp_addresses", "[]");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(put->body, "[]");
  EXPECT_TRUE(Eventually([&] { return d->registry()->Lookup("orders")->producers.empty(); }));
  EXPECT_EQ(http::HttpRequest("GET", api, "/config/nsqlookupd_tcp_addresses")->body, "[]");
}

TEST(BrokerDiscoveryFlagsTest, RepeatableAddressesAndNsqdConfigKey) {
  broker::BrokerOptions o;
  flags::FlagSet f("nsqd");
  o.RegisterFlags(&f);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{
                           "--discovery-address=127.0.0.1:4162", "--discovery-address=10.0.0.2:4162",
                           "--lookupd-tcp-address=127.0.0.1:4160", "--broadcast-tcp-port=5150",
                           "--broadcast-http-port=5151"})
                  .ok());
  EXPECT_THAT(o.discovery_addresses, ElementsAre("127.0.0.1:4162", "10.0.0.2:4162"));
  EXPECT_THAT(o.lookupd_tcp_addresses, ElementsAre("127.0.0.1:4160"));
  EXPECT_EQ(o.broadcast_tcp_port, 5150);
  EXPECT_EQ(o.broadcast_http_port, 5151);
  EXPECT_THAT(f.Usage(), HasSubstr("lookupd-tcp-address"));

  const std::string config = absl::StrCat(::testing::TempDir(), "/nsqd_lookupd.toml");
  FILE* file = fopen(config.c_str(), "w");
  ASSERT_NE(file, nullptr);
  fputs("nsqlookupd_tcp_addresses = [\"10.0.0.1:4160\", \"10.0.0.2:4160\"]\n", file);
  fclose(file);
  broker::BrokerOptions from_file;
  flags::FlagSet g("nsqd");
  from_file.RegisterFlags(&g);
  ASSERT_TRUE(g.Parse(std::vector<std::string>{"--config=" + config}).ok());
  EXPECT_THAT(from_file.lookupd_tcp_addresses, ElementsAre("10.0.0.1:4160", "10.0.0.2:4160"));
}

}  // namespace
}  // namespace nsq::testing
