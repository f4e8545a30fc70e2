// Beyond NSQ on the HTTP API over a real socket: /channel/policy, /topic/policy,
// /channel/peek, and /pub and /mpub refused by max_depth.

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using testing::Command;
using testing::Gateway;
using testing::HttpCall;
using testing::kV1Empty;
using testing::kV1Json;
using testing::kV1Text;
using testing::ParseMessage;

constexpr char kFull[] =
    "{\"max_attempts\":3,\"dead_letter_topic\":\"dead\",\"message_ttl_ms\":60000,"
    "\"dead_letter_expired\":true,\"max_depth\":1000,\"depth_policy\":\"drop_oldest\"}";
constexpr char kOff[] =
    "{\"max_attempts\":0,\"dead_letter_topic\":\"\",\"message_ttl_ms\":0,"
    "\"dead_letter_expired\":false,\"max_depth\":0,\"depth_policy\":\"reject_new\"}";

// As nsqd's encoding/json writes it ('>' as \u003e).
std::string Error(int status, const std::string& message) {
  return absl::StrCat(status, " ", kV1Json, "{\"message\":\"",
                      absl::StrReplaceAll(message, {{">", "\\u003e"}, {"<", "\\u003c"}}), "\"}");
}

nlohmann::json JsonBody(Gateway& gw, const std::string& target) {
  absl::StatusOr<http::ClientResponse> r = gw.Http("GET", target);
  if (!r.ok() || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

TEST(HttpPolicyTest, ChannelPolicyIsSetAndReadBack) {
  Gateway gw;
  // POST creates the topic and channel, as gRPC SetChannelPolicy does.
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/policy?topic=t&channel=c", kFull),
            absl::StrCat("200 ", kV1Json, kFull));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t&channel=c"), absl::StrCat("200 ", kV1Json, kFull));
  const broker::QueuePolicy p = gw.ChannelStats("t", "c").policy;
  EXPECT_EQ(p.max_attempts, 3);
  EXPECT_EQ(p.dead_letter_topic, "dead");
  EXPECT_EQ(p.message_ttl, absl::Minutes(1));
  EXPECT_TRUE(p.dead_letter_expired);
  EXPECT_EQ(p.max_depth, 1000);
  EXPECT_EQ(p.depth_policy, broker::DepthPolicy::kDropOldest);
  // Missing keys are off: {} clears the policy.
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/policy?topic=t&channel=c", "{}"), absl::StrCat("200 ", kV1Json, kOff));
  EXPECT_EQ(gw.ChannelStats("t", "c").policy, broker::QueuePolicy{});
}

TEST(HttpPolicyTest, ChannelPolicyOfAMissingTopicOrChannelIs404) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?channel=c"), Error(400, "MISSING_ARG_TOPIC"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t"), Error(400, "MISSING_ARG_CHANNEL"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t!&channel=c"), Error(400, "INVALID_ARG_TOPIC"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t&channel=c!"), Error(400, "INVALID_ARG_CHANNEL"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t&channel=c"), Error(404, "TOPIC_NOT_FOUND"));
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t&channel=c"), Error(404, "CHANNEL_NOT_FOUND"));
  EXPECT_EQ(HttpCall(gw, "GET", "/topic/policy?topic=nope"), Error(404, "TOPIC_NOT_FOUND"));
}

TEST(HttpPolicyTest, BadPoliciesAre400WithEInvalidAndChangeNothing) {
  Gateway gw;
  const std::string target = "/channel/policy?topic=t&channel=c";
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"max_attempts\":-1}"),
            Error(400, "E_INVALID max_attempts must be >= 0"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"max_depth\":-5}"), Error(400, "E_INVALID max_depth must be >= 0"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"message_ttl_ms\":-1}"),
            Error(400, "E_INVALID message_ttl must be >= 0"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"max_attempts\":2,\"dead_letter_topic\":\"t\"}"),
            Error(400, "E_INVALID dead_letter_topic must not be the topic itself"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"dead_letter_topic\":\"no good\"}"),
            Error(400, "E_INVALID dead_letter_topic \\\"no good\\\" is not a valid topic name"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"depth_policy\":\"drop_newest\"}"),
            Error(400, "E_INVALID depth_policy must be reject_new or drop_oldest"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"max_attempts\":\"3\"}"),
            Error(400, "E_INVALID max_attempts must be an integer"));
  EXPECT_EQ(HttpCall(gw, "POST", target, "{\"max_attempt\":3}"),
            Error(400, "E_INVALID unknown policy key \\\"max_attempt\\\""));
  EXPECT_EQ(HttpCall(gw, "POST", target, "max_attempts=3"), Error(400, "E_INVALID policy body must be a JSON object"));
  EXPECT_EQ(HttpCall(gw, "POST", target, ""), Error(400, "E_INVALID policy body must be a JSON object"));
  EXPECT_FALSE(gw.engine().TopicExists("t"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/policy?topic=t", "{\"max_attempts\":70000}"),
            Error(400, "E_INVALID max_attempts must be <= 65535"));
}

TEST(HttpPolicyTest, TopicPolicyIsTheDefaultOfItsNewChannels) {
  Gateway gw;
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=old", ""), Error(404, "TOPIC_NOT_FOUND"));
  EXPECT_EQ(HttpCall(gw, "POST", "/topic/policy?topic=t", kFull), absl::StrCat("200 ", kV1Json, kFull));
  EXPECT_EQ(HttpCall(gw, "GET", "/topic/policy?topic=t"), absl::StrCat("200 ", kV1Json, kFull));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/policy?topic=t&channel=c"), absl::StrCat("200 ", kV1Json, kFull));
}

TEST(HttpPolicyTest, PolicyEndpointsAnswerGetAndPostOnly) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "PUT", "/topic/policy?topic=t", "{}"), Error(405, "METHOD_NOT_ALLOWED"));
  absl::StatusOr<http::ClientResponse> r = gw.Http("OPTIONS", "/channel/policy?topic=t&channel=c");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Allow").value_or(""), "GET, OPTIONS, POST");
  EXPECT_EQ(HttpCall(gw, "POST", "/channel/peek?topic=t&channel=c"), Error(405, "METHOD_NOT_ALLOWED"));
}

TEST(HttpPolicyTest, PeekShowsEachStateAndChangesNothing) {
  Gateway gw;
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "héllo"), absl::StrCat("200 ", kV1Text, "OK"));
  ASSERT_EQ(HttpCall(gw, "POST", "/pub?topic=t", std::string("\xff\xfe\x00", 3)), absl::StrCat("200 ", kV1Text, "OK"));
  ASSERT_EQ(HttpCall(gw, "POST", "/pub?topic=t&defer=60000", "later"), absl::StrCat("200 ", kV1Text, "OK"));
  auto sub = gw.Connect();
  ASSERT_TRUE(sub->Subscribe("t", "c", 1, "{\"client_id\":\"peeker\",\"feature_negotiation\":true}"));
  std::optional<testing::Frame> f = sub->Read();
  ASSERT_TRUE(f.has_value());
  std::optional<testing::Message> delivered = ParseMessage(*f);
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ(delivered->body, "héllo");

  const broker::ChannelStats before = gw.ChannelStats("t", "c");
  nlohmann::json peek = JsonBody(gw, "/channel/peek?topic=t&channel=c");
  ASSERT_TRUE(peek.is_object()) << peek;
  const nlohmann::json& m = peek["messages"];
  ASSERT_EQ(m.size(), 3u) << peek;
  EXPECT_EQ(m[0]["state"], "in_flight");
  EXPECT_EQ(m[0]["id"], delivered->id);
  EXPECT_EQ(m[0]["body"], "héllo");
  EXPECT_FALSE(m[0].contains("encoding"));
  EXPECT_EQ(m[0]["attempts"], 1);
  EXPECT_EQ(m[0]["timestamp"], delivered->timestamp_ns);
  EXPECT_EQ(m[0]["client_id"], "peeker");
  EXPECT_EQ(m[0]["deadline_ns"].get<int64_t>(),
            absl::ToUnixNanos(gw.engine().clock()->Now()) + absl::ToInt64Nanoseconds(absl::Seconds(60)));
  EXPECT_EQ(m[1]["state"], "ready");
  EXPECT_EQ(m[1]["body"], absl::Base64Escape(std::string("\xff\xfe\x00", 3)));
  EXPECT_EQ(m[1]["encoding"], "base64");
  EXPECT_EQ(m[1]["attempts"], 0);
  EXPECT_FALSE(m[1].contains("due_ns"));
  EXPECT_FALSE(m[1].contains("origin"));
  EXPECT_EQ(m[2]["state"], "deferred");
  EXPECT_EQ(m[2]["body"], "later");
  EXPECT_EQ(m[2]["due_ns"].get<int64_t>(), m[2]["timestamp"].get<int64_t>() + 60000000000LL);

  // Looking changed nothing.
  const broker::ChannelStats after = gw.ChannelStats("t", "c");
  EXPECT_EQ(after.depth, before.depth);
  EXPECT_EQ(after.in_flight_count, before.in_flight_count);
  EXPECT_EQ(after.deferred_count, before.deferred_count);
  EXPECT_EQ(JsonBody(gw, "/channel/peek?topic=t&channel=c"), peek);

  nlohmann::json one = JsonBody(gw, "/channel/peek?topic=t&channel=c&limit=1");
  EXPECT_EQ(one["messages"].size(), 3u);  // the limit is per state
}

TEST(HttpPolicyTest, PeekErrors) {
  Gateway gw;
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c"), Error(404, "TOPIC_NOT_FOUND"));
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=t"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c"), Error(404, "CHANNEL_NOT_FOUND"));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=t&channel=c"), absl::StrCat("200 ", kV1Empty));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c"), absl::StrCat("200 ", kV1Json, "{\"messages\":[]}"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c&limit=0"),
            Error(400, "E_INVALID limit must be within 1-1000"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c&limit=1001"),
            Error(400, "E_INVALID limit must be within 1-1000"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t&channel=c&limit=x"),
            Error(400, "E_INVALID limit must be within 1-1000"));
  EXPECT_EQ(HttpCall(gw, "GET", "/channel/peek?topic=t"), Error(400, "MISSING_ARG_CHANNEL"));
}

TEST(HttpPolicyTest, PeekShowsTheOriginOfADeadLetteredCopy) {
  Gateway gw;
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/policy?topic=t&channel=c",
                     "{\"max_attempts\":1,\"dead_letter_topic\":\"dead\"}")
                .substr(0, 3),
            "200");
  ASSERT_EQ(HttpCall(gw, "POST", "/topic/create?topic=dead"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/create?topic=dead&channel=d"), absl::StrCat("200 ", kV1Empty));
  ASSERT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "poison"), absl::StrCat("200 ", kV1Text, "OK"));
  auto sub = gw.Connect();
  ASSERT_TRUE(sub->Subscribe("t", "c", 1));
  std::optional<testing::Frame> f = sub->Read();
  ASSERT_TRUE(f.has_value());
  std::optional<testing::Message> m = ParseMessage(*f);
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(sub->Send(Command(absl::StrCat("REQ ", m->id, " 0"))));
  // The REQ reaches the engine, the message is dead-lettered at its next dispatch and
  // the copy published on the next timer tick.
  nlohmann::json peek;
  for (int i = 0; i < 500; ++i) {
    gw.Advance(absl::Milliseconds(10));
    peek = JsonBody(gw, "/channel/peek?topic=dead&channel=d");
    if (peek.is_object() && !peek["messages"].empty()) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(peek.is_object());
  ASSERT_EQ(peek["messages"].size(), 1u) << peek;
  const nlohmann::json& copy = peek["messages"][0];
  EXPECT_EQ(copy["body"], "poison");
  EXPECT_NE(copy["id"], m->id);
  EXPECT_EQ(copy["origin"], nlohmann::json::parse(absl::StrCat(
                                "{\"topic\":\"t\",\"channel\":\"c\",\"id\":\"", m->id,
                                "\",\"attempts\":1,\"reason\":\"max_attempts\"}")));
  EXPECT_EQ(gw.ChannelStats("t", "c").dead_letter_count, 1u);
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 0);
}

TEST(HttpPolicyTest, PublishPastMaxDepthIs503) {
  Gateway gw;
  ASSERT_EQ(HttpCall(gw, "POST", "/channel/policy?topic=t&channel=c", "{\"max_depth\":1}").substr(0, 3), "200");
  EXPECT_EQ(HttpCall(gw, "POST", "/pub?topic=t", "a"), absl::StrCat("200 ", kV1Text, "OK"));
  const std::string refused = HttpCall(gw, "POST", "/pub?topic=t", "b");
  EXPECT_TRUE(absl::StartsWith(refused, absl::StrCat("503 ", kV1Json, "{\"message\":\"E_PUB_FAILED channel t:c is full")))
      << refused;
  const std::string mrefused = HttpCall(gw, "POST", "/mpub?topic=t", "b\nc");
  EXPECT_TRUE(absl::StartsWith(mrefused, absl::StrCat("503 ", kV1Json, "{\"message\":\"E_PUB_FAILED channel t:c is full")))
      << mrefused;
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
  EXPECT_EQ(gw.ChannelStats("t", "c").depth_rejected_count, 3u);
}

}  // namespace
}  // namespace nsq::legacy
