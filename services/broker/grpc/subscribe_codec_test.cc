#include "services/broker/grpc/subscribe_codec.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nsq/v1/broker.pb.h"

namespace nsq::broker::subscribe_codec {
namespace {

using ::testing::ElementsAre;

Delivery MakeDelivery(const std::string& id, int64_t ts, uint16_t attempts, std::string body) {
  auto message = std::make_shared<Message>();
  EXPECT_TRUE(MessageId::FromBytes(id, &message->id));
  message->timestamp_ns = ts;
  message->body = std::move(body);
  return Delivery{std::move(message), attempts};
}

std::string Encode(const std::vector<Delivery>& deliveries) {
  std::string out(EncodedMessagesSize(deliveries), '\0');
  char* end = EncodeMessages(deliveries, out.data());
  EXPECT_EQ(end, out.data() + out.size());
  return out;
}

// What the generated code writes for the same messages.
std::string Reference(const std::vector<Delivery>& deliveries) {
  nsq::v1::SubscribeResponse response;
  for (const Delivery& d : deliveries) {
    nsq::v1::Message* m = response.add_messages();
    m->set_id(d.message->id.ToString());
    m->set_timestamp_ns(d.message->timestamp_ns);
    m->set_attempts(d.attempts);
    m->set_body(d.message->body);
    if (const MessageOrigin* o = d.message->origin.get()) {
      m->mutable_origin()->set_topic(o->topic);
      m->mutable_origin()->set_channel(o->channel);
      m->mutable_origin()->set_id(o->id.ToString());
      m->mutable_origin()->set_attempts(o->attempts);
      m->mutable_origin()->set_reason(static_cast<nsq::v1::Origin::Reason>(o->reason));
    }
  }
  return response.SerializeAsString();
}

TEST(SubscribeCodecTest, EncodesMessagesExactlyAsProtobufDoes) {
  std::vector<Delivery> deliveries = {
      MakeDelivery("0123456789abcdef", 1700000000123456789, 1, "hello"),
      MakeDelivery("0123456789abcdeg", 0, 0, ""),
      MakeDelivery("0123456789abcdeh", -5, 65535, std::string(300, 'x')),
      MakeDelivery("0123456789abcdei", 1, 2, std::string(1 << 20, 'y')),
      MakeDelivery(std::string("\xff\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e", 16),
                   127, 128, std::string(127, 'z')),
  };
  EXPECT_EQ(Encode(deliveries), Reference(deliveries));
}

TEST(SubscribeCodecTest, EncodesADeadLetterCopysOriginExactlyAsProtobufDoes) {
  Delivery plain = MakeDelivery("0123456789abcdef", 5, 1, "body");
  auto m = std::make_shared<Message>(*plain.message);
  auto origin = std::make_shared<MessageOrigin>();
  origin->topic = "orders";
  origin->channel = std::string(200, 'c');
  ASSERT_TRUE(MessageId::FromBytes("fedcba9876543210", &origin->id));
  origin->attempts = 300;
  origin->reason = MessageOrigin::Reason::kExpired;
  m->origin = origin;
  std::vector<Delivery> deliveries = {Delivery{m, 2}, plain};
  EXPECT_EQ(Encode(deliveries), Reference(deliveries));
}

TEST(SubscribeCodecTest, EncodedMessagesParseBack) {
  std::vector<Delivery> deliveries = {
      MakeDelivery("0123456789abcdef", 42, 3, "body-a"),
      MakeDelivery("fedcba9876543210", 43, 1, "body-b"),
  };
  nsq::v1::SubscribeResponse header;
  header.set_subscribed(true);
  // A header serialized in front of the messages is the same message (fields merge).
  std::string bytes = header.SerializeAsString() + Encode(deliveries);
  nsq::v1::SubscribeResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(parsed.subscribed());
  ASSERT_EQ(parsed.messages_size(), 2);
  EXPECT_EQ(parsed.messages(1).id(), "fedcba9876543210");
  EXPECT_EQ(parsed.messages(1).timestamp_ns(), 43);
  EXPECT_EQ(parsed.messages(1).attempts(), 1u);
  EXPECT_EQ(parsed.messages(1).body(), "body-b");
}

TEST(SubscribeCodecTest, EncodesNothingForNoDeliveries) {
  EXPECT_EQ(EncodedMessagesSize({}), 0u);
  EXPECT_EQ(Encode({}), "");
}

std::string FinishRequest(const std::vector<std::string>& ids) {
  nsq::v1::SubscribeRequest request;
  auto* finish = request.mutable_finish();
  for (const auto& id : ids) finish->add_ids(id);
  return request.SerializeAsString();
}

std::vector<std::string> Strings(const std::vector<absl::string_view>& views) {
  return std::vector<std::string>(views.begin(), views.end());
}

TEST(SubscribeCodecTest, DecodesAFinishCommand) {
  const std::string input = FinishRequest({"0123456789abcdef", "", std::string(200, 'q')});
  std::vector<absl::string_view> ids;
  ASSERT_TRUE(DecodeFinishOnly(input, &ids));
  EXPECT_THAT(Strings(ids), ElementsAre("0123456789abcdef", "", std::string(200, 'q')));
}

TEST(SubscribeCodecTest, DecodesAnEmptyFinishCommand) {
  std::vector<absl::string_view> ids = {"stale"};
  ASSERT_TRUE(DecodeFinishOnly(FinishRequest({}), &ids));
  EXPECT_TRUE(ids.empty());
}

TEST(SubscribeCodecTest, LeavesOtherCommandsToProtobuf) {
  std::vector<absl::string_view> ids;
  nsq::v1::SubscribeRequest ready;
  ready.mutable_ready()->set_count(5);
  EXPECT_FALSE(DecodeFinishOnly(ready.SerializeAsString(), &ids));
  nsq::v1::SubscribeRequest touch;
  touch.mutable_touch()->add_ids("0123456789abcdef");
  EXPECT_FALSE(DecodeFinishOnly(touch.SerializeAsString(), &ids));
  EXPECT_FALSE(DecodeFinishOnly("", &ids));
  // A finish followed by another field, or two finish fields (protobuf merges them).
  EXPECT_FALSE(DecodeFinishOnly(FinishRequest({"a"}) + ready.SerializeAsString(), &ids));
  EXPECT_FALSE(DecodeFinishOnly(FinishRequest({"a"}) + FinishRequest({"b"}), &ids));
}

TEST(SubscribeCodecTest, RejectsEveryTruncation) {
  const std::string full = FinishRequest({"0123456789abcdef", "fedcba9876543210"});
  std::vector<absl::string_view> ids;
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(DecodeFinishOnly(absl::string_view(full.data(), n), &ids)) << n;
  }
}

// Whatever the fast path accepts, protobuf reads as the same finish command.
TEST(SubscribeCodecTest, AgreesWithProtobufOnMutatedInput) {
  std::mt19937 rng(12345);
  const std::vector<std::string> seeds = {
      FinishRequest({"0123456789abcdef", "fedcba9876543210", "x"}),
      FinishRequest({}),
      FinishRequest({std::string(130, 'a')}),
  };
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string input = seeds[i % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      const size_t at = rng() % input.size();
      switch (rng() % 3) {
        case 0:
          input[at] = static_cast<char>(rng());
          break;
        case 1:
          input.erase(at, 1);
          break;
        default:
          input.insert(at, 1, static_cast<char>(rng()));
          break;
      }
    }
    std::vector<absl::string_view> ids;
    if (!DecodeFinishOnly(input, &ids)) continue;
    ++accepted;
    nsq::v1::SubscribeRequest parsed;
    ASSERT_TRUE(parsed.ParseFromString(input)) << absl::CHexEscape(input);
    ASSERT_TRUE(parsed.has_finish());
    ASSERT_EQ(Strings(ids), std::vector<std::string>(parsed.finish().ids().begin(),
                                                     parsed.finish().ids().end()));
  }
  EXPECT_GT(accepted, 100);
}

}  // namespace
}  // namespace nsq::broker::subscribe_codec
