// nsqd's /topic/* and /channel/* actions over a real socket, errors included.

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using testing::Gateway;
using testing::HttpCall;
using testing::kV1Empty;
using testing::kV1Json;
using testing::kV1Text;

TEST(HttpTopicChannelTest, TopicEndpoints) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/create"), absl::StrCat("400 ", kV1Json, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/create?topic=a*"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/empty?topic=t"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/pause?topic=t"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/delete?topic=t"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "x"), absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/pause?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_TRUE(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].paused);
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/unpause?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_FALSE(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].paused);
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/empty?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].depth, 0);
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/delete?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_FALSE(gw.engine().TopicExists("t"));
  EXPECT_EQ(HttpCall(gw, "GET", "/topic/create?topic=t"), absl::StrCat("405 ", kV1Json, "{\"message\":\"METHOD_NOT_ALLOWED\"}"));
}

TEST(HttpTopicChannelTest, ChannelEndpoints) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?channel=c"), absl::StrCat("400 ", kV1Json, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t"), absl::StrCat("400 ", kV1Json, "{\"message\":\"MISSING_ARG_CHANNEL\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t!&channel=c"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_ARG_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c!"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_ARG_CHANNEL\"}"));
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/empty?topic=t&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/pause?topic=t&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/delete?topic=t&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"CHANNEL_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "x"), absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/pause?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_TRUE(gw.ChannelStats("t", "c").paused);
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/unpause?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_FALSE(gw.ChannelStats("t", "c").paused);
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/empty?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 0);
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/delete?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/delete?topic=nope&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
}

}  // namespace
}  // namespace nsq::legacy
