// Black-box tests of the NSQ TCP protocol V2 listener over real loopback sockets, after
// nsqd's protocol_v2_test.go: exact bytes of replies and errors, fatal vs non-fatal.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"
#include "services/broker/legacy/v2_protocol.h"

namespace nsq::legacy {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::Command;
using testing::Gateway;
using testing::GatewayConfig;
using testing::kWait;
using testing::MpubCommand;
using testing::ParseMessage;
using testing::TestdataPath;
using testing::V2Client;

constexpr char kNegotiate[] = "{\"feature_negotiation\":true}";

std::string ExpectMessage(V2Client& c, const std::string& body, uint16_t attempts = 1,
                          std::string* id = nullptr) {
  for (;;) {
    std::optional<testing::Frame> f = c.Read();
    if (!f) return "no frame";
    if (f->type == kFrameTypeResponse && f->data == "_heartbeat_") continue;
    std::optional<testing::Message> m = ParseMessage(*f);
    if (!m) return absl::StrCat("not a message: ", f->type, " ", f->data);
    if (id) *id = m->id;
    if (m->body != body || m->attempts != attempts) {
      return absl::StrCat("got ", m->body, " attempts ", m->attempts);
    }
    return "ok";
  }
}

// nsqd with --topology-zone/-region and the topology-aware-consumption experiment:
// the IDENTIFY reply names the broker's topology, /stats shows the client's, and the
// channel counts the delivery to a consumer of the same zone as zone-local.
TEST(V2ServerTest, TopologyIsRepliedShownAndCountsDeliveries) {
  GatewayConfig config;
  config.engine.topology_zone = "z1";
  config.engine.topology_region = "r1";
  config.engine.topology_aware_consumption = true;
  config.v2.topology_zone = "z1";
  config.v2.topology_region = "r1";
  Gateway gw(config);
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"topology_zone\":\"z1\","
                          "\"topology_region\":\"r1\"}"),
              ::testing::EndsWith(",\"topology_region\":\"r1\",\"topology_zone\":\"z1\"}"));
  c->Send(Command("SUB t c"));
  ASSERT_EQ(c->ReadText(), "0 OK");
  c->Send(Command("RDY 5"));
  auto pub = gw.Connect();
  ASSERT_EQ(pub->Pub("t", "hello"), "0 OK");
  ASSERT_EQ(ExpectMessage(*c, "hello"), "ok");
  auto stats = gw.Http("GET", "/stats?format=json&topic=t");
  ASSERT_TRUE(stats.ok());
  EXPECT_THAT(stats->body, HasSubstr("\"message_count\":1,\"zone_local_msg_count\":1,\"requeue_count\""));
  EXPECT_THAT(stats->body, HasSubstr("\"topology_zone\":\"z1\",\"topology_region\":\"r1\""));
}

TEST(V2ServerTest, BadMagicGetsBadProtocolErrorAndClose) {
  Gateway gw;
  auto c = gw.Connect(/*magic=*/false);
  c->Send("  V1");
  EXPECT_EQ(c->ReadText(), "1 E_BAD_PROTOCOL");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, IdentifyWithoutFeatureNegotiationRepliesOk) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"client_id\":\"a\"}"), "0 OK");
}

TEST(V2ServerTest, IdentifyRepliesWithTheFifteenFieldsInNsqdOrder) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"feature_negotiation\":true,\"msg_timeout\":5000,\"sample_rate\":7,"
                        "\"output_buffer_size\":4096,\"output_buffer_timeout\":100}"),
            "0 {\"max_rdy_count\":2500,\"version\":\"1.3.0\",\"max_msg_timeout\":900000,"
            "\"msg_timeout\":5000,\"tls_v1\":false,\"deflate\":false,\"deflate_level\":6,"
            "\"max_deflate_level\":6,\"snappy\":false,\"sample_rate\":7,\"auth_required\":false,"
            "\"output_buffer_size\":4096,\"output_buffer_timeout\":100,\"topology_region\":\"\","
            "\"topology_zone\":\"\"}");
}

TEST(V2ServerTest, IdentifyRejectsAnInvalidHeartbeatIntervalFatally) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"heartbeat_interval\":999}"),
            "1 E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, IdentifyRejectsMalformedJson) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"client_id\":1}"), "1 E_BAD_BODY IDENTIFY failed to decode JSON body");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, IdentifyRejectsDeflateTogetherWithSnappy) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"feature_negotiation\":true,\"deflate\":true,\"snappy\":true}"),
            "1 E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
}

TEST(V2ServerTest, IdentifyBodyOverMaxBodySizeIsFatal) {
  GatewayConfig config;
  config.v2.max_body_size = 100;
  Gateway gw(config);
  auto c = gw.Connect();
  c->Send(Command("IDENTIFY", std::string(101, ' ')));
  EXPECT_EQ(c->ReadText(), "1 E_BAD_BODY IDENTIFY body too big 101 > 100");
}

TEST(V2ServerTest, IdentifyAfterSubIsRejected) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 0));
  c->Send(Command("IDENTIFY", "{}"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot IDENTIFY in current state");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, PublishedMessageArrivesWithTimestampAttemptsIdAndBody) {
  Gateway gw;
  auto pub = gw.Connect();
  EXPECT_EQ(pub->Pub("t", "hello"), "0 OK");
  auto sub = gw.Connect();
  ASSERT_TRUE(sub->Subscribe("t", "c", 1));
  std::optional<testing::Frame> f = sub->Read();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->type, kFrameTypeMessage);
  std::optional<testing::Message> m = ParseMessage(*f);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body, "hello");
  EXPECT_EQ(m->attempts, 1);
  EXPECT_EQ(m->id.size(), 16u);
  EXPECT_EQ(m->timestamp_ns, absl::ToUnixNanos(absl::FromUnixSeconds(1700000000)));  // fake clock
  EXPECT_EQ(f->data.size(), 8u + 2 + 16 + 5);
}

// output_buffer_size/-timeout are upper bounds: a message for an otherwise idle
// connection is written at once, not after the timeout (nsqd waits up to the timeout for
// the buffer to fill). The timeout here (30 s) is far past the read's bound (5 s).
TEST(V2ServerTest, AMessageForAnIdleConnectionIsNotHeldForTheOutputBufferTimeout) {
  Gateway gw;
  auto sub = gw.Connect();
  ASSERT_THAT(sub->Identify("{\"feature_negotiation\":true,\"output_buffer_size\":65536,"
                            "\"output_buffer_timeout\":30000}"),
              HasSubstr("\"output_buffer_timeout\":30000"));
  ASSERT_TRUE(sub->Subscribe("t", "c", 100));
  auto pub = gw.Connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(pub->Pub("t", absl::StrCat("m", i)), "0 OK");
    ASSERT_EQ(ExpectMessage(*sub, absl::StrCat("m", i)), "ok") << i;
  }
}

TEST(V2ServerTest, MpubPublishesEveryPartInOrder) {
  Gateway gw;
  auto pub = gw.Connect();
  pub->Send(MpubCommand("t", {"a", "bb", "ccc"}));
  EXPECT_EQ(pub->ReadText(), "0 OK");
  auto sub = gw.Connect();
  ASSERT_TRUE(sub->Subscribe("t", "c", 10));
  EXPECT_EQ(ExpectMessage(*sub, "a"), "ok");
  EXPECT_EQ(ExpectMessage(*sub, "bb"), "ok");
  EXPECT_EQ(ExpectMessage(*sub, "ccc"), "ok");
}

TEST(V2ServerTest, MpubWithAnEmptyPartIsFatalAndPublishesNothing) {
  Gateway gw;
  auto pub = gw.Connect();
  pub->Send(MpubCommand("t", {"a", ""}));
  EXPECT_EQ(pub->ReadText(), "1 E_BAD_MESSAGE MPUB invalid message(1) body size 0");
  EXPECT_TRUE(pub->WaitClosed());
  // As nsqd: the topic exists (MPUB creates it before reading the messages), empty.
  ASSERT_TRUE(gw.engine().TopicExists("t"));
  EXPECT_EQ(gw.engine().GetStats(broker::StatsFilter{"t"}).value()[0].message_count, 0u);
}

TEST(V2ServerTest, MpubWithZeroMessagesIsFatal) {
  Gateway gw;
  auto pub = gw.Connect();
  std::string body("\0\0\0\0", 4);
  pub->Send(Command("MPUB t", body));
  EXPECT_EQ(pub->ReadText(), "1 E_BAD_BODY MPUB invalid message count 0");
}

TEST(V2ServerTest, MessagesOverMaxMsgSizeAreFatal) {
  GatewayConfig config;
  config.engine.max_msg_size = 10;
  Gateway gw(config);
  auto c = gw.Connect();
  c->Send(Command("PUB t", std::string(11, 'x')));
  EXPECT_EQ(c->ReadText(), "1 E_BAD_MESSAGE PUB message too big 11 > 10");
  EXPECT_TRUE(c->WaitClosed());
  auto m = gw.Connect();
  m->Send(MpubCommand("t", {"ok", std::string(11, 'x')}));
  EXPECT_EQ(m->ReadText(), "1 E_BAD_MESSAGE MPUB message too big 11 > 10");
  auto d = gw.Connect();
  d->Send(Command("DPUB t 0", std::string(11, 'x')));
  EXPECT_EQ(d->ReadText(), "1 E_BAD_MESSAGE DPUB message too big 11 > 10");
}

TEST(V2ServerTest, MpubBodyOverMaxBodySizeIsFatal) {
  GatewayConfig config;
  config.v2.max_body_size = 64;
  Gateway gw(config);
  auto c = gw.Connect();
  c->Send(MpubCommand("t", {std::string(30, 'a'), std::string(30, 'b')}));
  EXPECT_EQ(c->ReadText(), "1 E_BAD_BODY MPUB body too big 72 > 64");
}

TEST(V2ServerTest, PubToAnInvalidTopicQuotesTheNameLikeGo) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("PUB bad!topic", "x"));
  EXPECT_EQ(c->ReadText(), "1 E_BAD_TOPIC PUB topic name \"bad!topic\" is not valid");
  auto m = gw.Connect();
  m->Send(MpubCommand("a\tb", {"x"}));
  EXPECT_EQ(m->ReadText(), "1 E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"a\\tb\" is not valid");
}

TEST(V2ServerTest, PubWithoutTopicIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("PUB"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID PUB insufficient number of parameters");
}

TEST(V2ServerTest, UnknownCommandIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send("WHAT now\n");
  EXPECT_EQ(c->ReadText(), "1 E_INVALID invalid command WHAT");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, EmptyLineIsAnInvalidCommand) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send("\r\n");
  EXPECT_EQ(c->ReadText(), "1 E_INVALID invalid command ");
}

TEST(V2ServerTest, LineLongerThan16KiBClosesTheConnection) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(std::string(17 * 1024, 'A'));
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, NopAndPipelinedCommandsAreAnsweredInOrder) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("NOP") + Command("PUB t", "1") + Command("NOP") + Command("PUB t", "2"));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(c->ReadText(), "0 OK");
}

TEST(V2ServerTest, RdyBeforeSubIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("RDY 1"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot RDY in current state");
}

TEST(V2ServerTest, RdyAboveMaxRdyCountIsFatal) {
  GatewayConfig config;
  config.engine.max_rdy_count = 50;
  Gateway gw(config);
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 50));
  c->Send(Command("RDY 51"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "1 E_INVALID RDY count 51 out of range 0-50");
  EXPECT_TRUE(c->WaitClosed());
  auto d = gw.Connect();
  ASSERT_TRUE(d->Subscribe("t", "c", 0));
  d->Send(Command("RDY -1"));
  EXPECT_EQ(d->ReadTextSkippingHeartbeats(), "1 E_INVALID RDY could not parse count -1");
}

TEST(V2ServerTest, RdyIsAWindowOfMessagesInFlight) {
  Gateway gw;
  auto pub = gw.Connect();
  pub->Send(MpubCommand("t", {"1", "2", "3"}));
  ASSERT_EQ(pub->ReadText(), "0 OK");
  auto sub = gw.Connect();
  ASSERT_TRUE(sub->Subscribe("t", "c", 2));
  std::string id1;
  EXPECT_EQ(ExpectMessage(*sub, "1", 1, &id1), "ok");
  EXPECT_EQ(ExpectMessage(*sub, "2"), "ok");
  EXPECT_EQ(sub->ReadTextSkippingHeartbeats(absl::Milliseconds(300)), "timeout");
  sub->Send(Command("FIN " + id1));
  EXPECT_EQ(ExpectMessage(*sub, "3"), "ok");
}

TEST(V2ServerTest, FinOfAnIdNotInFlightIsNonFatal) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  c->Send(Command("FIN 0123456789abcdef"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(),
            "1 E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight");
  // Still connected and usable.
  EXPECT_EQ(c->Pub("t", "x"), "0 OK");
  EXPECT_EQ(ExpectMessage(*c, "x"), "ok");
}

TEST(V2ServerTest, FinWithAMalformedIdIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  c->Send(Command("FIN 123"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "1 E_INVALID invalid message ID");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, FinBeforeSubIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("FIN 0123456789abcdef"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot FIN in current state");
}

TEST(V2ServerTest, FinOfAnotherClientsMessageFails) {
  Gateway gw;
  auto a = gw.Connect();
  ASSERT_TRUE(a->Subscribe("t", "c", 1));
  auto b = gw.Connect();
  ASSERT_TRUE(b->Subscribe("t", "c", 0));
  EXPECT_EQ(a->Pub("t", "m"), "0 OK");
  std::string id;
  ASSERT_EQ(ExpectMessage(*a, "m", 1, &id), "ok");
  b->Send(Command("FIN " + id));
  EXPECT_EQ(b->ReadTextSkippingHeartbeats(),
            absl::StrCat("1 E_FIN_FAILED FIN ", id, " failed client does not own message"));
}

TEST(V2ServerTest, ReqRedeliversWithAttemptsIncremented) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  std::string id;
  ASSERT_EQ(ExpectMessage(*c, "m", 1, &id), "ok");
  c->Send(Command("REQ " + id + " 0"));
  EXPECT_EQ(ExpectMessage(*c, "m", 2), "ok");
}

TEST(V2ServerTest, ReqDelayOutOfRangeIsClampedToMaxReqTimeout) {
  GatewayConfig config;
  config.engine.max_req_timeout = absl::Seconds(10);
  Gateway gw(config);
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  std::string id;
  ASSERT_EQ(ExpectMessage(*c, "m", 1, &id), "ok");
  c->Send(Command("REQ " + id + " 99999999"));  // accepted, not refused
  c->Send(Command("NOP"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(200)), "timeout");
  EXPECT_EQ(gw.ChannelStats("t", "c").deferred_count, 1);
  gw.Advance(absl::Seconds(10));
  EXPECT_EQ(ExpectMessage(*c, "m", 2), "ok");
}

TEST(V2ServerTest, ReqWithAnUnparsableTimeoutIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  c->Send(Command("REQ 0123456789abcdef x1"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "1 E_INVALID REQ could not parse timeout x1");
}

TEST(V2ServerTest, ReqOfAnIdNotInFlightIsNonFatal) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  c->Send(Command("REQ 0123456789abcdef 0"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(),
            "1 E_REQ_FAILED REQ 0123456789abcdef failed ID not in flight");
  c->Send(Command("TOUCH 0123456789abcdef"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(),
            "1 E_TOUCH_FAILED TOUCH 0123456789abcdef failed ID not in flight");
}

TEST(V2ServerTest, DpubDeliversAfterTheDelay) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  c->Send(Command("DPUB t 5000", "later"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "0 OK");
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(200)), "timeout");
  EXPECT_EQ(gw.ChannelStats("t", "c").deferred_count, 1);
  gw.Advance(absl::Seconds(5));
  EXPECT_EQ(ExpectMessage(*c, "later"), "ok");
}

TEST(V2ServerTest, DpubOutsideZeroToMaxReqTimeoutIsFatal) {
  GatewayConfig config;
  config.engine.max_req_timeout = absl::Seconds(10);
  Gateway gw(config);
  auto c = gw.Connect();
  c->Send(Command("DPUB t 10001", "x"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID DPUB timeout 10001 out of range 0-10000");
  auto d = gw.Connect();
  d->Send(Command("DPUB t abc", "x"));
  EXPECT_EQ(d->ReadText(), "1 E_INVALID DPUB could not parse timeout abc");
  auto e = gw.Connect();
  e->Send(Command("DPUB t 10000", "x"));  // inclusive bound
  EXPECT_EQ(e->ReadText(), "0 OK");
}

TEST(V2ServerTest, MessageNotFinishedInTimeIsRedeliveredWithAttempts2) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 2, "{\"msg_timeout\":1000}"));
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  ASSERT_EQ(ExpectMessage(*c, "m", 1), "ok");
  gw.Advance(absl::Milliseconds(1001));
  EXPECT_EQ(ExpectMessage(*c, "m", 2), "ok");
  EXPECT_EQ(gw.ChannelStats("t", "c").timeout_count, 1u);
}

TEST(V2ServerTest, TouchRestartsTheInFlightTimeout) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1, "{\"msg_timeout\":2000}"));
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  std::string id;
  ASSERT_EQ(ExpectMessage(*c, "m", 1, &id), "ok");
  gw.Advance(absl::Milliseconds(1500));
  c->Send(Command("TOUCH " + id));
  c->Send(Command("PUB other", "sync"));  // a reply tells us the TOUCH was handled
  ASSERT_EQ(c->ReadTextSkippingHeartbeats(), "0 OK");
  gw.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(gw.ChannelStats("t", "c").timeout_count, 0u);
  c->Send(Command("FIN " + id));
  c->Send(Command("PUB other", "sync"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "0 OK");  // no E_FIN_FAILED before it
}

TEST(V2ServerTest, ClsRepliesCloseWaitAndStopsDelivery) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 5));
  c->Send(Command("CLS"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "0 CLOSE_WAIT");
  auto pub = gw.Connect();
  EXPECT_EQ(pub->Pub("t", "m"), "0 OK");
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(300)), "timeout");
  // RDY is ignored while closing; a second CLS is not allowed.
  c->Send(Command("RDY 5"));
  c->Send(Command("CLS"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "1 E_INVALID cannot CLS in current state");
}

TEST(V2ServerTest, ClsBeforeSubIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("CLS"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot CLS in current state");
}

TEST(V2ServerTest, SecondSubIsRefused) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 0));
  c->Send(Command("SUB t d"));
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "1 E_INVALID cannot SUB in current state");
}

TEST(V2ServerTest, SubToInvalidNamesIsFatal) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("SUB t bad/channel"));
  EXPECT_EQ(c->ReadText(), "1 E_BAD_CHANNEL SUB channel name \"bad/channel\" is not valid");
  auto d = gw.Connect();
  d->Send(Command("SUB t"));
  EXPECT_EQ(d->ReadText(), "1 E_INVALID SUB insufficient number of parameters");
}

TEST(V2ServerTest, SubIsRefusedWithHeartbeatsDisabled) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_EQ(c->Identify("{\"heartbeat_interval\":-1}"), "0 OK");
  c->Send(Command("SUB t c"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot SUB with heartbeats disabled");
}

TEST(V2ServerTest, SubBeyondMaxChannelConsumersFails) {
  GatewayConfig config;
  config.engine.max_channel_consumers = 1;
  Gateway gw(config);
  auto a = gw.Connect();
  ASSERT_TRUE(a->Subscribe("t", "c", 0));
  auto b = gw.Connect();
  EXPECT_EQ(b->Identify(kNegotiate).substr(0, 2), "0 ");
  b->Send(Command("SUB t c"));
  EXPECT_EQ(b->ReadText(), "1 E_SUB_FAILED SUB failed consumers for t:c exceeds limit of 1");
}

TEST(V2ServerTest, HeartbeatIsSentEveryInterval) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_THAT(c->Identify("{\"feature_negotiation\":true,\"heartbeat_interval\":1000}"),
              StartsWith("0 {"));
  const absl::Time start = absl::Now();
  EXPECT_EQ(c->ReadText(absl::Seconds(3)), "0 _heartbeat_");
  c->Send(Command("NOP"));
  EXPECT_EQ(c->ReadText(absl::Seconds(3)), "0 _heartbeat_");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1900));
}

TEST(V2ServerTest, ClientSilentForTwoHeartbeatsIsClosed) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_THAT(c->Identify("{\"feature_negotiation\":true,\"heartbeat_interval\":1000}"),
              StartsWith("0 {"));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(c->WaitClosed(absl::Seconds(5)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1900));
}

TEST(V2ServerTest, ClientAnsweringHeartbeatsStaysConnected) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_THAT(c->Identify("{\"feature_negotiation\":true,\"heartbeat_interval\":1000}"),
              StartsWith("0 {"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c->ReadText(absl::Seconds(3)), "0 _heartbeat_");
    c->Send(Command("NOP"));
  }
  EXPECT_EQ(c->Pub("t", "still here"), "0 OK");
}

TEST(V2ServerTest, PausedChannelHoldsMessagesUntilUnpaused) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 10));
  ASSERT_EQ(gw.Http("POST", "/channel/pause?topic=t&channel=c")->status, 200);
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(300)), "timeout");
  ASSERT_EQ(gw.Http("POST", "/channel/unpause?topic=t&channel=c")->status, 200);
  EXPECT_EQ(ExpectMessage(*c, "m"), "ok");
}

TEST(V2ServerTest, PausedTopicHoldsMessagesUntilUnpaused) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 10));
  ASSERT_EQ(gw.Http("POST", "/topic/pause?topic=t")->status, 200);
  EXPECT_EQ(c->Pub("t", "m"), "0 OK");
  EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(300)), "timeout");
  ASSERT_EQ(gw.Http("POST", "/topic/unpause?topic=t")->status, 200);
  EXPECT_EQ(ExpectMessage(*c, "m"), "ok");
}

TEST(V2ServerTest, SampleRateDeliversAboutThatShareOfMessages) {
  Gateway gw;
  std::vector<std::string> bodies(1000, "m");
  auto pub = gw.Connect();
  pub->Send(MpubCommand("t", bodies));
  ASSERT_EQ(pub->ReadText(), "0 OK");
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 2500, "{\"feature_negotiation\":true,\"sample_rate\":9}"));
  int got = 0;
  while (c->Read(absl::Milliseconds(500)).has_value()) ++got;
  EXPECT_GT(got, 40);
  EXPECT_LT(got, 200);
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 0);  // the others were consumed
}

TEST(V2ServerTest, ChannelDeletionClosesItsConsumers) {
  Gateway gw;
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 1));
  ASSERT_EQ(gw.Http("POST", "/channel/delete?topic=t&channel=c")->status, 200);
  EXPECT_TRUE(c->WaitClosed());
}

TEST(V2ServerTest, DisconnectedConsumersMessagesGoToAnother) {
  Gateway gw;
  auto a = gw.Connect();
  ASSERT_TRUE(a->Subscribe("t", "c", 1));
  auto b = gw.Connect();
  ASSERT_TRUE(b->Subscribe("t", "c", 0));
  EXPECT_EQ(a->Pub("t", "m"), "0 OK");
  ASSERT_EQ(ExpectMessage(*a, "m"), "ok");
  a.reset();
  b->Send(Command("RDY 1"));
  EXPECT_EQ(ExpectMessage(*b, "m", 2), "ok");
}

TEST(V2ServerTest, ManyMessagesArriveInFewWrites) {
  Gateway gw;
  std::vector<std::string> bodies(5000, std::string(100, 'x'));
  auto pub = gw.Connect();
  pub->Send(MpubCommand("t", bodies));
  ASSERT_EQ(pub->ReadText(), "0 OK");
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("t", "c", 2500));
  int got = 0;
  std::vector<std::string> ids;
  while (got < 5000) {
    std::optional<testing::Frame> f = c->Read();
    ASSERT_TRUE(f.has_value()) << got;
    auto m = ParseMessage(*f);
    if (!m) continue;
    ++got;
    ids.push_back(m->id);
    if (ids.size() == 500) {
      std::string fins;
      for (const auto& id : ids) fins += Command("FIN " + id);
      c->Send(fins);
      ids.clear();
    }
  }
  EXPECT_EQ(got, 5000);
}

// --- TLS, snappy, deflate ---

GatewayConfig TlsConfig() {
  GatewayConfig config;
  config.v2.tls.cert_file = TestdataPath("server.pem");
  config.v2.tls.key_file = TestdataPath("server.key");
  return config;
}

TEST(V2ServerTest, TlsUpgradeRepliesOkOverTlsAndCarriesCommands) {
  Gateway gw(TlsConfig());
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"tls_v1\":true}"),
              HasSubstr("\"tls_v1\":true"));
  ASSERT_TRUE(c->StartTls(TestdataPath("ca.pem")));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(c->Pub("t", "secret"), "0 OK");
  c->Send(Command("SUB t c") + Command("RDY 1"));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(ExpectMessage(*c, "secret"), "ok");
  std::vector<V2ClientInfo> clients = gw.v2().Clients();
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_TRUE(clients[0].tls);
  EXPECT_THAT(clients[0].tls_version, StartsWith("TLS1."));
}

TEST(V2ServerTest, TlsNotOfferedWhenTheServerHasNoCertificate) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"tls_v1\":true}"),
              HasSubstr("\"tls_v1\":false"));
  EXPECT_EQ(c->Pub("t", "plain"), "0 OK");
}

TEST(V2ServerTest, TlsRequiredRefusesCommandsBeforeTheUpgrade) {
  GatewayConfig config = TlsConfig();
  config.v2.tls.required = TlsRequired::kYes;
  Gateway gw(config);
  auto c = gw.Connect();
  c->Send(Command("PUB t", "x"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID cannot PUB in current state (TLS required)");
  EXPECT_TRUE(c->WaitClosed());
  auto d = gw.Connect();
  EXPECT_THAT(d->Identify("{\"feature_negotiation\":true,\"tls_v1\":true}"), HasSubstr("\"tls_v1\":true"));
  ASSERT_TRUE(d->StartTls(TestdataPath("ca.pem")));
  EXPECT_EQ(d->ReadText(), "0 OK");
  EXPECT_EQ(d->Pub("t", "x"), "0 OK");
}

TEST(V2ServerTest, TlsRequireVerifyAcceptsOnlyCertificatesFromTheRootCa) {
  GatewayConfig config = TlsConfig();
  config.v2.tls.client_auth_policy = "require-verify";
  config.v2.tls.root_ca_file = TestdataPath("ca.pem");
  config.v2.tls.required = TlsRequired::kYes;
  Gateway gw(config);
  auto good = gw.Connect();
  ASSERT_THAT(good->Identify("{\"feature_negotiation\":true,\"tls_v1\":true}"), HasSubstr("\"tls_v1\":true"));
  ASSERT_TRUE(good->StartTls(TestdataPath("ca.pem"), TestdataPath("client.pem"), TestdataPath("client.key")));
  EXPECT_EQ(good->ReadText(), "0 OK");
  EXPECT_EQ(good->Pub("t", "x"), "0 OK");
  auto bad = gw.Connect();
  ASSERT_THAT(bad->Identify("{\"feature_negotiation\":true,\"tls_v1\":true}"), HasSubstr("\"tls_v1\":true"));
  bad->StartTls(TestdataPath("ca.pem"));  // no client certificate
  EXPECT_NE(bad->ReadText(), "0 OK");
}

TEST(V2ServerTest, SnappyStreamCarriesCommandsAndMessages) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"snappy\":true}"),
              HasSubstr("\"snappy\":true"));
  c->StartCodec(NewSnappyCodec());
  EXPECT_EQ(c->ReadText(), "0 OK");
  const std::string big(100000, 'z');
  EXPECT_EQ(c->Pub("t", big), "0 OK");
  c->Send(Command("SUB t c") + Command("RDY 1"));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(ExpectMessage(*c, big), "ok");
  EXPECT_TRUE(gw.v2().Clients()[0].snappy);
}

TEST(V2ServerTest, DeflateStreamCarriesCommandsAndMessages) {
  Gateway gw;
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"deflate\":true,\"deflate_level\":9}"),
              HasSubstr("\"deflate\":true,\"deflate_level\":6,\"max_deflate_level\":6"));
  c->StartCodec(NewDeflateCodec(6));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(c->Pub("t", "deflated"), "0 OK");
  c->Send(Command("SUB t c") + Command("RDY 1"));
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(ExpectMessage(*c, "deflated"), "ok");
}

TEST(V2ServerTest, CompressionIsNotNegotiatedWhenDisabled) {
  GatewayConfig config;
  config.v2.snappy = false;
  config.v2.deflate = false;
  Gateway gw(config);
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"snappy\":true}"), HasSubstr("\"snappy\":false"));
  EXPECT_EQ(c->Pub("t", "plain"), "0 OK");
}

TEST(V2ServerTest, TlsThenSnappyLayersCompressionOverTls) {
  Gateway gw(TlsConfig());
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true,\"tls_v1\":true,\"snappy\":true}"),
              HasSubstr("\"tls_v1\":true"));
  ASSERT_TRUE(c->StartTls(TestdataPath("ca.pem")));
  EXPECT_EQ(c->ReadText(), "0 OK");
  c->StartCodec(NewSnappyCodec());
  EXPECT_EQ(c->ReadText(), "0 OK");
  EXPECT_EQ(c->Pub("t", "both"), "0 OK");
}

// ---- a client that does not read what it is sent ----------------------------------

// A raw loopback socket with a tiny receive buffer, so that what the broker writes piles
// up on the broker's side instead of in the kernel.
int SmallWindowSocket(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint64_t Published(Gateway& gw, const std::string& topic) {
  if (!gw.engine().TopicExists(topic)) return 0;
  auto stats = gw.engine().GetStats(broker::StatsFilter{topic});
  return stats.ok() && !stats->empty() ? (*stats)[0].message_count : 0;
}

// Waits (bounded) until the topic's message count holds still for 300 ms.
uint64_t SettledCount(Gateway& gw, const std::string& topic) {
  uint64_t last = Published(gw, topic);
  for (int i = 0; i < 100; ++i) {
    absl::SleepFor(absl::Milliseconds(300));
    const uint64_t now = Published(gw, topic);
    if (now == last) return now;
    last = now;
  }
  return last;
}

GatewayConfig SmallOutputBound() {
  GatewayConfig config;
  config.v2.max_pending_output_bytes = 64 * 1024;
  config.v2.socket_send_buffer_bytes = 8 * 1024;
  return config;
}

TEST(V2ServerTest, AClientThatDoesNotReadIsNotReadEitherPastThePendingOutputBound) {
  GatewayConfig config = SmallOutputBound();
  Gateway gw(config);
  const int fd = SmallWindowSocket(gw.tcp_port());
  ASSERT_GE(fd, 0);
  // 40,000 PUBs: 400 KB of OK responses that this client does not read for now.
  constexpr int kPubs = 40000;
  std::string wire = "  V2";
  for (int i = 0; i < kPubs; ++i) wire += Command("PUB slow", "x");
  std::atomic<size_t> sent{0};
  std::thread writer([&] {
    while (sent < wire.size()) {
      const ssize_t n = send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the broker stopped reading: our send buffer is full
      sent += static_cast<size_t>(n);
    }
  });
  const uint64_t while_not_reading = SettledCount(gw, "slow");
  EXPECT_LT(while_not_reading, static_cast<uint64_t>(kPubs))
      << "the broker went on reading commands whose responses nobody read";
  // Reading again lets everything through.
  std::string in;
  char buf[65536];
  size_t oks = 0;
  for (int i = 0; i < 10000 && oks < static_cast<size_t>(kPubs); ++i) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    size_t pos = 0;
    while (in.size() - pos >= 8) {
      uint32_t size_be;
      std::memcpy(&size_be, in.data() + pos, 4);
      const uint32_t size = ntohl(size_be);
      if (in.size() - pos < 4 + size) break;
      if (std::string_view(in.data() + pos + 8, size - 4) == "OK") ++oks;
      pos += 4 + size;
    }
    in.erase(0, pos);
  }
  writer.join();
  EXPECT_EQ(oks, static_cast<size_t>(kPubs));
  EXPECT_EQ(Published(gw, "slow"), static_cast<uint64_t>(kPubs));
  close(fd);
}

TEST(V2ServerTest, AWriteThatMakesNoProgressClosesTheConnectionWhateverTheHeartbeats) {
  GatewayConfig config = SmallOutputBound();
  config.v2.write_timeout = absl::Milliseconds(500);
  Gateway gw(config);
  const int fd = SmallWindowSocket(gw.tcp_port());
  ASSERT_GE(fd, 0);
  std::string wire = "  V2";
  wire += Command("IDENTIFY", "{\"heartbeat_interval\":-1}");
  for (int i = 0; i < 40000; ++i) wire += Command("PUB stuck", "x");
  std::thread writer([&] {
    size_t sent = 0;
    while (sent < wire.size()) {
      const ssize_t n = send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  });
  writer.join();  // until the broker stops reading (send times out) or closes
  // Nothing is read here: the broker's write makes no progress and times out.
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    auto stats = gw.Http("GET", "/stats?format=json");
    ASSERT_TRUE(stats.ok());
    closed = stats->body.find("\"producers\":null") != std::string::npos;
    if (!closed) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(closed) << "the stuck connection is still open";
  close(fd);
}

// ---- PUB under --sync-every=1: answered once durable, without blocking the thread ----

GatewayConfig OneIoThread() {
  GatewayConfig config;
  config.v2_threads = 1;
  return config;
}

TEST(V2ServerTest, APubWaitingForDurabilityDoesNotStallAnotherConnectionOnTheSameThread) {
  Gateway gw(OneIoThread());
  gw.storage().Hold(true);
  auto publisher = gw.Connect();
  ASSERT_TRUE(publisher->Send(Command("PUB held", "x")));
  ASSERT_TRUE(gw.storage().AwaitWaiting(1));
  // The same (only) I/O thread must go on serving other connections.
  auto other = gw.Connect();
  ASSERT_TRUE(other->Send(Command("IDENTIFY", "{}")));
  EXPECT_EQ(other->ReadText(), "0 OK");
  ASSERT_TRUE(other->Send(Command("PUB other", "y")));
  ASSERT_TRUE(gw.storage().AwaitWaiting(2));
  EXPECT_EQ(publisher->ReadText(absl::Milliseconds(200)), "timeout") << "answered before durable";
  EXPECT_EQ(gw.storage().Release(), 2u);
  EXPECT_EQ(publisher->ReadText(), "0 OK");
  EXPECT_EQ(other->ReadText(), "0 OK");
}

TEST(V2ServerTest, PipelinedPubsAreAnsweredInCommandOrderEachOnceDurable) {
  Gateway gw(OneIoThread());
  auto c = gw.Connect();
  ASSERT_TRUE(c->Subscribe("elsewhere", "ch", 1));
  gw.storage().Hold(true);
  // A non-fatal error between the publishes shows where each answer belongs.
  ASSERT_TRUE(c->Send(absl::StrCat(Command("PUB p", "a"), MpubCommand("p", {"b", "c"}),
                                   Command("FIN 0123456789abcdef"), Command("DPUB p 10", "d"))));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(gw.storage().AwaitWaiting(1)) << "publish " << i;
    EXPECT_EQ(gw.storage().Waiting(), 1u) << "one publish waits at a time";
    EXPECT_EQ(c->ReadTextSkippingHeartbeats(absl::Milliseconds(100)), "timeout")
        << "an answer overtook publish " << i;
    EXPECT_EQ(gw.storage().Release(), 1u);
    EXPECT_EQ(c->ReadTextSkippingHeartbeats(), "0 OK") << "publish " << i;
    if (i == 1) {
      EXPECT_THAT(c->ReadTextSkippingHeartbeats(), StartsWith("1 E_FIN_FAILED"));
    }
  }
  auto stats = gw.engine().GetStats(broker::StatsFilter{"p"});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[0].message_count, 4u);
}

TEST(V2ServerTest, APublishWhoseDurabilityFailsGetsItsFailedErrorAndIsClosed) {
  Gateway gw;
  gw.storage().Hold(true);
  auto c = gw.Connect();
  ASSERT_TRUE(c->Send(MpubCommand("t", {"a", "b"})));
  ASSERT_TRUE(gw.storage().AwaitWaiting(1));
  gw.storage().Release(absl::UnavailableError("fsync failed"));
  EXPECT_EQ(c->ReadText(), "1 E_MPUB_FAILED MPUB failed fsync failed");
  EXPECT_TRUE(c->WaitClosed());
}

}  // namespace
}  // namespace nsq::legacy
