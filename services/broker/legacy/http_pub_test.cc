// nsqd's /pub and /mpub over a real socket: codes, headers and bodies, errors included.

#include <string>
#include <thread>
#include <vector>

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
using testing::kV1Empty;
using testing::kV1Json;
using testing::kV1Text;

TEST(HttpPubTest, PubPublishesAndAnswersOk) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "hello"), absl::StrCat("200 ", kV1Text, "OK"));
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  auto m = testing::ParseMessage(*c->Read());
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, "hello");
}

TEST(HttpPubTest, PubErrorsHaveNsqdCodes) {
  GatewayConfig config;
  config.engine.max_msg_size = 10;
  config.engine.max_req_timeout = absl::Seconds(10);
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", ""), absl::StrCat("400 ", kV1Json, "{\"message\":\"MSG_EMPTY\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub", "x"), absl::StrCat("400 ", kV1Json, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=a/b", "x"), absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_TOPIC\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", std::string(11, 'x')),
            absl::StrCat("413 ", kV1Json, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t&defer=abc", "x"),
            absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t&defer=10001", "x"),
            absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t&defer=-1", "x"),
            absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_DEFER\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t&x=%zz", "x"),
            absl::StrCat("400 ", kV1Json, "{\"message\":\"INVALID_REQUEST\"}"));
}

TEST(HttpPubTest, PubWithDeferHoldsTheMessage) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("404 ", kV1Json, "{\"message\":\"TOPIC_NOT_FOUND\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t&defer=1000", "later"), absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(gw.ChannelStats("t", "c").deferred_count, 1);
  gw.Advance(absl::Seconds(1));
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
}

TEST(HttpPubTest, MpubTextSplitsLinesAndSkipsEmptyOnes) {
  Gateway gw;
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t", "a\n\nb\r\nc\n"), absl::StrCat("200 ", kV1Text, "OK"));
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 10));
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(testing::ParseMessage(*c->Read())->body);
  EXPECT_THAT(got, ::testing::ElementsAre("a", "b\r", "c"));
}

TEST(HttpPubTest, MpubBinaryReadsSizePrefixedMessages) {
  Gateway gw;
  std::string body("\0\0\0\2\0\0\0\1x\0\0\0\2yz", 4 + 5 + 6);
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t&binary=true", body), absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].depth, 2);
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t&binary=1", std::string("\0\0\0\0", 4)),
            absl::StrCat("413 ", kV1Json, "{\"message\":\"BAD_BODY\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t&binary=yes", std::string("\0\0\0\1\0\0\0\5ab", 10)),
            absl::StrCat("413 ", kV1Json, "{\"message\":\"BAD_MESSAGE\"}"));
}

TEST(HttpPubTest, MpubSizeLimits) {
  GatewayConfig config;
  config.engine.max_msg_size = 4;
  config.http.max_body_size = 20;
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t", "abcde\n"), absl::StrCat("413 ", kV1Json, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=t", std::string(21, 'a')),
            absl::StrCat("413 ", kV1Json, "{\"message\":\"BODY_TOO_BIG\"}"));
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub", "a"), absl::StrCat("400 ", kV1Json, "{\"message\":\"MISSING_ARG_TOPIC\"}"));
}

// nsqd creates /mpub's topic before it reads the body, /pub's only after.
TEST(HttpPubTest, AFailedMpubLeavesItsTopicAsNsqdDoesAndAFailedPubDoesNot) {
  GatewayConfig config;
  config.engine.max_msg_size = 4;
  Gateway gw(config);
  EXPECT_EQ(HttpCall(gw, "POST", "/mpub?topic=m", "abcde\n"), absl::StrCat("413 ", kV1Json, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_TRUE(gw.engine().TopicExists("m"));
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=p", "abcde"), absl::StrCat("413 ", kV1Json, "{\"message\":\"MSG_TOO_BIG\"}"));
  EXPECT_FALSE(gw.engine().TopicExists("p"));
}

// ---- --sync-every=1: answered once durable, without holding the HTTP thread ----

TEST(HttpPubTest, APublishWaitingForDurabilityDoesNotStallTheOnlyHttpThread) {
  GatewayConfig config;
  config.http_threads = 1;
  Gateway gw(config);
  gw.storage().Hold(true);
  std::string pub, mpub;
  std::thread publisher([&] { pub = HttpCall(gw, "POST", "/pub?topic=t", "x"); });
  EXPECT_TRUE(gw.storage().AwaitWaiting(1));
  std::thread mpublisher([&] { mpub = HttpCall(gw, "POST", "/mpub?topic=t", "y\nz"); });
  EXPECT_TRUE(gw.storage().AwaitWaiting(2)) << "the second publish was not even read";
  EXPECT_EQ(HttpCall(gw, "GET", "/ping"), "200 [text/plain; charset=utf-8] [] OK");
  EXPECT_EQ(pub, "") << "answered before durable";
  gw.storage().Hold(false);
  EXPECT_EQ(gw.storage().Release(), 2u);
  publisher.join();
  mpublisher.join();
  EXPECT_EQ(pub, absl::StrCat("200 ", kV1Text, "OK"));
  EXPECT_EQ(mpub, absl::StrCat("200 ", kV1Text, "OK"));
}

TEST(HttpPubTest, APublishWhoseDurabilityFailsIsAnswered503Exiting) {
  Gateway gw;
  gw.storage().Hold(true);
  std::string pub;
  std::thread publisher([&] { pub = HttpCall(gw, "POST", "/pub?topic=t", "x"); });
  EXPECT_TRUE(gw.storage().AwaitWaiting(1));
  gw.storage().Release(absl::UnavailableError("fsync failed"));
  publisher.join();
  EXPECT_EQ(pub, absl::StrCat("503 ", kV1Json, "{\"message\":\"EXITING\"}"));
}

}  // namespace
}  // namespace nsq::legacy
