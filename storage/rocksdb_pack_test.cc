// Packs (record.h): a non-durable queue writes each batch of messages as values of up to
// kPackMaxRecords records under one key. These tests look at the keys themselves (the
// database opened directly while the storage is closed) and at every operation that
// meets a pack part way: pops, peeks, restarts, prepends, damage, and a durable queue
// adopting a packed one.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/record.h"
#include "storage/rocksdb_queue.h"
#include "storage/rocksdb_storage.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using broker::QueuedMessage;
using storage_testing::Msg;
using storage_testing::Msgs;
using storage_testing::NewDataPath;
using storage_testing::OpenAt;
using storage_testing::PopBodies;
using storage_testing::RawMessages;
using ::testing::ElementsAre;
using ::testing::SizeIs;

std::vector<QueuedMessage> Sized(int from, int to, size_t size) {
  std::vector<QueuedMessage> out;
  for (int i = from; i < to; ++i) {
    std::string body = std::to_string(i);
    body.resize(size, 'x');
    out.push_back(Msg(body));
  }
  return out;
}

std::vector<std::string> Expected(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i));
  return out;
}

TEST(RocksPackTest, ABatchIsWrittenAsPacksAndALoneMessageAsARecord) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 3000)).ok());  // tiny bodies: packs of kPackMaxRecords
    ASSERT_TRUE(q->Append(Msgs(3000, 3001)).ok());
    ASSERT_TRUE(q->Append(Sized(3001, 3201, 1024)).ok());  // 200 KiB: split by bytes
  }
  RawMessages raw(path);
  const auto values = raw.Values();
  ASSERT_EQ(values.size(), 3u + 1u + 4u);
  EXPECT_EQ(values[0].second, kPackMaxRecords);
  EXPECT_EQ(values[1].first, values[0].first + kPackMaxRecords);
  EXPECT_EQ(values[2].second, 3000 - 2 * kPackMaxRecords);
  EXPECT_EQ(values[3].second, 1u);  // the lone message
  uint64_t records = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    records += values[i].second;
    if (i > 0) EXPECT_EQ(values[i].first, values[i - 1].first + values[i - 1].second) << i;
  }
  EXPECT_EQ(records, 3201u);
  EXPECT_LE(raw.LargestValue(), kPackMaxBytes + 2048);
}

TEST(RocksPackTest, PopsAndPeeksInsideAPackAndAcrossPacksKeepOrder) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenQueue("t", "c", false);
  ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
  ASSERT_TRUE(q->Append(Msgs(10, 11)).ok());
  ASSERT_TRUE(q->Append(Msgs(11, 20)).ok());
  EXPECT_THAT(PopBodies(q.get(), 3), ElementsAre("0", "1", "2"));
  std::vector<QueuedMessage> peeked;
  ASSERT_TRUE(q->Peek(9, &peeked).ok());
  ASSERT_THAT(peeked, SizeIs(9));
  EXPECT_EQ(peeked.front().message->body, "3");
  EXPECT_EQ(peeked.back().message->body, "11");
  EXPECT_EQ(q->Depth(), 17);
  EXPECT_THAT(PopBodies(q.get(), 8), ElementsAre("3", "4", "5", "6", "7", "8", "9", "10"));
  EXPECT_THAT(PopBodies(q.get(), 100), Expected(11, 20));
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksPackTest, AReopenedQueueResumesInsideAPackAndDeletesWhatWasConsumed) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 100)).ok());
    ASSERT_TRUE(q->Append(Msgs(100, 200)).ok());
    EXPECT_THAT(PopBodies(q.get(), 130), SizeIs(130));
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    EXPECT_EQ(q->Depth(), 70);
    EXPECT_THAT(PopBodies(q.get(), 5), ElementsAre("130", "131", "132", "133", "134"));
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    RawMessages raw(path);
    // The first pack is gone (wholly consumed); the second stays until it is.
    const auto values = raw.Values();
    ASSERT_EQ(values.size(), 1u);
    EXPECT_EQ(values[0].second, 100u);
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 65);
  EXPECT_THAT(PopBodies(q.get(), 1000), Expected(135, 200));
}

TEST(RocksPackTest, PrependBelowAPartlyConsumedPackKeepsTheRestOfIt) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
    EXPECT_THAT(PopBodies(q.get(), 3), ElementsAre("0", "1", "2"));
    // More than was consumed of the pack: they reach below its key.
    ASSERT_TRUE(q->Prepend(Msgs(100, 105)).ok());
    EXPECT_EQ(q->Depth(), 12);
    EXPECT_THAT(PopBodies(q.get(), 2), ElementsAre("100", "101"));
    ASSERT_TRUE(q->Prepend({Msg("a")}).ok());
    EXPECT_EQ(q->Depth(), 11);
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 11);
  EXPECT_THAT(PopBodies(q.get(), 100),
              ElementsAre("a", "102", "103", "104", "3", "4", "5", "6", "7", "8", "9"));
}

TEST(RocksPackTest, ADamagedRecordInAPackIsSkippedAndItsNeighboursDelivered) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Sized(0, 50, 100)).ok());
  }
  {
    RawMessages raw(path);
    raw.Damage(0, static_cast<long>(raw.BodyOffset(0, 17)));
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  std::vector<std::string> want = Expected(0, 50);
  want.erase(want.begin() + 17);
  std::vector<std::string> got;
  for (auto& b : PopBodies(q.get(), 100)) got.push_back(b.substr(0, b.find('x')));
  EXPECT_EQ(got, want);
  EXPECT_EQ(s->Counters().corrupt_records, 1u);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksPackTest, APackWithADamagedHeaderIsCountedAndTheNextOneDelivered) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 20)).ok());
    ASSERT_TRUE(q->Append(Msgs(20, 30)).ok());
  }
  {
    RawMessages raw(path);
    raw.Damage(0, 6);  // inside the record count
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_THAT(PopBodies(q.get(), 100), Expected(20, 30));
  EXPECT_EQ(s->Counters().corrupt_records, 20u);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksPackTest, ADamagedLengthLosesTheRestOfItsPackOnly) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 20)).ok());
    ASSERT_TRUE(q->Append(Msgs(20, 30)).ok());
  }
  {
    RawMessages raw(path);
    // The length of record 5: it now runs past the value's end.
    raw.Damage(0, static_cast<long>(raw.BodyOffset(0, 5) - kRecordHeaderSize - 4));
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  std::vector<std::string> want = Expected(0, 5);
  for (auto& b : Expected(20, 30)) want.push_back(b);
  EXPECT_EQ(PopBodies(q.get(), 100), want);
  EXPECT_EQ(s->Counters().corrupt_records, 15u);
}

TEST(RocksPackTest, ADurableQueueAdoptingAPackedOneAcksItsRecordsOneByOne) {
  // A topic's backlog (packed) becomes a durable channel's queue (--mem-queue-size=0).
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto backlog = *s->OpenQueue("t", "", false);
    ASSERT_TRUE(backlog->Append(Msgs(0, 10)).ok());
    ASSERT_TRUE(backlog->Append(Msgs(10, 20)).ok());
    EXPECT_THAT(PopBodies(backlog.get(), 4), SizeIs(4));  // head inside the first pack
    ASSERT_TRUE(s->MoveQueue(backlog.get(), "t", "c", /*durable=*/true).ok());
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(backlog.get(), 8, &popped), Expected(4, 12));
    for (const auto& m : popped) ASSERT_NE(m.backend_seq, 0u);
    for (size_t i = 0; i < popped.size(); i += 2) backlog->Ack(popped[i].backend_seq);  // 4, 6, 8, 10
    ASSERT_TRUE(backlog->Flush().ok());
  }
  {
    // The unacked ones come back and the depth is true.
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    EXPECT_EQ(q->Depth(), 12);
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(q.get(), 100, &popped),
                ElementsAre("5", "7", "9", "11", "12", "13", "14", "15", "16", "17", "18", "19"));
    for (const auto& m : popped) q->Ack(m.backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    RawMessages raw(path);
    EXPECT_THAT(raw.Values(), SizeIs(0));
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksPackTest, ADurablePackStaysUntilEveryRecordInItIsAckedAndRestartsKnowWhichAre) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 50)).ok());
    ASSERT_TRUE(q->Append(Msgs(50, 60)).ok());
    std::vector<QueuedMessage> popped;
    ASSERT_THAT(PopBodies(q.get(), 100, &popped), SizeIs(60));
    for (int i = 0; i < 60; ++i) {
      if (i != 20 && i != 21 && i != 55) q->Ack(popped[i].backend_seq);
    }
    q->Ack(popped[0].backend_seq);  // twice: counted once
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    RawMessages raw(path);
    const auto values = raw.Values();
    ASSERT_THAT(values, SizeIs(2));  // both packs, each partly held
    EXPECT_EQ(values[0].second, 50u);
    EXPECT_EQ(values[1].second, 10u);
  }
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    EXPECT_EQ(q->Depth(), 3);
    std::vector<QueuedMessage> peeked;
    ASSERT_TRUE(q->Peek(10, &peeked).ok());
    ASSERT_THAT(peeked, SizeIs(3));
    EXPECT_EQ(peeked[2].message->body, "55");
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(q.get(), 100, &popped), ElementsAre("20", "21", "55"));
    EXPECT_EQ(q->Depth(), 0);
    q->Ack(popped[0].backend_seq);
    q->Ack(popped[2].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    RawMessages raw(path);
    ASSERT_THAT(raw.Values(), SizeIs(1));  // the second pack is gone
  }
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    EXPECT_EQ(q->Depth(), 1);
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(q.get(), 100, &popped), ElementsAre("21"));
    q->Ack(popped[0].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  RawMessages raw(path);
  EXPECT_THAT(raw.Values(), SizeIs(0));
}

TEST(RocksPackTest, UpdateRewritesHeldRecordsInsideAPack) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
    std::vector<QueuedMessage> popped;
    ASSERT_THAT(PopBodies(q.get(), 5, &popped), SizeIs(5));
    q->Ack(popped[0].backend_seq);
    popped[1].attempts = 7;
    popped[3].attempts = 2;
    popped[3].deliver_at_ns = 999;
    ASSERT_TRUE(q->Update({popped[1], popped[3]}).ok());
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  std::vector<QueuedMessage> popped;
  ASSERT_THAT(PopBodies(q.get(), 10, &popped), ElementsAre("1", "2", "3", "4"));
  EXPECT_EQ(popped[0].attempts, 7);
  EXPECT_EQ(popped[1].attempts, 0);
  EXPECT_EQ(popped[2].attempts, 2);
  EXPECT_EQ(popped[2].deliver_at_ns, 999);
}

TEST(RocksPackTest, ClearingADurableQueueForgetsItsPacksAcks) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
    std::vector<QueuedMessage> popped;
    ASSERT_THAT(PopBodies(q.get(), 5, &popped), SizeIs(5));
    q->Ack(popped[1].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
    ASSERT_TRUE(q->Clear().ok());
    ASSERT_TRUE(q->Append(Msgs(10, 15)).ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_EQ(q->Depth(), 5);
  EXPECT_THAT(PopBodies(q.get(), 10), Expected(10, 15));
}

TEST(RocksPackTest, AnIdleMostlyAckedPackShrinksToItsHeldRecords) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
    std::vector<QueuedMessage> popped;
    ASSERT_THAT(PopBodies(q.get(), 10, &popped), SizeIs(10));
    for (int i = 0; i < 7; ++i) q->Ack(popped[i].backend_seq);
    ASSERT_TRUE(q->Flush().ok());  // the acks, and the pack's mark
    for (int i = 0; i < kShrinkIdlePacksAfter; ++i) ASSERT_TRUE(q->Flush().ok());
    q->Ack(popped[7].backend_seq);  // a lone record now
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    RawMessages raw(path);
    const auto values = raw.Values();
    ASSERT_THAT(values, SizeIs(2));
    EXPECT_EQ(values[0].second, 1u);
    EXPECT_EQ(values[1].first, values[0].first + 1);
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_EQ(q->Depth(), 2);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("8", "9"));
}

TEST(RocksPackTest, ValueRecordsReadsALoneRecordAndRefusesATruncatedPack) {
  std::string lone;
  EncodeRecord(Msg("hello"), &lone);
  ValueRecords one(lone);
  std::string_view record;
  EXPECT_FALSE(one.is_pack());
  EXPECT_EQ(one.count(), 1u);
  ASSERT_TRUE(one.Next(&record));
  QueuedMessage m;
  ASSERT_TRUE(DecodeRecord(record, &m));
  EXPECT_EQ(m.message->body, "hello");
  EXPECT_FALSE(one.Next(&record));

  char header[kPackHeaderSize];
  EncodePackHeader(2, header);
  std::string pack(header, kPackHeaderSize);
  char len[4];
  EncodePackLength(static_cast<uint32_t>(lone.size()), len);
  pack.append(len, 4).append(lone);
  pack.append(len, 4).append(lone.substr(0, 10));  // the second is cut short
  ValueRecords two(pack);
  EXPECT_TRUE(two.is_pack());
  EXPECT_EQ(two.count(), 2u);
  ASSERT_TRUE(two.Next(&record));
  EXPECT_TRUE(DecodeRecord(record, &m));
  EXPECT_FALSE(two.Next(&record));
  EXPECT_EQ(ValueRecords(pack.substr(0, 7)).count(), 0u);  // header cut short
}

}  // namespace
}  // namespace nsq::storage
