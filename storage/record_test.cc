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

}  // namespace
}  // namespace nsq::storage
