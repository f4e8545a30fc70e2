// The lookupd HTTP API of a running DiscoveryServer: nsqlookupd's exact JSON, headers
// and errors.

#include <string>

#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/discovery/discovery_server.h"

namespace nsq::discovery {
namespace {

using ::testing::HasSubstr;

class LookupdHttpTest : public ::testing::Test {
 protected:
  LookupdHttpTest() : server_(Options(), &clock_) { EXPECT_TRUE(server_.Start().ok()); }

  static DiscoveryOptions Options() {
    DiscoveryOptions o;
    o.tcp_address = "127.0.0.1:0";
    o.http_address = "127.0.0.1:0";
    o.grpc_address = "127.0.0.1:0";
    o.broadcast_address = "lookupd.local";
    return o;
  }

  http::ClientResponse Do(const std::string& method, const std::string& target) {
    auto r = http::HttpRequest(method, absl::StrCat("127.0.0.1:", server_.http_port()), target);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : http::ClientResponse{};
  }
  http::ClientResponse Get(const std::string& target) { return Do("GET", target); }
  http::ClientResponse Post(const std::string& target) { return Do("POST", target); }

  void AddPeer(const std::string& id, const std::string& address, int http_port = 4151) {
    PeerInfo p;
    p.id = id;
    p.remote_address = id;
    p.hostname = "host-" + address;
    p.broadcast_address = address;
    p.tcp_port = 4150;
    p.http_port = http_port;
    p.version = "1.3.0";
    ASSERT_TRUE(server_.registry()->AddPeer(p).ok());
  }

  static std::string Peer(const std::string& id, const std::string& address) {
    return absl::StrCat(R"({"remote_address":")", id, R"(","hostname":"host-)", address,
                        R"(","broadcast_address":")", address,
                        R"(","tcp_port":4150,"http_port":4151,"version":"1.3.0",)",
                        R"("topology_zone":"","topology_region":""})");
  }

  FakeClock clock_;
  DiscoveryServer server_;
};

void ExpectV1Json(const http::ClientResponse& r, int status, const std::string& body) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json; charset=utf-8");
  EXPECT_EQ(r.Header("X-NSQ-Content-Type").value_or(""), "nsq; version=1.0");
}

void ExpectEmptyOk(const http::ClientResponse& r) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.Header("X-NSQ-Content-Type").value_or(""), "nsq; version=1.0");
}

TEST_F(LookupdHttpTest, PingAnswersPlainOk) {
  auto r = Get("/ping");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK");
}

TEST_F(LookupdHttpTest, InfoGivesTheVersion) {
  ExpectV1Json(Get("/info"), 200, R"({"version":"1.3.0"})");
}

TEST_F(LookupdHttpTest, LookupListsChannelsAndActiveProducers) {
  AddPeer("10.0.0.1:5000", "10.0.0.1");
  AddPeer("10.0.0.2:5000", "10.0.0.2");
  server_.registry()->Register("10.0.0.1:5000", "orders", "billing");
  server_.registry()->Register("10.0.0.2:5000", "orders", "");
  ExpectV1Json(Get("/lookup?topic=orders"), 200,
               absl::StrCat(R"({"channels":["billing"],"producers":[)",
                            Peer("10.0.0.1:5000", "10.0.0.1"), ",",
                            Peer("10.0.0.2:5000", "10.0.0.2"), "]}"));
}

TEST_F(LookupdHttpTest, LookupOfTopicWithoutProducersGivesEmptyLists) {
  ExpectEmptyOk(Post("/topic/create?topic=orders"));
  ExpectV1Json(Get("/lookup?topic=orders"), 200, R"({"channels":[],"producers":[]})");
}

TEST_F(LookupdHttpTest, LookupErrors) {
  ExpectV1Json(Get("/lookup"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
  ExpectV1Json(Get("/lookup?topic=missing"), 404, R"({"message":"TOPIC_NOT_FOUND"})");
  ExpectV1Json(Get("/lookup?topic=%zz"), 400, R"({"message":"INVALID_REQUEST"})");
}

TEST_F(LookupdHttpTest, TopicsAndChannelsAreListed) {
  ExpectV1Json(Get("/topics"), 200, R"({"topics":[]})");
  ExpectEmptyOk(Post("/channel/create?topic=orders&channel=billing"));
  ExpectEmptyOk(Post("/channel/create?topic=orders&channel=audit"));
  ExpectEmptyOk(Post("/topic/create?topic=clicks"));
  ExpectV1Json(Get("/topics"), 200, R"({"topics":["clicks","orders"]})");
  ExpectV1Json(Get("/channels?topic=orders"), 200, R"({"channels":["audit","billing"]})");
  ExpectV1Json(Get("/channels?topic=none"), 200, R"({"channels":[]})");
  ExpectV1Json(Get("/channels"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
}

TEST_F(LookupdHttpTest, NodesCarryParallelTopicsAndTombstones) {
  ExpectV1Json(Get("/nodes"), 200, R"({"producers":[]})");
  AddPeer("10.0.0.1:5000", "10.0.0.1");
  server_.registry()->Register("10.0.0.1:5000", "orders", "");
  server_.registry()->Register("10.0.0.1:5000", "clicks", "");
  ExpectEmptyOk(Post("/topic/tombstone?topic=orders&node=10.0.0.1:4151"));
  std::string peer = Peer("10.0.0.1:5000", "10.0.0.1");
  peer.pop_back();  // '}'
  ExpectV1Json(Get("/nodes"), 200,
               absl::StrCat(R"({"producers":[)", peer,
                            R"(,"tombstones":[false,true],"topics":["clicks","orders"]}]})"));
  // The tombstone hides it from /lookup for --tombstone-lifetime.
  ExpectV1Json(Get("/lookup?topic=orders"), 200, R"({"channels":[],"producers":[]})");
  clock_.Advance(absl::Seconds(45));
  EXPECT_THAT(Get("/lookup?topic=orders").body, HasSubstr("10.0.0.1"));
}

TEST_F(LookupdHttpTest, InactiveProducerLeavesLookupAndNodes) {
  AddPeer("10.0.0.1:5000", "10.0.0.1");
  server_.registry()->Register("10.0.0.1:5000", "orders", "");
  clock_.Advance(absl::Seconds(301));
  ExpectV1Json(Get("/lookup?topic=orders"), 200, R"({"channels":[],"producers":[]})");
  ExpectV1Json(Get("/nodes"), 200, R"({"producers":[]})");
}

TEST_F(LookupdHttpTest, CreateAndDeleteValidateArguments) {
  ExpectV1Json(Post("/topic/create"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
  ExpectV1Json(Post("/topic/create?topic=a*b"), 400, R"({"message":"INVALID_ARG_TOPIC"})");
  ExpectV1Json(Post("/topic/delete"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
  ExpectEmptyOk(Post("/topic/delete?topic=never-existed"));  // no 404, as nsqlookupd
  ExpectV1Json(Post("/channel/create?channel=c"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
  ExpectV1Json(Post("/channel/create?topic=t"), 400, R"({"message":"MISSING_ARG_CHANNEL"})");
  ExpectV1Json(Post("/channel/create?topic=t&channel=c!"), 400,
               R"({"message":"INVALID_ARG_CHANNEL"})");
  ExpectV1Json(Post("/channel/delete?topic=t&channel=c"), 404,
               R"({"message":"CHANNEL_NOT_FOUND"})");
  ExpectV1Json(Post("/topic/tombstone?topic=t"), 400, R"({"message":"MISSING_ARG_NODE"})");
  ExpectV1Json(Post("/topic/tombstone?node=h:1"), 400, R"({"message":"MISSING_ARG_TOPIC"})");
}

TEST_F(LookupdHttpTest, DeleteTopicRemovesItsChannels) {
  ExpectEmptyOk(Post("/channel/create?topic=orders&channel=billing"));
  ExpectEmptyOk(Post("/channel/delete?topic=orders&channel=billing"));
  ExpectV1Json(Get("/channels?topic=orders"), 200, R"({"channels":[]})");
  ExpectEmptyOk(Post("/channel/create?topic=orders&channel=billing"));
  ExpectEmptyOk(Post("/topic/delete?topic=orders"));
  ExpectV1Json(Get("/topics"), 200, R"({"topics":[]})");
  ExpectV1Json(Get("/channels?topic=orders"), 200, R"({"channels":[]})");
}

TEST_F(LookupdHttpTest, RoutingErrorsAreJson) {
  ExpectV1Json(Get("/nope"), 404, R"({"message":"NOT_FOUND"})");
  ExpectV1Json(Post("/lookup?topic=t"), 405, R"({"message":"METHOD_NOT_ALLOWED"})");
  ExpectV1Json(Get("/topic/create?topic=t"), 405, R"({"message":"METHOD_NOT_ALLOWED"})");
}

// httprouter, as nsqlookupd runs it: the Allow header on a 405 and an OPTIONS answer.
TEST_F(LookupdHttpTest, WrongMethodAndOptionsNameTheAllowedMethods) {
  http::ClientResponse r = Post("/ping");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow").value_or(""), "GET, OPTIONS");
  r = Get("/topic/create?topic=t");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("Allow").value_or(""), "OPTIONS, POST");
  r = Do("OPTIONS", "/lookup");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Allow").value_or(""), "GET, OPTIONS");
  EXPECT_EQ(r.body, "");
}

TEST_F(LookupdHttpTest, MetricsCountTopicsAndProducers) {
  AddPeer("10.0.0.1:5000", "10.0.0.1");
  server_.registry()->Register("10.0.0.1:5000", "orders", "billing");
  auto r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("nsq_discovery_topics 1"));
  EXPECT_THAT(r.body, HasSubstr("nsq_discovery_channels 1"));
  EXPECT_THAT(r.body, HasSubstr("nsq_discovery_active_producers 1"));
  EXPECT_THAT(r.body, HasSubstr("nsq_discovery_grpc_sessions 0"));
}

}  // namespace
}  // namespace nsq::discovery
