// The admin's JSON API over a real local cluster on loopback: our discovery, two brokers
// registered over gRPC, and a third registered through lookupd protocol V1 (no gRPC port,
// so the admin reaches it over the NSQ HTTP API only, as it would a stock nsqd). Figures
// the admin shows are checked against each broker's own /stats.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "tests/integration/loopback.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/admin/admin_server.h"
#include "services/broker/broker_server.h"
#include "services/discovery/discovery_server.h"

namespace nsq::admin {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Answer {
  int status = 0;
  Json json;
  std::string body;
};

Answer Call(const std::string& host_port, const std::string& method, const std::string& target,
            const std::string& body = "", std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto resp = http::HttpRequest(method, host_port, target, body, headers, absl::Seconds(10));
  Answer a;
  if (!resp.ok()) {
    a.status = -1;
    a.body = std::string(resp.status().message());
    return a;
  }
  a.status = resp->status;
  a.body = resp->body;
  a.json = Json::parse(resp->body, nullptr, false);
  return a;
}

using testing_loopback::WaitFor;

broker::BrokerOptions BrokerOpts(const std::string& name) { return testing_loopback::LoopbackBroker(name); }

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    discovery_ = std::make_unique<discovery::DiscoveryServer>(testing_loopback::LoopbackDiscovery());
    ASSERT_TRUE(discovery_->Start().ok());
    const std::string grpc = absl::StrCat("127.0.0.1:", discovery_->grpc_port());
    for (int i = 0; i < 2; ++i) {
      auto o = BrokerOpts(absl::StrCat("grpc", i));
      o.discovery_addresses = {grpc};
      brokers_.push_back(std::make_unique<broker::BrokerServer>(o));
      ASSERT_TRUE(brokers_.back()->Start().ok());
    }
    auto o = BrokerOpts("v1");
    o.lookupd_tcp_addresses = {absl::StrCat("127.0.0.1:", discovery_->tcp_port())};
    brokers_.push_back(std::make_unique<broker::BrokerServer>(o));
    ASSERT_TRUE(brokers_.back()->Start().ok());

    AdminOptions a;
    a.http_address = "127.0.0.1:0";
    a.discovery_addresses = {grpc};
    a.stats_interval = absl::Milliseconds(100);
    admin_ = StartAdmin(a);
    ASSERT_TRUE(WaitFor([&] {
      Answer n = Api("GET", "/api/nodes");
      return n.status == 200 && n.json["nodes"].size() == 3;
    })) << Api("GET", "/api/nodes").body;
  }

  void TearDown() override {
    for (auto& a : extra_admins_) a->Stop();
    if (admin_) admin_->Stop();
    for (auto& b : brokers_) b->Stop();
    if (discovery_) discovery_->Stop();
  }

  AdminServer* StartAdmin(AdminOptions a) {
    auto s = std::make_unique<AdminServer>(a);
    absl::Status st = s->Start();
    EXPECT_TRUE(st.ok()) << st;
    extra_admins_.push_back(std::move(s));
    return extra_admins_.back().get();
  }

  std::string AdminAddress(AdminServer* a = nullptr) const {
    return absl::StrCat("127.0.0.1:", (a ? a : admin_)->http_port());
  }
  Answer Api(const std::string& method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Call(AdminAddress(), method, target, body, headers);
  }
  std::string BrokerHttp(int i) const { return absl::StrCat("127.0.0.1:", brokers_[i]->http_port()); }
  std::string NodeId(int i) const { return BrokerHttp(i); }

  void Publish(int broker, const std::string& topic, int n) {
    for (int k = 0; k < n; ++k) {
      ASSERT_EQ(Call(BrokerHttp(broker), "POST", "/pub?topic=" + topic, "m").status, 200);
    }
  }
  void CreateChannel(int broker, const std::string& topic, const std::string& channel) {
    ASSERT_EQ(Call(BrokerHttp(broker), "POST", "/topic/create?topic=" + topic).status, 200);
    ASSERT_EQ(Call(BrokerHttp(broker), "POST",
                   absl::StrCat("/channel/create?topic=", topic, "&channel=", channel)).status, 200);
  }
  // The broker's own view of `topic` (nsqd /stats JSON), null when absent.
  Json BrokerTopic(int broker, const std::string& topic) {
    Answer s = Call(BrokerHttp(broker), "GET", "/stats?format=json&topic=" + topic);
    if (s.json.is_object() && s.json["topics"].is_array()) {
      for (const auto& t : s.json["topics"]) {
        if (t["topic_name"] == topic) return t;
      }
    }
    return nullptr;
  }
  // Waits until the admin's topic view shows `messages` in total.
  Answer WaitForTopic(const std::string& topic, int64_t messages) {
    Answer a;
    WaitFor([&] {
      a = Api("GET", "/api/topics/" + topic);
      return a.status == 200 && a.json["message_count"] == messages;
    });
    return a;
  }

  std::unique_ptr<discovery::DiscoveryServer> discovery_;
  std::vector<std::unique_ptr<broker::BrokerServer>> brokers_;
  std::vector<std::unique_ptr<AdminServer>> extra_admins_;
  AdminServer* admin_ = nullptr;
};

TEST_F(AdminApiTest, NodesListEveryBrokerWithTheTransportUsed) {
  Answer n = Api("GET", "/api/nodes");
  ASSERT_EQ(n.status, 200);
  EXPECT_EQ(n.json["message"], "");
  int grpc = 0, http = 0;
  for (const auto& node : n.json["nodes"]) {
    EXPECT_EQ(node["broadcast_address"], "127.0.0.1");
    EXPECT_TRUE(node["ok"].get<bool>()) << node.dump();
    if (node["transport"] == "grpc") grpc++;
    if (node["transport"] == "http") {
      http++;
      EXPECT_EQ(node["http_port"], brokers_[2]->http_port());
      EXPECT_EQ(node["grpc_port"], 0);
    }
  }
  EXPECT_EQ(grpc, 2);
  EXPECT_EQ(http, 1);
}

TEST_F(AdminApiTest, TopicSumsEveryNodeIncludingTheHttpOnlyBroker) {
  CreateChannel(0, "orders", "billing");
  CreateChannel(2, "orders", "billing");
  CreateChannel(2, "orders", "audit");
  Publish(0, "orders", 3);
  Publish(2, "orders", 2);
  Answer t = WaitForTopic("orders", 5);
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.json["node"], "*");
  ASSERT_EQ(t.json["nodes"].size(), 2u);
  int64_t depth_sum = 0;
  for (int b : {0, 2}) depth_sum += BrokerTopic(b, "orders")["depth"].get<int64_t>();
  EXPECT_EQ(t.json["depth"], depth_sum);
  for (const auto& node : t.json["nodes"]) {
    int b = node["node"] == NodeId(0) ? 0 : 2;
    EXPECT_EQ(node["node"], NodeId(b));
    EXPECT_EQ(node["message_count"], BrokerTopic(b, "orders")["message_count"]);
  }
  ASSERT_EQ(t.json["channels"].size(), 2u);
  EXPECT_EQ(t.json["channels"][0]["channel_name"], "audit");
  EXPECT_EQ(t.json["channels"][0]["depth"], 2);
  EXPECT_EQ(t.json["channels"][1]["channel_name"], "billing");
  EXPECT_EQ(t.json["channels"][1]["depth"], 5);
  EXPECT_EQ(t.json["channels"][1]["nodes"].size(), 2u);

  Answer topics = Api("GET", "/api/topics");
  EXPECT_THAT(topics.json["topics"], ::testing::Contains("orders"));

  Answer c = Api("GET", "/api/topics/orders/billing");
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(c.json["message_count"], 5);
  EXPECT_EQ(c.json["nodes"].size(), 2u);

  Answer counter = Api("GET", "/api/counter");
  EXPECT_EQ(counter.json["stats"][absl::StrCat("orders:billing:", NodeId(0))]["message_count"], 3);
  EXPECT_EQ(counter.json["stats"][absl::StrCat("orders:billing:", NodeId(2))]["message_count"], 2);

  Answer node = Api("GET", "/api/nodes/" + NodeId(2));
  ASSERT_EQ(node.status, 200);
  EXPECT_EQ(node.json["total_messages"], 2);
  EXPECT_EQ(node.json["topics"][0]["topic_name"], "orders");
}

// A V2 consumer on a raw socket: SUB then RDY.
int ConnectV2Consumer(int port, const std::string& topic, const std::string& channel) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  std::string out = absl::StrCat("  V2", "SUB ", topic, " ", channel, "\n", "RDY 7\n");
  if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return -1;
  return fd;
}

TEST_F(AdminApiTest, ChannelViewListsClientsOfEveryNode) {
  CreateChannel(1, "clicks", "web");
  int fd = ConnectV2Consumer(brokers_[1]->tcp_port(), "clicks", "web");
  ASSERT_GE(fd, 0);
  Answer c;
  ASSERT_TRUE(WaitFor([&] {
    c = Api("GET", "/api/topics/clicks/web");
    return c.status == 200 && c.json["clients"].size() == 1 && c.json["clients"][0]["ready_count"] == 7;
  })) << c.body;
  EXPECT_EQ(c.json["client_count"], 1);
  EXPECT_EQ(c.json["clients"][0]["node"], NodeId(1));
  EXPECT_EQ(c.json["clients"][0]["version"], "V2");
  close(fd);
}

TEST_F(AdminApiTest, PauseUnpauseEmptyAndDeleteReachEveryBroker) {
  CreateChannel(0, "jobs", "w");
  CreateChannel(2, "jobs", "w");
  Publish(0, "jobs", 2);
  Publish(2, "jobs", 1);
  WaitForTopic("jobs", 3);

  Answer p = Api("POST", "/api/topics/jobs", R"({"action":"pause"})");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json["message"], "");
  EXPECT_TRUE(BrokerTopic(0, "jobs")["paused"].get<bool>());
  EXPECT_TRUE(BrokerTopic(2, "jobs")["paused"].get<bool>());
  EXPECT_TRUE(Api("GET", "/api/topics/jobs").json["paused"].get<bool>());

  ASSERT_EQ(Api("POST", "/api/topics/jobs", R"({"action":"unpause"})").status, 200);
  EXPECT_FALSE(BrokerTopic(0, "jobs")["paused"].get<bool>());
  EXPECT_FALSE(BrokerTopic(2, "jobs")["paused"].get<bool>());

  ASSERT_EQ(Api("POST", "/api/topics/jobs/w", R"({"action":"pause"})").status, 200);
  EXPECT_TRUE(BrokerTopic(2, "jobs")["channels"][0]["paused"].get<bool>());
  EXPECT_TRUE(Api("GET", "/api/topics/jobs/w").json["paused"].get<bool>());
  ASSERT_EQ(Api("POST", "/api/topics/jobs/w", R"({"action":"unpause"})").status, 200);
  EXPECT_FALSE(BrokerTopic(0, "jobs")["channels"][0]["paused"].get<bool>());

  ASSERT_EQ(Api("POST", "/api/topics/jobs/w", R"({"action":"empty"})").status, 200);
  EXPECT_EQ(BrokerTopic(0, "jobs")["channels"][0]["depth"], 0);
  EXPECT_EQ(BrokerTopic(2, "jobs")["channels"][0]["depth"], 0);
  EXPECT_EQ(Api("GET", "/api/topics/jobs/w").json["depth"], 0);

  ASSERT_EQ(Api("DELETE", "/api/topics/jobs/w").status, 200);
  EXPECT_TRUE(BrokerTopic(0, "jobs")["channels"].empty());
  EXPECT_EQ(Api("GET", "/api/topics/jobs/w").status, 404);

  ASSERT_EQ(Api("DELETE", "/api/topics/jobs").status, 200);
  EXPECT_TRUE(BrokerTopic(0, "jobs").is_null());
  EXPECT_TRUE(BrokerTopic(2, "jobs").is_null());
  EXPECT_TRUE(WaitFor([&] { return Api("GET", "/api/topics/jobs").status == 404; }));
}

TEST_F(AdminApiTest, CreateTopicAndChannelRegistersThemInDiscovery) {
  Answer c = Api("POST", "/api/topics", R"({"topic":"fresh","channel":"first"})");
  ASSERT_EQ(c.status, 200) << c.body;
  Answer lookup = Call(absl::StrCat("127.0.0.1:", discovery_->http_port()), "GET", "/channels?topic=fresh");
  EXPECT_THAT(lookup.json["channels"], ::testing::Contains("first"));
  Answer inactive = Api("GET", "/api/topics?inactive=true");
  ASSERT_EQ(inactive.status, 200);
  EXPECT_THAT(inactive.json["topics"]["fresh"], ::testing::Contains("first"));
  EXPECT_THAT(Api("GET", "/api/topics").json["topics"], ::testing::Contains("fresh"));
}

TEST_F(AdminApiTest, CreateChannelOnAnExistingTopicReachesItsBrokers) {
  Publish(1, "live", 1);
  WaitForTopic("live", 1);
  ASSERT_EQ(Api("POST", "/api/topics", R"({"topic":"live","channel":"added"})").status, 200);
  EXPECT_EQ(BrokerTopic(1, "live")["channels"][0]["channel_name"], "added");
}

TEST_F(AdminApiTest, TombstoneHidesTheProducerAndDeletesTheTopicThere) {
  Publish(0, "gone", 1);
  Publish(1, "gone", 1);
  WaitForTopic("gone", 2);
  Answer t = Api("DELETE", "/api/nodes/" + NodeId(0), R"({"topic":"gone"})");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_TRUE(BrokerTopic(0, "gone").is_null());
  EXPECT_FALSE(BrokerTopic(1, "gone").is_null());
  EXPECT_EQ(Api("DELETE", "/api/nodes/127.0.0.1:1", R"({"topic":"gone"})").json["message"], "NODE_NOT_FOUND");
}

TEST_F(AdminApiTest, BadInputGetsNsqadminsErrors) {
  Publish(0, "known", 1);
  WaitForTopic("known", 1);
  Answer a = Api("GET", "/api/topics/unknown");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.json["message"], "TOPIC_NOT_FOUND");
  a = Api("GET", "/api/topics/known/nochannel");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.json["message"], "CHANNEL_NOT_FOUND");
  a = Api("GET", "/api/nodes/10.0.0.1:4151");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.json["message"], "NODE_NOT_FOUND");
  a = Api("POST", "/api/topics/known", "{not json");
  EXPECT_EQ(a.status, 400);
  EXPECT_THAT(a.json["message"].get<std::string>(), HasSubstr("malformed JSON"));
  a = Api("POST", "/api/topics/known", R"({"action":"explode"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.json["message"], "INVALID_ACTION");
  a = Api("POST", "/api/topics/unknown", R"({"action":"pause"})");
  EXPECT_EQ(a.status, 404);
  a = Api("POST", "/api/topics", R"({"topic":"bad name!"})");
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.json["message"], "INVALID_TOPIC");
  a = Api("POST", "/api/topics", R"({"topic":"ok","channel":"bad/ch"})");
  EXPECT_EQ(a.json["message"], "INVALID_CHANNEL");
  a = Api("PUT", "/api/topics/known");
  EXPECT_EQ(a.status, 405);
  EXPECT_EQ(a.json["message"], "METHOD_NOT_ALLOWED");
  a = Api("GET", "/api/nope");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.json["message"], "NOT_FOUND");
  EXPECT_EQ(Api("GET", "/config/nope").json["message"], "INVALID_OPTION");
  // Still serving after all of that.
  EXPECT_EQ(Api("GET", "/ping").body, "OK");
}

TEST_F(AdminApiTest, NonAdminUsersAreForbiddenToAct) {
  Publish(0, "guarded", 1);
  AdminOptions o;
  o.http_address = "127.0.0.1:0";
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
  o.admin_users = {"alice"};
  AdminServer* acl_admin = StartAdmin(o);
  const std::string addr = AdminAddress(acl_admin);
  Answer a = Call(addr, "POST", "/api/topics/guarded", R"({"action":"pause"})");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.json["message"], "FORBIDDEN");
  a = Call(addr, "POST", "/api/topics/guarded", R"({"action":"pause"})", {{"X-Forwarded-User", "mallory"}});
  EXPECT_EQ(a.status, 403);
  EXPECT_FALSE(BrokerTopic(0, "guarded")["paused"].get<bool>());
  EXPECT_EQ(Call(addr, "DELETE", "/api/nodes/" + NodeId(0), R"({"topic":"guarded"})").status, 403);
  EXPECT_EQ(Call(addr, "DELETE", "/api/topics/guarded").status, 403);
  EXPECT_EQ(Call(addr, "POST", "/api/topics", R"({"topic":"new_one"})").status, 403);
  EXPECT_EQ(Call(addr, "POST", "/api/topics/guarded", "{not json").status, 403);  // ACL first
  EXPECT_FALSE(BrokerTopic(0, "guarded").is_null());
  EXPECT_FALSE(Call(addr, "GET", "/api/overview").json["admin"].get<bool>());
  a = Call(addr, "POST", "/api/topics/guarded", R"({"action":"pause"})", {{"X-Forwarded-User", "alice"}});
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(BrokerTopic(0, "guarded")["paused"].get<bool>());
  EXPECT_TRUE(Call(addr, "GET", "/api/overview", "", {{"X-Forwarded-User", "alice"}}).json["admin"].get<bool>());
}

TEST_F(AdminApiTest, AFailedUpstreamIsAWarningAndAllFailedIs502) {
  // A port nothing listens on: bind, read the port, close.
  http::Server closed({.address = "127.0.0.1:0"});
  ASSERT_TRUE(closed.Start().ok());
  const std::string dead = absl::StrCat("127.0.0.1:", closed.port());
  closed.Stop();

  AdminOptions o;
  o.http_address = "127.0.0.1:0";
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
  o.nsqd_http_addresses = {dead};
  o.http_client_request_timeout = absl::Seconds(2);
  Answer a = Call(AdminAddress(StartAdmin(o)), "GET", "/api/nodes");
  EXPECT_EQ(a.status, 200);
  EXPECT_THAT(a.json["message"].get<std::string>(), StartsWith("WARNING: "));
  EXPECT_THAT(a.json["message"].get<std::string>(), HasSubstr(dead));
  EXPECT_EQ(a.json["nodes"].size(), 4u);

  AdminOptions all_dead;
  all_dead.http_address = "127.0.0.1:0";
  all_dead.nsqd_http_addresses = {dead};
  all_dead.lookupd_http_addresses = {dead};
  all_dead.http_client_request_timeout = absl::Seconds(2);
  a = Call(AdminAddress(StartAdmin(all_dead)), "GET", "/api/topics");
  EXPECT_EQ(a.status, 502);
  EXPECT_THAT(a.json["message"].get<std::string>(), StartsWith("UPSTREAM_ERROR: "));
}

TEST_F(AdminApiTest, ABrokerThatLeavesDiscoveryLeavesTheNodeList) {
  const int gone_port = brokers_[1]->http_port();
  brokers_[1]->Stop();
  Answer n;
  ASSERT_TRUE(WaitFor([&] {
    n = Api("GET", "/api/nodes");
    return n.status == 200 && n.json["nodes"].size() == 2;
  })) << n.body;
  EXPECT_EQ(n.json["message"], "");  // it left cleanly: not an upstream failure
  for (const auto& node : n.json["nodes"]) EXPECT_NE(node["http_port"], gone_port);
}

TEST_F(AdminApiTest, StaticNsqdListReadsBrokersOverHttp) {
  Publish(2, "static", 4);
  AdminOptions o;
  o.http_address = "127.0.0.1:0";
  o.nsqd_http_addresses = {BrokerHttp(2)};
  const std::string addr = AdminAddress(StartAdmin(o));
  Answer t = Call(addr, "GET", "/api/topics/static");
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(t.json["message_count"], 4);
  // Without discovery, creating a topic creates it on the brokers.
  ASSERT_EQ(Call(addr, "POST", "/api/topics", R"({"topic":"made_here"})").status, 200);
  EXPECT_FALSE(BrokerTopic(2, "made_here").is_null());
}

TEST_F(AdminApiTest, ActionsAreNotifiedWithNsqadminsJson) {
  absl::Mutex mu;
  std::vector<Json> received;
  http::Server sink({.address = "127.0.0.1:0"});
  sink.Handle("/notify", [&](const http::Request& r) {
    absl::MutexLock lock(&mu);
    received.push_back(Json::parse(r.body, nullptr, false));
    return http::Response{.body = "OK"};
  });
  ASSERT_TRUE(sink.Start().ok());
  Publish(1, "audited", 1);
  AdminOptions o;
  o.http_address = "127.0.0.1:0";
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
  o.notification_http_endpoint = absl::StrCat("http://127.0.0.1:", sink.port(), "/notify");
  const std::string addr = AdminAddress(StartAdmin(o));
  ASSERT_EQ(Call(addr, "POST", "/api/topics/audited", R"({"action":"pause"})", {{"X-Forwarded-User", "bob"}}).status, 200);
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return !received.empty();
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(received[0]["action"], "pause_topic");
  EXPECT_EQ(received[0]["topic"], "audited");
  EXPECT_FALSE(received[0].contains("channel"));
  EXPECT_EQ(received[0]["remote_ip"], "127.0.0.1");
  EXPECT_EQ(received[0]["url"], "/api/topics/audited");
  EXPECT_EQ(received[0]["user"], "bob");
  sink.Stop();
}

TEST_F(AdminApiTest, HistoryGivesDepthAndRatesAfterMessagesFlow) {
  AdminOptions o;
  o.http_address = "127.0.0.1:0";
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
  o.stats_interval = absl::Milliseconds(100);
  o.history_window = absl::Seconds(6);  // one point per poll
  const std::string addr = AdminAddress(StartAdmin(o));
  Publish(0, "flow", 5);
  Answer h;
  auto last_depth_is = [&](int64_t depth) {
    h = Call(addr, "GET", "/api/history?topic=flow");
    return h.status == 200 && !h.json["points"].empty() && h.json["points"].back()["depth"] == depth;
  };
  ASSERT_TRUE(WaitFor([&] { return last_depth_is(5); })) << h.body;
  Publish(0, "flow", 5);
  ASSERT_TRUE(WaitFor([&] { return last_depth_is(10); })) << h.body;
  EXPECT_EQ(h.json["series"], "topic:flow");
  double in = 0;
  for (const auto& p : h.json["points"]) in += p["in"].get<double>();
  EXPECT_GT(in, 0);
  Answer t = Call(addr, "GET", "/api/topics/flow");
  EXPECT_TRUE(t.json["rate"].is_object()) << t.body;
  EXPECT_EQ(Call(addr, "GET", "/api/history?topic=never").status, 404);
  EXPECT_EQ(Call(addr, "GET", "/api/history").status, 400);
}

TEST_F(AdminApiTest, PagesMetricsAndConfigAreServed) {
  for (const char* page : {"/", "/topics/a", "/topics/a/b", "/nodes", "/nodes/x:1", "/counter", "/lookup"}) {
    Answer p = Api("GET", page);
    EXPECT_EQ(p.status, 200) << page;
    EXPECT_THAT(p.body, HasSubstr("<html")) << page;
  }
  EXPECT_EQ(Api("GET", "/static/app.js").status, 200);
  Answer m = Api("GET", "/metrics");
  EXPECT_THAT(m.body, HasSubstr("nsq_admin_polls_total"));
  Answer c = Api("GET", "/config/discovery_addresses");
  EXPECT_EQ(c.json[0], absl::StrCat("127.0.0.1:", discovery_->grpc_port()));
}

}  // namespace
}  // namespace nsq::admin

namespace nsq::admin {
namespace {

// Keeps what a consumer was handed, for the test thread to FIN (Deliver runs under the
// channel's lock, so nothing is finished from inside it).
class IdSink : public broker::DeliverySink {
 public:
  void Deliver(std::vector<broker::Delivery>& batch) override {
    absl::MutexLock lock(&mu_);
    for (const auto& d : batch) ids_.push_back(d.message->id);
  }
  void Closed(const absl::Status&) override {}
  std::vector<broker::MessageId> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(ids_);
  }

 private:
  absl::Mutex mu_;
  std::vector<broker::MessageId> ids_ ABSL_GUARDED_BY(mu_);
};

TEST_F(AdminApiTest, PeekListsEveryGrpcBrokersMessagesWithoutTakingThem) {
  CreateChannel(0, "peeked", "c");
  CreateChannel(2, "peeked", "c");
  Publish(0, "peeked", 3);
  Publish(2, "peeked", 1);
  ASSERT_EQ(WaitForTopic("peeked", 4).status, 200);
  Answer p = Api("GET", "/api/topics/peeked/c/peek?limit=2");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.json["topic_name"], "peeked");
  EXPECT_EQ(p.json["channel_name"], "c");
  ASSERT_EQ(p.json["messages"].size(), 2u) << p.body;  // the limit, per state per broker
  for (const auto& m : p.json["messages"]) {
    EXPECT_EQ(m["node"], NodeId(0));
    EXPECT_EQ(m["state"], "ready");
    EXPECT_EQ(m["body"], "m");
    EXPECT_EQ(m["body_base64"], "bQ==");
    EXPECT_EQ(m["body_size"], 1);
    EXPECT_EQ(m["id"].get<std::string>().size(), 16u);
    EXPECT_GT(m["timestamp"].get<int64_t>(), 0);
  }
  // The broker read over NSQ HTTP cannot peek: named in the warning, the rest answered.
  EXPECT_THAT(p.json["message"].get<std::string>(), HasSubstr(NodeId(2)));
  EXPECT_THAT(p.json["message"].get<std::string>(), HasSubstr("gRPC"));
  // Looking took nothing.
  EXPECT_EQ(BrokerTopic(0, "peeked")["channels"][0]["depth"], 3);
  Answer all = Api("GET", "/api/topics/peeked/c/peek");
  EXPECT_EQ(all.json["messages"].size(), 3u);

  EXPECT_EQ(Api("GET", "/api/topics/peeked/nope/peek").status, 404);
  EXPECT_EQ(Api("GET", "/api/topics/peeked/c/peek?limit=zero").status, 400);
  EXPECT_EQ(Api("POST", "/api/topics/peeked/c/peek").status, 405);
}

TEST_F(AdminApiTest, ChannelShowsE2ePercentilesAndPolicyOfABrokerThatHasThem) {
  auto o = BrokerOpts("e2e");
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
  o.e2e_processing_latency_percentiles = {"1.0,0.5"};
  brokers_.push_back(std::make_unique<broker::BrokerServer>(o));
  ASSERT_TRUE(brokers_.back()->Start().ok());
  broker::Engine* engine = brokers_.back()->engine();
  broker::QueuePolicy policy;
  policy.max_attempts = 5;
  policy.dead_letter_topic = "lat_dead";
  ASSERT_TRUE(engine->SetChannelPolicy("lat", "c", policy).ok());
  IdSink sink;
  broker::ConsumerInfo info;
  info.client_id = "test";
  auto consumer = engine->Subscribe("lat", "c", info, &sink);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->SetReady(10).ok());
  Publish(3, "lat", 2);
  // A new topic of a broker with discovery waits for its channel lookup before it hands
  // out messages (pre-creation): delivery can come after the publish's answer.
  std::vector<broker::MessageId> ids;
  ASSERT_TRUE(WaitFor([&] {
    for (const broker::MessageId& id : sink.Take()) ids.push_back(id);
    return ids.size() >= 2;
  }));
  ASSERT_EQ(ids.size(), 2u);
  for (bool ok : {(*consumer)->Finish(ids[0]).ok(), (*consumer)->Finish(ids[1]).ok()}) EXPECT_TRUE(ok);

  Answer c;
  ASSERT_TRUE(WaitFor([&] {
    c = Api("GET", "/api/topics/lat/c");
    return c.status == 200 && c.json["e2e_processing_latency"]["count"] == 2;
  })) << c.body;
  const Json& e2e = c.json["e2e_processing_latency"];
  EXPECT_EQ(e2e["host"], "*");
  ASSERT_EQ(e2e["percentiles"].size(), 2u) << e2e.dump();
  EXPECT_EQ(e2e["percentiles"][0]["quantile"], 1);
  EXPECT_EQ(e2e["percentiles"][1]["quantile"], 0.5);
  EXPECT_GE(e2e["percentiles"][0]["max"].get<double>(), e2e["percentiles"][1]["max"].get<double>());
  EXPECT_EQ(c.json["nodes"][0]["e2e_processing_latency"]["percentiles"][0]["count"], 2);
  EXPECT_EQ(c.json["policy"]["max_attempts"], 5);
  EXPECT_EQ(c.json["policy"]["dead_letter_topic"], "lat_dead");
  EXPECT_EQ(c.json["dead_letter_count"], 0);
  // The broker's own /stats says the same, in nsqd's shape.
  Json bt = BrokerTopic(3, "lat");
  EXPECT_EQ(bt["channels"][0]["e2e_processing_latency"]["count"], 2);
  EXPECT_EQ(bt["channels"][0]["e2e_processing_latency"]["percentiles"][0]["quantile"], 1);
  EXPECT_EQ(bt["e2e_processing_latency"]["count"], 2);
  (*consumer)->Close();
}

}  // namespace
}  // namespace nsq::admin
