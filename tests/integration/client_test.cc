// The client library over loopback against in-process brokers and discovery, over both
// transports: gRPC (found through discovery's Lookup/Watch) and NSQ's protocol V2
// (found through the lookupd HTTP /lookup, served by our gateway).

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "client/lookupd.h"
#include "client/producer.h"
#include "common/tls/test_certs.h"
#include "gtest/gtest.h"
#include "services/broker/broker_options.h"
#include "services/broker/broker_server.h"
#include "common/time/fake_clock.h"
#include "services/discovery/discovery_server.h"

namespace nsq::testing {
namespace {

template <typename Pred>
bool Eventually(Pred pred, absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return pred();
}

struct Received {
  void Add(const client::Message& m) {
    absl::MutexLock lock(&mu);
    bodies.insert(m.body);
    attempts[m.body] = m.attempts;
    ++total;
  }
  size_t count() {
    absl::MutexLock lock(&mu);
    return bodies.size();
  }
  absl::Mutex mu;
  std::set<std::string> bodies;
  std::map<std::string, uint32_t> attempts;
  int total = 0;
};

enum class Transport { kGrpc, kV2 };

class ClientTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    discovery::DiscoveryOptions d;
    d.grpc_address = "127.0.0.1:0";
    d.tcp_address = "127.0.0.1:0";
    d.http_address = "127.0.0.1:0";
    d.broadcast_address = "127.0.0.1";
    discovery_ = std::make_unique<discovery::DiscoveryServer>(d, &clock_);
    ASSERT_TRUE(discovery_->Start().ok());
  }

  broker::BrokerServer* StartBroker() {
    static std::atomic<int> n{0};
    broker::BrokerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.http_address = "127.0.0.1:0";
    o.tcp_address = "127.0.0.1:0";
    o.broadcast_address = "127.0.0.1";
    o.data_path = absl::StrCat(::testing::TempDir(), "/client_broker", ++n);
    o.node_id = n;
    o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
    auto b = std::make_unique<broker::BrokerServer>(o);
    EXPECT_TRUE(b->Start().ok());
    brokers_.push_back(std::move(b));
    return brokers_.back().get();
  }

  // The broker's address for the transport under test.
  std::string Address(const broker::BrokerServer* b) const {
    return absl::StrCat("127.0.0.1:", GetParam() == Transport::kGrpc ? b->grpc_port() : b->tcp_port());
  }

  client::ProducerOptions ProducerTo(const std::vector<broker::BrokerServer*>& bs) const {
    client::ProducerOptions p;
    for (auto* b : bs) {
      (GetParam() == Transport::kGrpc ? p.broker_addresses : p.nsqd_tcp_addresses).push_back(Address(b));
    }
    return p;
  }

  // Found through discovery: gRPC Watch, or lookupd HTTP polled every 100 ms.
  client::ConsumerOptions ConsumerOf(const std::string& topic, const std::string& channel) const {
    client::ConsumerOptions o;
    o.topic = topic;
    o.channel = channel;
    o.seed = 1;
    o.config.max_in_flight = 10;
    o.config.lookupd_poll_interval = absl::Milliseconds(100);
    o.config.backoff_multiplier = absl::Milliseconds(5);
    o.config.default_requeue_delay = absl::ZeroDuration();
    if (GetParam() == Transport::kGrpc) {
      o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
    } else {
      o.lookupd_http_addresses = {absl::StrCat("127.0.0.1:", discovery_->http_port())};
    }
    return o;
  }

  int64_t Depth(broker::BrokerServer* b, const std::string& topic, const std::string& channel) {
    auto stats = b->engine()->GetStats({topic, channel, true});
    if (!stats.ok() || stats->empty() || (*stats)[0].channels.empty()) return -1;
    const auto& c = (*stats)[0].channels[0];
    return c.depth + c.in_flight_count + c.deferred_count;
  }

  FakeClock clock_;
  std::unique_ptr<discovery::DiscoveryServer> discovery_;
  std::vector<std::unique_ptr<broker::BrokerServer>> brokers_;
};

TEST_P(ClientTest, ProducerSpreadsOverBrokersAndConsumerGetsEveryMessage) {
  auto* a = StartBroker();
  auto* b = StartBroker();
  client::Producer producer(ProducerTo({a, b}));
  std::vector<std::string> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(absl::StrCat("m", i));
  for (int i = 0; i < 4; ++i) {
    auto r = producer.Publish("orders", std::vector<std::string>(batch.begin() + i * 10, batch.begin() + i * 10 + 10));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  for (int i = 40; i < 50; ++i) ASSERT_TRUE(producer.Publish("orders", batch[i]).ok());
  ASSERT_TRUE(Eventually([&] {
    auto p = client::LookupdLookup(absl::StrCat("127.0.0.1:", discovery_->http_port()), "orders",
                                   absl::Seconds(2));
    return p.ok() && p->size() == 2;
  }));

  Received received;
  client::Consumer consumer(ConsumerOf("orders", "billing"), [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return received.count() == 50; }));
  EXPECT_EQ(consumer.ConnectedBrokers().size(), 2u);
  // Both brokers had some (round-robin), and all were FINished.
  EXPECT_TRUE(Eventually([&] { return Depth(a, "orders", "billing") == 0 && Depth(b, "orders", "billing") == 0; }));
  EXPECT_GT(a->engine()->GetStats({"orders", "", true})->at(0).message_count, 0u);
  EXPECT_GT(b->engine()->GetStats({"orders", "", true})->at(0).message_count, 0u);
  consumer.Stop();
}

TEST_P(ClientTest, AFailedMessageIsRequeuedAndRedeliveredWithMoreAttempts) {
  auto* a = StartBroker();
  client::Producer producer(ProducerTo({a}));
  ASSERT_TRUE(producer.Publish("jobs", "flaky").ok());
  Received received;
  std::atomic<int> calls{0};
  client::Consumer consumer(ConsumerOf("jobs", "w"), [&](const client::Message& m) {
    received.Add(m);
    return ++calls >= 3;  // fails twice
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return calls.load() >= 3; }));
  {
    absl::MutexLock lock(&received.mu);
    EXPECT_EQ(received.attempts["flaky"], 3u);
  }
  EXPECT_TRUE(Eventually([&] { return Depth(a, "jobs", "w") == 0; }));
  EXPECT_EQ(consumer.requeued(), 2);
  EXPECT_EQ(consumer.finished(), 1);
  consumer.Stop();
}

TEST_P(ClientTest, AMessagePastMaxAttemptsGoesToTheHookAndIsFinished) {
  auto* a = StartBroker();
  client::Producer producer(ProducerTo({a}));
  ASSERT_TRUE(producer.Publish("jobs", "poison").ok());
  std::atomic<int> calls{0};
  std::atomic<int> hooked{0};
  auto o = ConsumerOf("jobs", "w");
  o.config.max_attempts = 2;
  o.on_max_attempts = [&](const client::Message& m) {
    EXPECT_EQ(m.body, "poison");
    EXPECT_EQ(m.attempts, 3u);
    ++hooked;
  };
  client::Consumer consumer(o, [&](const client::Message&) {
    ++calls;
    return false;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return hooked.load() == 1; }));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(Eventually([&] { return Depth(a, "jobs", "w") == 0; }));
  consumer.Stop();
}

TEST_P(ClientTest, StopRequeuesUnansweredMessagesForTheNextConsumer) {
  auto* a = StartBroker();
  client::Producer producer(ProducerTo({a}));
  auto published = producer.Publish("held", std::vector<std::string>{"h0", "h1", "h2"});
  ASSERT_TRUE(published.ok()) << published.status();
  std::vector<client::Message> held;
  absl::Mutex mu;
  auto o = ConsumerOf("held", "c");
  o.stop_timeout = absl::Milliseconds(200);
  {
    client::Consumer first(o, client::Async{[&](client::Message m) {
                             absl::MutexLock lock(&mu);
                             held.push_back(std::move(m));  // never answered
                           }});
    ASSERT_TRUE(first.Start().ok());
    ASSERT_TRUE(Eventually([&] {
      absl::MutexLock lock(&mu);
      return held.size() == 3;
    }));
    EXPECT_EQ(first.in_flight(), 3);
    first.Stop();
  }
  Received received;
  client::Consumer second(o, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(second.Start().ok());
  ASSERT_TRUE(Eventually([&] { return received.count() == 3; }));
  EXPECT_TRUE(Eventually([&] { return Depth(a, "held", "c") == 0; }));
  second.Stop();
}

TEST_P(ClientTest, AsyncFinishAllAnswersMessagesLater) {
  auto* a = StartBroker();
  client::Producer producer(ProducerTo({a}));
  std::vector<std::string> bodies;
  for (int i = 0; i < 100; ++i) bodies.push_back(absl::StrCat("b", i));
  ASSERT_TRUE(producer.Publish("batch", bodies).ok());
  absl::Mutex mu;
  std::vector<client::Message> pending;
  auto o = ConsumerOf("batch", "c");
  o.config.max_in_flight = 100;
  client::Consumer consumer(o, client::Async{[&](client::Message m) {
                              absl::MutexLock lock(&mu);
                              pending.push_back(std::move(m));
                            }});
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return pending.size() == 100;
  }));
  EXPECT_EQ(Depth(a, "batch", "c"), 100);  // all in flight
  {
    absl::MutexLock lock(&mu);
    client::FinishAll(pending);
  }
  EXPECT_TRUE(Eventually([&] { return Depth(a, "batch", "c") == 0; }));
  EXPECT_EQ(consumer.finished(), 100);
  consumer.Stop();
}

TEST_P(ClientTest, MoreBrokersThanMaxInFlightStillDrainsEveryBroker) {
  auto* a = StartBroker();
  auto* b = StartBroker();
  client::Producer pa(ProducerTo({a}));
  client::Producer pb(ProducerTo({b}));
  auto published_a = pa.Publish("few", std::vector<std::string>{"a0", "a1", "a2"});
  ASSERT_TRUE(published_a.ok()) << published_a.status();
  auto published_b = pb.Publish("few", std::vector<std::string>{"b0", "b1", "b2"});
  ASSERT_TRUE(published_b.ok()) << published_b.status();
  ASSERT_TRUE(Eventually([&] {
    auto p = client::LookupdLookup(absl::StrCat("127.0.0.1:", discovery_->http_port()), "few", absl::Seconds(2));
    return p.ok() && p->size() == 2;
  }));
  auto o = ConsumerOf("few", "c");
  o.config.max_in_flight = 1;  // RDY 1 on one broker at a time, moved by redistribution
  o.config.rdy_redistribute_interval = absl::Milliseconds(50);
  o.config.low_rdy_idle_timeout = absl::Milliseconds(200);
  Received received;
  client::Consumer consumer(o, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(Eventually([&] { return received.count() == 6; }));
  consumer.Stop();
}

TEST_P(ClientTest, TouchKeepsAMessageInFlightPastItsTimeout) {
  auto* a = StartBroker();
  client::Producer producer(ProducerTo({a}));
  ASSERT_TRUE(producer.Publish("slow", "work").ok());
  auto o = ConsumerOf("slow", "c");
  o.config.msg_timeout = absl::Seconds(1);
  std::atomic<int> calls{0};
  client::Consumer consumer(o, [&](const client::Message& m) {
    ++calls;
    for (int i = 0; i < 8; ++i) {  // 2 s of work, touched every 250 ms
      absl::SleepFor(absl::Milliseconds(250));
      m.Touch();
    }
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return consumer.finished() == 1; }));
  EXPECT_TRUE(Eventually([&] { return Depth(a, "slow", "c") == 0; }));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(a->engine()->GetStats({"slow", "c", true})->at(0).channels[0].timeout_count, 0u);
  consumer.Stop();
}

TEST_P(ClientTest, ConsumerOfAFixedAddressReconnectsAfterTheBrokerComesBack) {
  auto* a = StartBroker();
  const std::string address = Address(a);
  auto o = ConsumerOf("orders", "c");
  o.discovery_addresses.clear();
  o.lookupd_http_addresses.clear();
  (GetParam() == Transport::kGrpc ? o.broker_addresses : o.nsqd_tcp_addresses).push_back(address);
  ASSERT_TRUE(a->engine()->CreateChannel("orders", "c").ok());
  Received received;
  client::Consumer consumer(o, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return consumer.ConnectedBrokers().size() == 1; }));
  // Another broker on the same ports after this one stops.
  const int grpc_port = a->grpc_port(), tcp_port = a->tcp_port();
  a->Stop();
  ASSERT_TRUE(Eventually([&] { return consumer.ConnectedBrokers().empty(); }));
  broker::BrokerOptions bo;
  bo.grpc_address = absl::StrCat("127.0.0.1:", grpc_port);
  bo.tcp_address = absl::StrCat("127.0.0.1:", tcp_port);
  bo.http_address = "127.0.0.1:0";
  bo.broadcast_address = "127.0.0.1";
  bo.data_path = absl::StrCat(::testing::TempDir(), "/client_broker_again");
  auto again = std::make_unique<broker::BrokerServer>(bo);
  ASSERT_TRUE(again->Start().ok());
  ASSERT_TRUE(again->engine()->CreateChannel("orders", "c").ok());
  ASSERT_TRUE(Eventually([&] { return consumer.ConnectedBrokers().size() == 1; }));
  client::Producer producer(ProducerTo({again.get()}));
  ASSERT_TRUE(producer.Publish("orders", "after").ok());
  EXPECT_TRUE(Eventually([&] { return received.count() == 1; }));
  consumer.Stop();
  again->Stop();
}

TEST_P(ClientTest, ProducerFailsOverToTheNextBroker) {
  auto* a = StartBroker();
  client::ProducerOptions p = ProducerTo({a});
  (GetParam() == Transport::kGrpc ? p.broker_addresses : p.nsqd_tcp_addresses)
      .insert((GetParam() == Transport::kGrpc ? p.broker_addresses : p.nsqd_tcp_addresses).begin(),
              "127.0.0.1:1");  // nothing listens there
  p.mode = client::ProducerOptions::Mode::kFailover;
  p.timeout = absl::Seconds(2);
  p.config.dial_timeout = absl::Milliseconds(500);
  client::Producer producer(p);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(producer.Publish("f", absl::StrCat("x", i)).ok());
  EXPECT_EQ(a->engine()->GetStats({"f", "", true})->at(0).message_count, 3u);
  const absl::Status bad = producer.Publish("bad topic!", "x");
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
}

TEST(ClientTlsTest, V2UpgradesToTlsAndVerifiesTheBroker) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/client_tls");
  std::filesystem::create_directories(dir);
  auto certs = tls::testing::WriteTestCerts(dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  broker::BrokerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.http_address = "127.0.0.1:0";
  o.tcp_address = "127.0.0.1:0";
  o.https_address = "127.0.0.1:0";
  o.broadcast_address = "127.0.0.1";
  o.data_path = dir + "/data";
  o.tls_cert = certs->server_cert_file;
  o.tls_key = certs->server_key_file;
  broker::BrokerServer b(o);
  ASSERT_TRUE(b.Start().ok());
  const std::string address = absl::StrCat("127.0.0.1:", b.tcp_port());

  client::ProducerOptions po;
  po.nsqd_tcp_addresses = {address};
  po.config.tls_v1 = true;
  po.config.tls_root_ca_file = certs->ca_file;
  client::Producer producer(po);
  std::vector<std::string> bodies;
  for (int i = 0; i < 300; ++i) bodies.push_back(absl::StrCat("secret", i, std::string(1000, 'x')));
  ASSERT_TRUE(producer.Publish("tls", bodies).ok());

  client::ConsumerOptions co;
  co.topic = "tls";
  co.channel = "c";
  co.nsqd_tcp_addresses = {address};
  co.config = po.config;
  co.config.max_in_flight = 50;
  Received received;
  client::Consumer consumer(co, [&](const client::Message& m) {
    received.Add(m);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(Eventually([&] { return received.count() == 300; }));
  consumer.Stop();

  // A CA that did not sign the broker's certificate: the handshake fails.
  client::ProducerOptions untrusted = po;
  untrusted.config.tls_root_ca_file = certs->untrusted_cert_file;
  untrusted.max_retries = 0;
  const absl::Status st = client::Producer(untrusted).Publish("tls", "x");
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_NE(st.message().find("TLS handshake"), absl::string_view::npos) << st;
  b.Stop();
}

INSTANTIATE_TEST_SUITE_P(Transports, ClientTest, ::testing::Values(Transport::kGrpc, Transport::kV2),
                         [](const auto& info) { return info.param == Transport::kGrpc ? "Grpc" : "V2"; });

}  // namespace
}  // namespace nsq::testing
