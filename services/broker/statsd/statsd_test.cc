#include "services/broker/statsd/statsd.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"

namespace nsq::broker::statsd {
namespace {


// A UDP socket on 127.0.0.1:0 standing in for the statsd daemon.
class UdpListener {
 public:
  UdpListener() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~UdpListener() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  // The next datagram, or "" after `timeout`.
  std::string Receive(absl::Duration timeout = absl::Seconds(10)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return "";
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, n) : "";
  }
  // Every datagram that arrives until none has for `quiet`.
  std::vector<std::string> ReceiveAll(absl::Duration quiet = absl::Milliseconds(300)) {
    std::vector<std::string> out;
    std::string first = Receive();
    if (first.empty()) return out;
    out.push_back(first);
    for (std::string d = Receive(quiet); !d.empty(); d = Receive(quiet)) out.push_back(d);
    return out;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// key -> "value|type" for every line of `datagrams`.
std::map<std::string, std::string> Parse(const std::vector<std::string>& datagrams) {
  std::map<std::string, std::string> out;
  for (const std::string& d : datagrams) {
    EXPECT_EQ(d.back(), '\n');
    for (absl::string_view line : absl::StrSplit(d, '\n', absl::SkipEmpty())) {
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
      EXPECT_EQ(kv.size(), 2u) << line;
      if (kv.size() == 2) out[kv[0]] = kv[1];
    }
  }
  return out;
}

class NullSink : public DeliverySink {
 public:
  void Deliver(std::vector<Delivery>& batch) override {}
  void Closed(const absl::Status& why) override {}
};

class StatsdTest : public ::testing::Test {
 protected:
  StatsdTest() : engine_(EngineOptions{}, &clock_, &storage_) { EXPECT_TRUE(engine_.Start().ok()); }
  ~StatsdTest() override { engine_.Shutdown(); }

  void Publish(const std::string& topic, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string_view body = "hello";
      ASSERT_TRUE(engine_.Publish(topic, {body}).ok());
    }
  }
  StatsdOptions Options(const std::string& address) {
    StatsdOptions o;
    o.address = address;
    o.prefix = "nsq.host_4151.";
    o.mem_stats = false;
    return o;
  }

  FakeClock clock_;
  MemoryStorage storage_;
  Engine engine_;
};

TEST_F(StatsdTest, OneIntervalSendsNsqdsKeysWithTheEnginesValues) {
  ASSERT_TRUE(engine_.CreateChannel("orders", "billing").ok());
  Publish("orders", 3);
  NullSink sink;
  auto consumer = engine_.Subscribe("orders", "billing", ConsumerInfo{}, &sink);
  ASSERT_TRUE(consumer.ok());
  UdpListener statsd;
  StatsdPusher pusher(&engine_, Options(statsd.address()));
  ASSERT_TRUE(pusher.PushOnce().ok());
  std::map<std::string, std::string> got = Parse(statsd.ReceiveAll());

  auto stats = engine_.GetStats();
  ASSERT_TRUE(stats.ok());
  const TopicStats& t = stats->at(0);
  const ChannelStats& c = t.channels.at(0);
  const std::string p = "nsq.host_4151.topic.orders";
  EXPECT_EQ(got[p + ".message_count"], absl::StrCat(t.message_count, "|c"));
  EXPECT_EQ(got[p + ".message_count"], "3|c");
  EXPECT_EQ(got[p + ".message_bytes"], absl::StrCat(t.message_bytes, "|c"));
  EXPECT_EQ(got[p + ".depth"], absl::StrCat(t.depth, "|g"));
  EXPECT_EQ(got[p + ".backend_depth"], absl::StrCat(t.backend_depth, "|g"));
  const std::string pc = p + ".channel.billing";
  EXPECT_EQ(got[pc + ".message_count"], absl::StrCat(c.message_count, "|c"));
  EXPECT_EQ(got[pc + ".depth"], "3|g");
  EXPECT_EQ(got[pc + ".backend_depth"], absl::StrCat(c.backend_depth, "|g"));
  EXPECT_EQ(got[pc + ".in_flight_count"], "0|g");
  EXPECT_EQ(got[pc + ".deferred_count"], "0|g");
  EXPECT_EQ(got[pc + ".requeue_count"], "0|c");
  EXPECT_EQ(got[pc + ".timeout_count"], "0|c");
  EXPECT_EQ(got[pc + ".clients"], "1|g");
  EXPECT_EQ(got.size(), 12u);
  (*consumer)->Close();
}

TEST_F(StatsdTest, CountersAreTheChangeSinceTheLastPush) {
  ASSERT_TRUE(engine_.CreateChannel("t", "c").ok());
  Publish("t", 2);
  UdpListener statsd;
  StatsdPusher pusher(&engine_, Options(statsd.address()));
  ASSERT_TRUE(pusher.PushOnce().ok());
  EXPECT_EQ(Parse(statsd.ReceiveAll())["nsq.host_4151.topic.t.message_count"], "2|c");
  Publish("t", 5);
  ASSERT_TRUE(pusher.PushOnce().ok());
  std::map<std::string, std::string> got = Parse(statsd.ReceiveAll());
  EXPECT_EQ(got["nsq.host_4151.topic.t.message_count"], "5|c");
  EXPECT_EQ(got["nsq.host_4151.topic.t.channel.c.message_count"], "5|c");
  EXPECT_EQ(got["nsq.host_4151.topic.t.channel.c.depth"], "7|g");  // gauges are absolute
}

TEST_F(StatsdTest, DatagramsStayWithinThePacketSizeAndCarryWholeLines) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(engine_.CreateChannel(absl::StrCat("topic", i), "ch").ok());
  UdpListener statsd;
  StatsdOptions o = Options(statsd.address());
  o.udp_packet_size = 200;
  o.mem_stats = true;
  StatsdPusher pusher(&engine_, o);
  ASSERT_TRUE(pusher.PushOnce().ok());
  std::vector<std::string> datagrams = statsd.ReceiveAll();
  ASSERT_GT(datagrams.size(), 1u);
  for (const std::string& d : datagrams) EXPECT_LE(d.size(), 200u) << d;
  std::map<std::string, std::string> got = Parse(datagrams);
  EXPECT_EQ(got.size(), 20u * 12 + 9);  // no line lost or split
  EXPECT_EQ(got.count("nsq.host_4151.mem.heap_in_use_bytes"), 1u);
  EXPECT_EQ(got["nsq.host_4151.mem.gc_runs"], "0|c");
}

TEST_F(StatsdTest, EphemeralTopicsAndChannelsAreLeftOutWhenAsked) {
  ASSERT_TRUE(engine_.CreateChannel("t", "durable").ok());
  ASSERT_TRUE(engine_.CreateChannel("t", "tmp#ephemeral").ok());
  ASSERT_TRUE(engine_.CreateChannel("e#ephemeral", "c").ok());
  UdpListener statsd;
  StatsdOptions o = Options(statsd.address());
  o.exclude_ephemeral = true;
  StatsdPusher pusher(&engine_, o);
  ASSERT_TRUE(pusher.PushOnce().ok());
  std::map<std::string, std::string> got = Parse(statsd.ReceiveAll());
  EXPECT_EQ(got.count("nsq.host_4151.topic.t.channel.durable.depth"), 1u);
  EXPECT_EQ(got.count("nsq.host_4151.topic.t.channel.tmp#ephemeral.depth"), 0u);
  EXPECT_EQ(got.count("nsq.host_4151.topic.e#ephemeral.depth"), 0u);

  StatsdPusher all(&engine_, Options(statsd.address()));
  ASSERT_TRUE(all.PushOnce().ok());
  got = Parse(statsd.ReceiveAll());
  EXPECT_EQ(got.count("nsq.host_4151.topic.t.channel.tmp#ephemeral.depth"), 1u);
  EXPECT_EQ(got.count("nsq.host_4151.topic.e#ephemeral.depth"), 1u);
}

TEST_F(StatsdTest, TheThreadPushesEveryInterval) {
  ASSERT_TRUE(engine_.CreateTopic("t").ok());
  UdpListener statsd;
  StatsdOptions o = Options(statsd.address());
  o.interval = absl::Milliseconds(20);
  StatsdPusher pusher(&engine_, o);
  pusher.Start();
  // Two pushes arrive (bounded wait each), then Stop() ends the thread.
  EXPECT_NE(statsd.Receive().find("topic.t.depth:0|g"), std::string::npos);
  EXPECT_NE(statsd.Receive().find("topic.t.depth:0|g"), std::string::npos);
  pusher.Stop();
}

TEST(StatsdPrefixTest, ResolvesLikeNsqd) {
  EXPECT_EQ(ResolvePrefix("nsq.%s", "my.host", "0.0.0.0:4151"), "nsq.my_host_4151.");
  EXPECT_EQ(ResolvePrefix("nsq.%s.", "h", "127.0.0.1:80"), "nsq.h_80.");
  EXPECT_EQ(ResolvePrefix("plain", "h", "127.0.0.1:80"), "plain.");
  EXPECT_EQ(ResolvePrefix("", "h", "127.0.0.1:80"), "");
}

TEST(StatsdPackTest, ALineLongerThanThePacketGoesAlone) {
  std::vector<std::string> packets = PackDatagrams({"a", std::string(50, 'b'), "c"}, 10);
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(packets[0], "a\n");
  EXPECT_EQ(packets[2], "c\n");
  EXPECT_EQ(PackDatagrams({"a", "b", "c"}, 4), (std::vector<std::string>{"a\nb\n", "c\n"}));
}

}  // namespace
}  // namespace nsq::broker::statsd

namespace nsq::broker::statsd {
namespace {

TEST(StatsdE2eTest, PercentilesAreGaugesNamedAsNsqdNamesThem) {
  E2eLatencyStats e2e;
  e2e.has_percentiles = true;
  e2e.window_count = 3;
  e2e.percentiles = {{1.0, 2500000.7}, {0.99, 1200000}, {0.95, 900}};
  TopicStats t;
  t.name = "orders";
  t.e2e = e2e;
  ChannelStats c;
  c.name = "billing";
  c.e2e = e2e;
  t.channels.push_back(c);
  StatsdOptions o;
  o.prefix = "p.";
  o.mem_stats = false;
  std::vector<std::string> lines = FormatLines({t}, {}, o, nullptr);
  auto has = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) != lines.end(); };
  EXPECT_TRUE(has("p.topic.orders.e2e_processing_latency_100:2500000|g"));
  EXPECT_TRUE(has("p.topic.orders.e2e_processing_latency_99:1200000|g"));
  EXPECT_TRUE(has("p.topic.orders.e2e_processing_latency_95:900|g"));
  EXPECT_TRUE(has("p.topic.orders.channel.billing.e2e_processing_latency_99:1200000|g"));
  // After the channel's clients gauge, as nsqd sends them.
  auto clients = std::find(lines.begin(), lines.end(), "p.topic.orders.channel.billing.clients:0|g");
  ASSERT_NE(clients, lines.end());
  EXPECT_EQ(*(clients + 1), "p.topic.orders.channel.billing.e2e_processing_latency_100:2500000|g");
  // Without percentiles nothing is added.
  t.e2e = {};
  t.channels[0].e2e = {};
  for (const std::string& l : FormatLines({t}, {}, o, nullptr)) EXPECT_EQ(l.find("e2e"), std::string::npos) << l;
}

}  // namespace
}  // namespace nsq::broker::statsd
