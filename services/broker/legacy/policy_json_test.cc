#include "services/broker/legacy/policy_json.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace nsq::legacy {
namespace {

TEST(PolicyJsonTest, PolicyRoundTripsThroughJson) {
  broker::QueuePolicy p;
  p.max_attempts = 5;
  p.dead_letter_topic = "dlq";
  p.message_ttl = absl::Seconds(90);
  p.dead_letter_expired = true;
  p.max_depth = 42;
  p.depth_policy = broker::DepthPolicy::kDropOldest;
  const std::string json = PolicyJson(p);
  EXPECT_EQ(json,
            "{\"max_attempts\":5,\"dead_letter_topic\":\"dlq\",\"message_ttl_ms\":90000,"
            "\"dead_letter_expired\":true,\"max_depth\":42,\"depth_policy\":\"drop_oldest\"}");
  absl::StatusOr<broker::QueuePolicy> back = ParsePolicyJson(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, p);
}

TEST(PolicyJsonTest, HugeNumbersAreRefusedNotWrapped) {
  EXPECT_FALSE(ParsePolicyJson("{\"max_attempts\":4294967297}").ok());
  EXPECT_FALSE(ParsePolicyJson("{\"max_depth\":18446744073709551615}").ok());
  EXPECT_FALSE(ParsePolicyJson("{\"message_ttl_ms\":9223372036854775807}").ok());
  EXPECT_FALSE(ParsePolicyJson("{\"max_depth\":1.5}").ok());
  EXPECT_FALSE(ParsePolicyJson("[]").ok());
  EXPECT_FALSE(ParsePolicyJson("null").ok());
}

TEST(PolicyJsonTest, OriginJsonNamesTheReason) {
  broker::MessageOrigin o;
  o.topic = "t";
  o.channel = "c";
  ASSERT_TRUE(broker::MessageId::FromBytes("0123456789abcdef", &o.id));
  o.attempts = 3;
  o.reason = broker::MessageOrigin::Reason::kExpired;
  EXPECT_EQ(OriginJson(o),
            "{\"topic\":\"t\",\"channel\":\"c\",\"id\":\"0123456789abcdef\",\"attempts\":3,"
            "\"reason\":\"expired\"}");
}

TEST(PolicyJsonTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

TEST(PolicyJsonTest, PeekStopsAtItsBodyBudgetAndSaysSo) {
  std::vector<broker::PeekedMessage> peeked;
  for (int i = 0; i < 3; ++i) {
    auto m = std::make_shared<broker::Message>();
    m->body = std::string(10, 'a' + i);
    broker::PeekedMessage p;
    p.message = m;
    peeked.push_back(p);
  }
  const std::string all = PeekJson(peeked, 30);
  EXPECT_EQ(all.find("truncated"), std::string::npos);
  EXPECT_NE(all.find("cccccccccc"), std::string::npos);
  const std::string cut = PeekJson(peeked, 25);
  EXPECT_NE(cut.find("bbbbbbbbbb"), std::string::npos);
  EXPECT_EQ(cut.find("cccccccccc"), std::string::npos);
  EXPECT_TRUE(absl::EndsWith(cut, "],\"truncated\":true}")) << cut;
  // The first one always goes in, however big.
  EXPECT_NE(PeekJson(peeked, 1).find("aaaaaaaaaa"), std::string::npos);
}

}  // namespace
}  // namespace nsq::legacy
