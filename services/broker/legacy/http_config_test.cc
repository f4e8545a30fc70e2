// nsqd's /config/:opt over a real socket: GET, PUT of the run-time options, errors.

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using testing::Gateway;
using testing::GatewayConfig;
using testing::HttpCall;
using testing::kV1Json;

TEST(HttpConfigTest, ConfigGetAndPut) {
  GatewayConfig config;
  config.http.config = {{"mem_queue_size", "10000"}, {"log_level", "2"},
                        {"nsqlookupd_tcp_addresses", "[]"}};
  std::string level;
  config.http.set_log_level = [&level](const std::string& l) {
    if (l != "debug" && l != "info") return false;
    level = l;
    return true;
  };
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "GET", "/config/mem_queue_size"), absl::StrCat("200 ", kV1Json, "10000"));
  EXPECT_EQ(HttpCall(gw, "GET", "/config/nope"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_OPTION\"}"));
  // nsqd answers with its numeric LogLevel (debug = 1), on PUT and on GET after it.
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/log_level", "DEBUG"), absl::StrCat("200 ", kV1Json, "1"));
  EXPECT_EQ(level, "debug");
  EXPECT_EQ(HttpCall(gw, "GET", "/config/log_level"), absl::StrCat("200 ", kV1Json, "1"));
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/log_level", "loud"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/log_level", ""), absl::StrCat("413 ", kV1Json, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/nsqlookupd_tcp_addresses", "[\"127.0.0.1:4160\"]"),
            absl::StrCat("200 ", kV1Json, "[\"127.0.0.1:4160\"]"));
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/nsqlookupd_tcp_addresses", "nope"),
            absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_VALUE\"}"));
  EXPECT_EQ(HttpCall(gw, "PUT", "/config/mem_queue_size", "1"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_OPTION\"}"));
  EXPECT_EQ(HttpCall(gw, "DELETE", "/config/mem_queue_size"), absl::StrCat("405 ", kV1Json, "{\"message\":\"METHOD_NOT_ALLOWED\"}"));
}

}  // namespace
}  // namespace nsq::legacy
