// The V2 decoder, IDENTIFY parsing/negotiation and the JSON replies, without sockets.

#include "services/broker/legacy/v2_protocol.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::legacy {
namespace {

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

struct Decoded {
  std::string input;  // the views in cmd point here
  DecodeStatus status;
  size_t consumed = 0;
  std::string error;
  DecodedCommand cmd;
};

std::unique_ptr<Decoded> DecodePtr(std::string_view input, DecodeContext ctx = {}) {
  auto d = std::make_unique<Decoded>();
  d->input = std::string(input);
  d->status = DecodeCommand(d->input, ctx, &d->cmd, &d->consumed, &d->error);
  return d;
}
Decoded Decode(std::string_view input, DecodeContext ctx = {}) {
  Decoded d;
  d.status = DecodeCommand(input, ctx, &d.cmd, &d.consumed, &d.error);
  d.cmd = {};  // views would dangle
  return d;
}

TEST(V2DecodeTest, WaitsForTheWholeLineAndBody) {
  const std::string pub = "PUB t\n" + Be32(5) + "hello";
  for (size_t n = 0; n < pub.size(); ++n) {
    EXPECT_EQ(Decode(pub.substr(0, n)).status, DecodeStatus::kNeedMore) << n;
  }
  auto d = DecodePtr(pub + "NOP\n");
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_EQ(d->cmd.type, CommandType::kPub);
  EXPECT_EQ(d->cmd.topic, "t");
  EXPECT_EQ(d->cmd.body, "hello");
  EXPECT_EQ(d->consumed, pub.size());
}

TEST(V2DecodeTest, BadSizeFailsBeforeTheBodyArrives) {
  Decoded d = Decode("PUB t\n" + Be32(0));
  EXPECT_EQ(d.status, DecodeStatus::kFatal);
  EXPECT_EQ(d.error, "E_BAD_MESSAGE PUB invalid message body size 0");
  d = Decode("PUB t\n" + Be32(0xffffffff));
  EXPECT_EQ(d.error, "E_BAD_MESSAGE PUB invalid message body size -1");
}

TEST(V2DecodeTest, StripsCarriageReturnAndSplitsOnSingleSpaces) {
  // Params "REQ", id, "", "": the timeout "" parses as 0, as ByteToBase10 does.
  auto d = DecodePtr("REQ 0123456789abcdef  \r\n", {.state = ConnState::kSubscribed});
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_EQ(d->cmd.params.size(), 4u);
  EXPECT_EQ(d->cmd.number, 0);
  EXPECT_EQ(Decode("FIN  0123456789abcdef\n", {.state = ConnState::kSubscribed}).error,
            "E_INVALID invalid message ID");
}

TEST(V2DecodeTest, RdyWithoutCountMeansOneAndIsIgnoredWhileClosing) {
  auto d = DecodePtr("RDY\n", {.state = ConnState::kSubscribed});
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_EQ(d->cmd.number, 1);
  d = DecodePtr("RDY 99999\n", {.state = ConnState::kClosing});
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_EQ(d->cmd.type, CommandType::kNop);
}

TEST(V2DecodeTest, ReqClampsItsTimeout) {
  auto d = DecodePtr("REQ 0123456789abcdef 99999999999\n",
                     {.state = ConnState::kSubscribed, .max_req_timeout_ms = 1000});
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_EQ(d->cmd.number, 1000);
}

TEST(V2DecodeTest, MpubPartsAreViewsIntoTheInput) {
  const std::string mpub = "MPUB t\n" + Be32(4 + 5 + 6) + Be32(2) + Be32(1) + "a" + Be32(2) + "bc";
  auto d = DecodePtr(mpub);
  ASSERT_EQ(d->status, DecodeStatus::kCommand);
  EXPECT_THAT(d->cmd.bodies, ::testing::ElementsAre("a", "bc"));
}

TEST(V2DecodeTest, TlsRequiredAllowsOnlyIdentify) {
  DecodeContext ctx{.tls_required_unmet = true};
  EXPECT_EQ(Decode("NOP\n", ctx).error, "E_INVALID cannot NOP in current state (TLS required)");
  EXPECT_EQ(Decode("IDENTIFY\n" + Be32(2) + "{}", ctx).status, DecodeStatus::kCommand);
}

TEST(V2DecodeTest, GoQuoteEscapesLikeStrconvQuote) {
  EXPECT_EQ(GoQuote("ab"), "\"ab\"");
  EXPECT_EQ(GoQuote("a\"b\\"), "\"a\\\"b\\\\\"");
  EXPECT_EQ(GoQuote(std::string("\x01\n\xff", 3)), "\"\\x01\\n\\xff\"");
  EXPECT_EQ(GoQuote("é"), "\"é\"");
}

TEST(IdentifyTest, KeysMatchCaseInsensitivelyAndUnknownOnesAreIgnored) {
  auto r = ParseIdentify("{\"Client_ID\":\"c\",\"short_id\":\"x\",\"long_id\":\"y\",\"HEARTBEAT_INTERVAL\":5000}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->client_id, "c");
  EXPECT_EQ(r->heartbeat_interval, 5000);
}

TEST(IdentifyTest, WrongTypesFailToDecode) {
  EXPECT_FALSE(ParseIdentify("{\"heartbeat_interval\":\"1000\"}").ok());
  EXPECT_FALSE(ParseIdentify("{\"msg_timeout\":1.5}").ok());
  EXPECT_FALSE(ParseIdentify("{\"sample_rate\":4294967296}").ok());
  EXPECT_FALSE(ParseIdentify("[1]").ok());
  EXPECT_FALSE(ParseIdentify("{").ok());
  EXPECT_TRUE(ParseIdentify("null").ok());
  EXPECT_TRUE(ParseIdentify("{\"client_id\":null}").ok());
}

TEST(IdentifyTest, ApplyValidatesInNsqdOrderWithItsMessages) {
  ClientSettings s;
  IdentifyRequest r;
  r.output_buffer_timeout = 10;
  EXPECT_EQ(ApplyIdentify(r, {}, &s).message(), "output buffer timeout (10) is invalid");
  r = {};
  r.output_buffer_size = 63;
  EXPECT_EQ(ApplyIdentify(r, {}, &s).message(), "output buffer size (63) is invalid");
  r = {};
  r.msg_timeout = 999;
  EXPECT_EQ(ApplyIdentify(r, {}, &s).message(), "msg timeout (999) is invalid");
  r = {};
  r.sample_rate = -1;
  EXPECT_EQ(ApplyIdentify(r, {}, &s).message(), "sample rate (-1) is invalid");
  r = {};
  r.output_buffer_size = -1;
  ASSERT_TRUE(ApplyIdentify(r, {}, &s).ok());
  EXPECT_EQ(s.output_buffer_size, 1);
  EXPECT_EQ(s.output_buffer_timeout_ms, 0);
}

TEST(IdentifyTest, ReplyHasTheFifteenFieldsInNsqdOrder) {
  IdentifyReply r;
  r.tls_v1 = true;
  r.topology_zone = "z<1>";
  EXPECT_EQ(IdentifyReplyJson(r),
            "{\"max_rdy_count\":2500,\"version\":\"1.3.0\",\"max_msg_timeout\":900000,"
            "\"msg_timeout\":60000,\"tls_v1\":true,\"deflate\":false,\"deflate_level\":6,"
            "\"max_deflate_level\":6,\"snappy\":false,\"sample_rate\":0,"
            "\"auth_required\":false,\"output_buffer_size\":16384,"
            "\"output_buffer_timeout\":250,\"topology_region\":\"\","
            "\"topology_zone\":\"z\\u003c1\\u003e\"}");
}

TEST(AuthReplyTest, CarriesIdentityUrlAndPermissionCountAsGoJson) {
  EXPECT_EQ(AuthReplyJson("me & you", "http://x/?a=1", 3),
            "{\"identity\":\"me \\u0026 you\",\"identity_url\":\"http://x/?a=1\","
            "\"permission_count\":3}");
}

TEST(IdentifyTest, DeadLetterOriginIsAnOptInKeyEchoedOnlyWhenAskedFor) {
  auto r = ParseIdentify("{\"dead_letter_origin\":true}");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->dead_letter_origin);
  EXPECT_FALSE(ParseIdentify("{}")->dead_letter_origin);
  EXPECT_FALSE(ParseIdentify("{\"dead_letter_origin\":1}").ok());
  ClientSettings s;
  ASSERT_TRUE(ApplyIdentify(*r, IdentifyLimits{}, &s).ok());
  EXPECT_TRUE(s.dead_letter_origin);
  IdentifyReply reply;
  EXPECT_EQ(IdentifyReplyJson(reply).find("dead_letter_origin"), std::string::npos);
  reply.dead_letter_origin = true;
  const std::string json = IdentifyReplyJson(reply);
  EXPECT_EQ(json.substr(json.size() - 27), ",\"dead_letter_origin\":true}");
}

}  // namespace
}  // namespace nsq::legacy
