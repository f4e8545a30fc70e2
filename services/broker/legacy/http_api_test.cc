// nsqd's HTTP API over a real socket: status, headers and body of every endpoint,
// errors included (what curl would see).

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Command;
using testing::Gateway;
using testing::GatewayConfig;

// "<status> <content-type> <x-nsq-content-type> <body>" for exact comparisons.
std::string Call(Gateway& gw, const std::string& method, const std::string& target,
                 const std::string& body = "") {
  auto r = gw.Http(method, target, body);
  if (!r.ok()) return std::string(r.status().message());
  return absl::StrCat(r->status, " [", r->Header("Content-Type").value_or(""), "] [",
                      r->Header("X-NSQ-Content-Type").value_or(""), "] ", r->body);
}

constexpr char kJson[] = "[application/json; charset=utf-8] [nsq; version=1.0] ";
constexpr char kText[] = "[text/plain; charset=utf-8] [nsq; version=1.0] ";
constexpr char kEmpty[] = "[] [nsq; version=1.0] ";

TEST(HttpApiTest, PingAnswersPlainOk) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "GET", "/ping"), "200 [text/plain; charset=utf-8] [] OK");
}

TEST(HttpApiTest, InfoDescribesTheBroker) {
  GatewayConfig config;
  config.http.start_time = absl::FromUnixSeconds(1700000000);
  config.http.hostname = "h";
  config.http.broadcast_address = "b";
  Gateway gw(config);
  EXPECT_EQ(Call(gw, "GET", "/info"),
            absl::StrCat("200 ", kJson,
                         "{\"version\":\"1.3.0\",\"broadcast_address\":\"b\",\"hostname\":\"h\","
                         "\"http_port\":", gw.http_port(), ",\"tcp_port\":", gw.tcp_port(),
                         ",\"start_time\":1700000000,\"max_heartbeat_interval\":60000000000,"
                         "\"max_output_buffer_size\":65536,\"max_output_buffer_timeout\":30000000000,"
                         "\"max_deflate_level\":6,\"topology_zone\":\"\",\"topology_region\":\"\"}"));
}

TEST(HttpApiTest, PubPublishesAndAnswersOk) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t", "hello"), absl::StrCat("200 ", kText, "OK"));
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  auto m = testing::ParseMessage(*c->Read());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, "hello");
}

TEST(HttpApiTest, PubErrorsHaveNsqdCodes) {
  GatewayConfig config;
  config.engine.max_msg_size = 10;
  config.engine.max_req_timeout = absl::Seconds(10);
  Gateway gw(config);
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t", ""), absl::StrCat("400 ", kJson, "{\"message\":\"MSG_EMPTY\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub", "x"), absl::StrCat("400 ", kJson, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=a/b", "x"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t", std::string(11, 'x')),
            absl::StrCat("413 ", kJson, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t&defer=abc", "x"),
            absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t&defer=10001", "x"),
            absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t&defer=-1", "x"),
            absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t&x=%zz", "x"),
            absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_REQUEST\"}"));
}

TEST(HttpApiTest, WrongMethodIs405WithAllow) {
  Gateway gw;
  auto r = gw.Http("GET", "/pub?topic=t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->body, "{\"message\":\"METHOD_NOT_ALLOWED\"}");
  EXPECT_EQ(r->Header("Allow").value_or(""), "POST, OPTIONS");
}

TEST(HttpApiTest, UnknownPathIsV1NotFound) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "GET", "/nope"), absl::StrCat("404 ", kJson, "{\"message\":\"NOT_FOUND\"}"));
}

TEST(HttpApiTest, PubWithDeferHoldsTheMessage) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t&defer=1000", "later"), absl::StrCat("200 ", kText, "OK"));
  EXPECT_EQ(gw.ChannelStats("t", "c").deferred_count, 1);
  gw.Advance(absl::Seconds(1));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
}

TEST(HttpApiTest, MpubTextSplitsLinesAndSkipsEmptyOnes) {
  Gateway gw;
  ASSERT_EQ(Call(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kEmpty));
  ASSERT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t", "a\n\nb\r\nc\n"), absl::StrCat("200 ", kText, "OK"));
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 10));
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(testing::ParseMessage(*c->Read())->body);
  EXPECT_THAT(got, ::testing::ElementsAre("a", "b\r", "c"));
}

TEST(HttpApiTest, MpubBinaryReadsSizePrefixedMessages) {
  Gateway gw;
  std::string body("\0\0\0\2\0\0\0\1x\0\0\0\2yz", 4 + 5 + 6);
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t&binary=true", body), absl::StrCat("200 ", kText, "OK"));
  EXPECT_EQ(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].depth, 2);
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t&binary=1", std::string("\0\0\0\0", 4)),
            absl::StrCat("413 ", kJson, "{\"message\":\"BAD_BODY\"}"));
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t&binary=yes", std::string("\0\0\0\1\0\0\0\5ab", 10)),
            absl::StrCat("413 ", kJson, "{\"message\":\"BAD_MESSAGE\"}"));
}

TEST(HttpApiTest, MpubSizeLimits) {
  GatewayConfig config;
  config.engine.max_msg_size = 4;
  config.http.max_body_size = 20;
  Gateway gw(config);
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t", "abcde\n"), absl::StrCat("413 ", kJson, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_EQ(Call(gw, "POST", "/mpub?topic=t", std::string(21, 'a')),
            absl::StrCat("413 ", kJson, "{\"message\":\"BODY_TOO_BIG\"}"));
  EXPECT_EQ(Call(gw, "POST", "/mpub", "a"), absl::StrCat("400 ", kJson, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
}

TEST(HttpApiTest, TopicEndpoints) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "POST", "/topic/create"), absl::StrCat("400 ", kJson, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/create?topic=a*"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/empty?topic=t"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/pause?topic=t"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/delete?topic=t"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t", "x"), absl::StrCat("200 ", kText, "OK"));
  EXPECT_EQ(Call(gw, "POST", "/topic/pause?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_TRUE(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].paused);
  EXPECT_EQ(Call(gw, "POST", "/topic/unpause?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_FALSE(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].paused);
  EXPECT_EQ(Call(gw, "POST", "/topic/empty?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].depth, 0);
  EXPECT_EQ(Call(gw, "POST", "/topic/delete?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_FALSE(gw.engine().TopicExists("t"));
  EXPECT_EQ(Call(gw, "GET", "/topic/create?topic=t"), absl::StrCat("405 ", kJson, "{\"message\":\"METHOD_NOT_ALLOWED\"}"));
}

TEST(HttpApiTest, ChannelEndpoints) {
  Gateway gw;
  EXPECT_EQ(Call(gw, "POST", "/channel/create?channel=c"), absl::StrCat("400 ", kJson, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t"), absl::StrCat("400 ", kJson, "{\"message\":\"MISSING_ARG_CHANNEL\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t!&channel=c"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_ARG_TOPIC\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c!"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_ARG_CHANNEL\"}"));
  ASSERT_EQ(Call(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/channel/empty?topic=t&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/pause?topic=t&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/delete?topic=t&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/pub?topic=t", "x"), absl::StrCat("200 ", kText, "OK"));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
  EXPECT_EQ(Call(gw, "POST", "/channel/pause?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_TRUE(gw.ChannelStats("t", "c").paused);
  EXPECT_EQ(Call(gw, "POST", "/channel/unpause?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_FALSE(gw.ChannelStats("t", "c").paused);
  EXPECT_EQ(Call(gw, "POST", "/channel/empty?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 0);
  EXPECT_EQ(Call(gw, "POST", "/channel/delete?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  EXPECT_EQ(Call(gw, "POST", "/channel/delete?topic=nope&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
}

TEST(HttpApiTest, StatsJsonHasNsqdSchema) {
  GatewayConfig config;
  config.http.start_time = absl::FromUnixSeconds(1700000000);
  Gateway gw(config);
  ASSERT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("404 ", kJson, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  ASSERT_EQ(Call(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kEmpty));
  ASSERT_EQ(Call(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kEmpty));
  ASSERT_EQ(Call(gw, "POST", "/pub?topic=t", "abc"), absl::StrCat("200 ", kText, "OK"));
  EXPECT_EQ(Call(gw, "GET", "/stats?format=json&include_clients=false&include_mem=false"),
            absl::StrCat(
                "200 ", kJson,
                "{\"version\":\"1.3.0\",\"health\":\"OK\",\"start_time\":1700000000,\"topics\":[{"
                "\"topic_name\":\"t\",\"channels\":[{\"channel_name\":\"c\",\"depth\":1,"
                "\"backend_depth\":0,\"in_flight_count\":0,\"deferred_count\":0,\"message_count\":1,"
                "\"requeue_count\":0,\"timeout_count\":0,\"client_count\":0,\"clients\":null,"
                "\"paused\":false,\"e2e_processing_latency\":{\"count\":0,\"percentiles\":null}}],"
                "\"depth\":0,\"backend_depth\":0,\"message_count\":1,\"message_bytes\":3,"
                "\"paused\":false,\"e2e_processing_latency\":{\"count\":0,\"percentiles\":null}}],"
                "\"producers\":null}"));
  EXPECT_EQ(Call(gw, "GET", "/stats?format=json&topic=missing&include_mem=false"),
            absl::StrCat("200 ", kJson,
                         "{\"version\":\"1.3.0\",\"health\":\"OK\",\"start_time\":1700000000,"
                         "\"topics\":null,\"producers\":null}"));
}

TEST(HttpApiTest, StatsShowV2ClientsAndProducers) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 7,
                           "{\"feature_negotiation\":true,\"client_id\":\"cid\",\"hostname\":\"host\","
                           "\"user_agent\":\"ua/1\",\"sample_rate\":0}"));
  auto p = gw.Connect();
  EXPECT_EQ(p->Pub("t", "x"), "0 OK");
  auto r = gw.Http("GET", "/stats?format=json");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->body, HasSubstr("\"clients\":[{\"client_id\":\"cid\",\"hostname\":\"host\","
                                 "\"version\":\"V2\",\"remote_address\":\"127.0.0.1:"));
  EXPECT_THAT(r->body, HasSubstr("\"state\":3,\"ready_count\":7,"));
  EXPECT_THAT(r->body, HasSubstr("\"user_agent\":\"ua/1\",\"topology_zone\":\"\""));
  EXPECT_THAT(r->body, HasSubstr("\"pub_counts\":[{\"topic\":\"t\",\"count\":1}]"));
  EXPECT_THAT(r->body, HasSubstr("\"memory\":{\"heap_objects\":0,"));
  auto text = gw.Http("GET", "/stats");
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(text->body, StartsWith("nsqd v1.3.0 (built w/nsq-cpp)\nstart_time "));
  EXPECT_THAT(text->body, HasSubstr("\nHealth: OK\n"));
  EXPECT_THAT(text->body, HasSubstr("\nTopics:\n   [t              ] depth: 0     be-depth: 0     msgs: 1        e2e%: \n"
                                    "      [c                        ] depth: 0     be-depth: 0     inflt: 1    def: 0    re-q: 0     timeout: 0     msgs: 1        e2e%: \n"
                                    "        [V2 host:"));
  EXPECT_THAT(text->body, HasSubstr(" ua/1      ] state: 3 inflt: 1    rdy: 7    fin: 0        re-q: 0        msgs: 1        connected: "));
  EXPECT_THAT(text->body, HasSubstr("\nProducers:\n   [V2 :"));
  EXPECT_THAT(text->body, HasSubstr("] msgs: 1        topics: t=1 connected: "));
}

TEST(HttpApiTest, StatsTextWithNothing) {
  Gateway gw;
  auto r = gw.Http("GET", "/stats?include_mem=false");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->body, HasSubstr("\nHealth: OK\n\nTopics: None\n\nProducers: None\n"));
}

TEST(HttpApiTest, ConfigGetAndPut) {
  GatewayConfig config;
  config.http.config = {{"mem_queue_size", "10000"}, {"log_level", "\"info\""},
                        {"nsqlookupd_tcp_addresses", "[]"}};
  std::string level;
  config.http.set_log_level = [&level](const std::string& l) {
    if (l != "debug" && l != "info") return false;
    level = l;
    return true;
  };
  Gateway gw(config);
  EXPECT_EQ(Call(gw, "GET", "/config/mem_queue_size"), absl::StrCat("200 ", kJson, "10000"));
  EXPECT_EQ(Call(gw, "GET", "/config/nope"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_OPTION\"}"));
  EXPECT_EQ(Call(gw, "PUT", "/config/log_level", "debug"), absl::StrCat("200 ", kJson, "\"debug\""));
  EXPECT_EQ(level, "debug");
  EXPECT_EQ(Call(gw, "PUT", "/config/log_level", "loud"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(Call(gw, "PUT", "/config/log_level", ""), absl::StrCat("413 ", kJson, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(Call(gw, "PUT", "/config/nsqlookupd_tcp_addresses", "[\"127.0.0.1:4160\"]"),
            absl::StrCat("200 ", kJson, "[\"127.0.0.1:4160\"]"));
  EXPECT_EQ(Call(gw, "PUT", "/config/nsqlookupd_tcp_addresses", "nope"),
            absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(Call(gw, "PUT", "/config/mem_queue_size", "1"), absl::StrCat("400 ", kJson, "{\"message\":\"INVALID_OPTION\"}"));
  EXPECT_EQ(Call(gw, "DELETE", "/config/mem_queue_size"), absl::StrCat("405 ", kJson, "{\"message\":\"METHOD_NOT_ALLOWED\"}"));
}

TEST(HttpApiTest, TlsRequiredRefusesPlainHttp) {
  GatewayConfig config;
  config.http.tls_required = true;
  config.http.https_port = [] { return 4152; };
  Gateway gw(config);
  EXPECT_EQ(Call(gw, "GET", "/stats"),
            absl::StrCat("403 ", kJson, "{\"message\": \"TLS_REQUIRED\", \"https_port\": 4152}"));
  // Every path, as nsqd's plain listener: unknown ones too.
  EXPECT_EQ(Call(gw, "GET", "/no/such/path"),
            absl::StrCat("403 ", kJson, "{\"message\": \"TLS_REQUIRED\", \"https_port\": 4152}"));
}

}  // namespace
}  // namespace nsq::legacy
