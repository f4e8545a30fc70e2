// nsqd's /stats over a real socket: the JSON schema, V2 clients and producers, text.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Gateway;
using testing::GatewayConfig;
using testing::HttpCall;
using testing::kV1Empty;
using testing::kV1Json;
using testing::kV1Text;

TEST(HttpStatsTest, StatsJsonHasNsqdSchema) {
  GatewayConfig config;
  config.http.start_time = absl::FromUnixSeconds(1700000000);
  Gateway gw(config);
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "abc"), absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(HttpCall(gw, "GET", "/stats?format=json&include_clients=false&include_mem=false"),
            absl::StrCat(
                "200 ", kV1Json,
                "{\"version\":\"1.3.0\",\"health\":\"OK\",\"start_time\":1700000000,\"topics\":[{"
                "\"topic_name\":\"t\",\"channels\":[{\"channel_name\":\"c\",\"depth\":1,"
                "\"backend_depth\":0,\"in_flight_count\":0,\"deferred_count\":0,\"message_count\":1,"
                "\"requeue_count\":0,\"timeout_count\":0,\"client_count\":0,\"clients\":null,"
                "\"paused\":false,\"e2e_processing_latency\":{\"count\":0,\"percentiles\":null}}],"
                "\"depth\":0,\"backend_depth\":0,\"message_count\":1,\"message_bytes\":3,"
                "\"paused\":false,\"e2e_processing_latency\":{\"count\":0,\"percentiles\":null}}],"
                "\"producers\":null}"));
  EXPECT_EQ(HttpCall(gw, "GET", "/stats?format=json&topic=missing&include_mem=false"),
            absl::StrCat("200 ", kV1Json,
                         "{\"version\":\"1.3.0\",\"health\":\"OK\",\"start_time\":1700000000,"
                         "\"topics\":null,\"producers\":null}"));
}

TEST(HttpStatsTest, StatsShowV2ClientsAndProducers) {
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
  // A producer that never sent IDENTIFY goes by its remote host, as in nsqd.
  EXPECT_THAT(r->body, HasSubstr("\"producers\":[{\"client_id\":\"127.0.0.1\",\"hostname\":\"127.0.0.1\","));
  EXPECT_THAT(text->body, HasSubstr("\nProducers:\n   [V2 127.0.0.1:"));
  EXPECT_THAT(text->body, HasSubstr("] msgs: 1        topics: t=1 connected: "));
}

TEST(HttpStatsTest, StatsTextWithNothing) {
  Gateway gw;
  auto r = gw.Http("GET", "/stats?include_mem=false");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->body, HasSubstr("\nHealth: OK\n\nTopics: None\n\nProducers: None\n"));
}

}  // namespace
}  // namespace nsq::legacy
