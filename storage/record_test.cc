#include "storage/record.h"

#include <string>

#include "gtest/gtest.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using storage_testing::Msg;
using broker::QueuedMessage;

TEST(RecordTest, RoundTripsEveryField) {
  QueuedMessage in = Msg("hello body", 7, 99);
  std::string rec;
  EncodeRecord(in, &rec);
  QueuedMessage out;
  ASSERT_TRUE(DecodeRecord(rec, &out));
  EXPECT_EQ(out.message->body, "hello body");
  EXPECT_EQ(out.message->id, in.message->id);
  EXPECT_EQ(out.message->timestamp_ns, 1234);
  EXPECT_EQ(out.attempts, 7);
  EXPECT_EQ(out.deliver_at_ns, 99);
}

TEST(RecordTest, AnyFlippedByteIsRejected) {
  std::string rec;
  EncodeRecord(Msg("payload"), &rec);
  for (size_t i = 0; i < rec.size(); ++i) {
    std::string bad = rec;
    bad[i] ^= 0x01;
    QueuedMessage out;
    EXPECT_FALSE(DecodeRecord(bad, &out)) << "byte " << i;
  }
  QueuedMessage out;
  EXPECT_FALSE(DecodeRecord(rec.substr(0, 10), &out));
}

TEST(RecordTest, ADeadLetterCopyKeepsItsOrigin) {
  QueuedMessage in = Msg("poison", 0, 0);
  auto m = std::make_shared<broker::Message>(*in.message);
  auto origin = std::make_shared<broker::MessageOrigin>();
  origin->topic = "orders";
  origin->channel = "billing";
  origin->attempts = 5;
  origin->reason = broker::MessageOrigin::Reason::kExpired;
  broker::MessageId::FromBytes("0123456789abcdef", &origin->id);
  m->origin = origin;
  in.message = m;
  std::string rec;
  EncodeRecord(in, &rec);
  QueuedMessage out;
  ASSERT_TRUE(DecodeRecord(rec, &out));
  EXPECT_EQ(out.message->body, "poison");
  ASSERT_NE(out.message->origin, nullptr);
  EXPECT_EQ(out.message->origin->topic, "orders");
  EXPECT_EQ(out.message->origin->channel, "billing");
  EXPECT_EQ(out.message->origin->attempts, 5);
  EXPECT_EQ(out.message->origin->reason, broker::MessageOrigin::Reason::kExpired);
  EXPECT_EQ(out.message->origin->id.ToString(), "0123456789abcdef");
  for (size_t i = 0; i < rec.size(); ++i) {  // damage anywhere is caught
    std::string bad = rec;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DecodeRecord(bad, &out)) << "byte " << i;
  }
}

}  // namespace
}  // namespace nsq::storage
