// Beyond NSQ over protocol V2 (real sockets): the opt-in "NSQ-Origin:" line of a
// dead-letter copy, and publishes refused by a channel's max_depth.

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using testing::Command;
using testing::Gateway;
using testing::MpubCommand;
using testing::ParseMessage;
using testing::V2Client;

// IDENTIFY (reply checked by the caller), SUB, RDY.
std::string IdentifyAndSubscribe(V2Client& c, const std::string& identify, const std::string& topic,
                                 const std::string& channel, int rdy) {
  const std::string reply = c.Identify(identify);
  c.Send(Command(absl::StrCat("SUB ", topic, " ", channel)));
  if (c.ReadTextSkippingHeartbeats() != "0 OK") return "SUB failed";
  c.Send(Command(absl::StrCat("RDY ", rdy)));
  return reply;
}

std::optional<testing::Message> NextMessage(V2Client& c) {
  for (int i = 0; i < 5; ++i) {  // heartbeats may come first
    std::optional<testing::Frame> f = c.Read();
    if (!f) return std::nullopt;
    if (std::optional<testing::Message> m = ParseMessage(*f)) return m;
  }
  return std::nullopt;
}

TEST(V2PolicyTest, DeadLetterOriginLineOnlyForClientsThatAskForIt) {
  Gateway gw;
  broker::QueuePolicy p;
  p.max_attempts = 1;
  p.dead_letter_topic = "dead";
  ASSERT_TRUE(gw.engine().SetChannelPolicy("t", "c", p).ok());
  ASSERT_TRUE(gw.engine().CreateChannel("dead", "plain").ok());
  ASSERT_TRUE(gw.engine().CreateChannel("dead", "origin").ok());
  auto pub = gw.Connect();
  ASSERT_EQ(pub->Pub("t", "poison"), "0 OK");

  // A client that asks: a message without an origin still comes unchanged.
  auto asker = gw.Connect();
  const std::string reply = IdentifyAndSubscribe(
      *asker, "{\"feature_negotiation\":true,\"dead_letter_origin\":true}", "t", "c", 1);
  EXPECT_TRUE(absl::EndsWith(reply, ",\"dead_letter_origin\":true}")) << reply;
  std::optional<testing::Message> first = NextMessage(*asker);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "poison");
  ASSERT_TRUE(asker->Send(Command(absl::StrCat("REQ ", first->id, " 0"))));
  for (int i = 0; i < 500 && gw.ChannelStats("dead", "plain").depth == 0; ++i) {
    gw.Advance(absl::Milliseconds(10));
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(gw.ChannelStats("dead", "plain").depth, 1);

  // A stock client (no key): nsqd's 15-field reply and the body unchanged.
  auto stock = gw.Connect();
  const std::string stock_reply = IdentifyAndSubscribe(*stock, "{\"feature_negotiation\":true}", "dead", "plain", 1);
  EXPECT_EQ(stock_reply.find("dead_letter_origin"), std::string::npos) << stock_reply;
  std::optional<testing::Message> plain = NextMessage(*stock);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->body, "poison");
  EXPECT_EQ(plain->attempts, 1);

  // The asker on the dead-letter topic: one header line, then the body.
  auto reader = gw.Connect();
  IdentifyAndSubscribe(*reader, "{\"dead_letter_origin\":true}", "dead", "origin", 1);
  std::optional<testing::Message> copy = NextMessage(*reader);
  ASSERT_TRUE(copy.has_value());
  EXPECT_EQ(copy->id, plain->id);
  EXPECT_EQ(copy->body, absl::StrCat("NSQ-Origin: {\"topic\":\"t\",\"channel\":\"c\",\"id\":\"", first->id,
                                     "\",\"attempts\":1,\"reason\":\"max_attempts\"}\npoison"));
}

TEST(V2PolicyTest, PublishPastMaxDepthIsFatalEPubFailed) {
  Gateway gw;
  broker::QueuePolicy p;
  p.max_depth = 1;
  ASSERT_TRUE(gw.engine().SetChannelPolicy("t", "c", p).ok());
  auto c = gw.Connect();
  ASSERT_EQ(c->Pub("t", "a"), "0 OK");
  const std::string refused = c->Pub("t", "b");
  EXPECT_TRUE(absl::StartsWith(refused, "1 E_PUB_FAILED PUB failed channel t:c is full")) << refused;
  EXPECT_TRUE(c->WaitClosed());
  auto m = gw.Connect();
  ASSERT_TRUE(m->Send(MpubCommand("t", {"x", "y"})));
  const std::string mrefused = m->ReadTextSkippingHeartbeats();
  EXPECT_TRUE(absl::StartsWith(mrefused, "1 E_MPUB_FAILED MPUB failed channel t:c is full")) << mrefused;
  EXPECT_TRUE(m->WaitClosed());
  EXPECT_EQ(gw.ChannelStats("t", "c").depth, 1);
  EXPECT_EQ(gw.ChannelStats("t", "c").depth_rejected_count, 3u);
}

}  // namespace
}  // namespace nsq::legacy
