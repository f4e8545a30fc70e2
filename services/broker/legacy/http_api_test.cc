// nsqd's HTTP API routing over a real socket: /ping, /info, methods, unknown paths and
// the TLS_REQUIRED refusal (what curl would see).

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using testing::Gateway;
using testing::GatewayConfig;
using testing::HttpCall;
using testing::kV1Json;

TEST(HttpApiTest, PingAnswersPlainOk) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "GET", "/ping"), "200 [text/plain; charset=utf-8] [] OK");
}

TEST(HttpApiTest, InfoDescribesTheBroker) {
  GatewayConfig config;
  config.http.start_time = absl::FromUnixSeconds(1700000000);
  config.http.hostname = "h";
  config.http.broadcast_address = "b";
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "GET", "/info"),
            absl::StrCat("200 ", kV1Json,
                         "{\"version\":\"1.3.0\",\"broadcast_address\":\"b\",\"hostname\":\"h\","
                         "\"http_port\":", gw.http_port(), ",\"tcp_port\":", gw.tcp_port(),
                         ",\"start_time\":1700000000,\"max_heartbeat_interval\":60000000000,"
                         "\"max_output_buffer_size\":65536,\"max_output_buffer_timeout\":30000000000,"
                         "\"max_deflate_level\":6,\"topology_zone\":\"\",\"topology_region\":\"\"}"));
}

TEST(HttpApiTest, InfoShowsTheBrokersTopology) {
  GatewayConfig config;
  config.http.topology_zone = "z1";
  config.http.topology_region = "r1";
  Gateway gw(config);
  EXPECT_THAT(HttpCall(gw, "GET", "/info"),
              ::testing::EndsWith("\"topology_zone\":\"z1\",\"topology_region\":\"r1\"}"));
}

TEST(HttpApiTest, WrongMethodIs405WithAllow) {
  Gateway gw;
  auto r = gw.Http("GET", "/pub?topic=t");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->body, "{\"message\":\"METHOD_NOT_ALLOWED\"}");
  EXPECT_EQ(r->Header("Allow").value_or(""), "OPTIONS, POST");  // sorted, as httprouter does
  r = gw.Http("POST", "/config/log_level", "info");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("Allow").value_or(""), "GET, OPTIONS, PUT");
}

TEST(HttpApiTest, OptionsAnswers200WithOnlyAllow) {
  Gateway gw;
  auto r = gw.Http("OPTIONS", "/pub");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->Header("Allow").value_or(""), "OPTIONS, POST");
  EXPECT_FALSE(r->Header("Content-Type").has_value());
  EXPECT_FALSE(r->Header("X-NSQ-Content-Type").has_value());
  r = gw.Http("OPTIONS", "/config/log_level");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Allow").value_or(""), "GET, OPTIONS, PUT");
  EXPECT_EQ(HttpCall(gw, "OPTIONS", "/nope"), absl::StrCat("404 ", kV1Json, "{\"message\":\"NOT_FOUND\"}"));
}

TEST(HttpApiTest, UnknownPathIsV1NotFound) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "GET", "/nope"), absl::StrCat("404 ", kV1Json, "{\"message\":\"NOT_FOUND\"}"));
}

TEST(HttpApiTest, TlsRequiredRefusesPlainHttp) {
  GatewayConfig config;
  config.http.tls_required = true;
  config.http.https_port = [] { return 4152; };
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "GET", "/stats"),
            absl::StrCat("403 ", kV1Json, "{\"message\": \"TLS_REQUIRED\", \"https_port\": 4152}"));
  // Every path, as nsqd's plain listener: unknown ones too.
  EXPECT_EQ(HttpCall(gw, "GET", "/no/such/path"),
            absl::StrCat("403 ", kV1Json, "{\"message\": \"TLS_REQUIRED\", \"https_port\": 4152}"));
}

}  // namespace
}  // namespace nsq::legacy
