#include "storage/rocksdb_storage.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/record.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using storage_testing::Msg;
using storage_testing::Msgs;
using storage_testing::NewDataPath;
using storage_testing::OpenAt;
using storage_testing::PopBodies;
using broker::Metadata;
using broker::QueuedMessage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(RocksStorageTest, QueueIsFifoAcrossAppendsAndPops) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenQueue("t", "c", false);
  ASSERT_TRUE(q->Append(Msgs(0, 3)).ok());
  EXPECT_THAT(PopBodies(q.get(), 2), ElementsAre("0", "1"));
  ASSERT_TRUE(q->Append(Msgs(3, 5)).ok());
  EXPECT_EQ(q->Depth(), 3);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("2", "3", "4"));
  EXPECT_EQ(q->Depth(), 0);
  EXPECT_THAT(PopBodies(q.get(), 10), SizeIs(0));
}

TEST(RocksStorageTest, QueueResumesFromItsCursorAfterReopen) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 25000)).ok());
    EXPECT_THAT(PopBodies(q.get(), 12000), SizeIs(12000));
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 13000);
  auto bodies = PopBodies(q.get(), 2);
  EXPECT_THAT(bodies, ElementsAre("12000", "12001"));
}

TEST(RocksStorageTest, QueuesOfDifferentChannelsAreSeparate) {
  auto s = OpenAt(NewDataPath());
  auto a = *s->OpenQueue("t", "a", false);
  auto b = *s->OpenQueue("t", "b", false);
  auto topic = *s->OpenQueue("t", "", false);
  ASSERT_TRUE(a->Append(Msgs(0, 2)).ok());
  ASSERT_TRUE(b->Append(Msgs(5, 6)).ok());
  EXPECT_THAT(PopBodies(b.get(), 10), ElementsAre("5"));
  EXPECT_THAT(PopBodies(a.get(), 10), ElementsAre("0", "1"));
  EXPECT_EQ(topic->Depth(), 0);
}

TEST(RocksStorageTest, DurableQueueKeepsPoppedMessagesUntilAcked) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 6)).ok());
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(q.get(), 6, &popped), SizeIs(6));
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(popped[i].backend_seq, 0u);
      q->Ack(popped[i].backend_seq);
    }
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("3", "4", "5"));
}

TEST(RocksStorageTest, ARestartedDurableQueueReportsItsTrueDepth) {
  // Acked records in the middle leave holes in the sequence range: the depth after a
  // restart counts the records, not the range.
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
    std::vector<QueuedMessage> popped;
    ASSERT_THAT(PopBodies(q.get(), 10, &popped), SizeIs(10));
    for (int i = 1; i < 9; ++i) q->Ack(popped[i].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    EXPECT_EQ(q->Depth(), 2);
    ASSERT_TRUE(q->Append(Msgs(10, 11)).ok());
    EXPECT_EQ(q->Depth(), 3);
    EXPECT_THAT(PopBodies(q.get(), 1), ElementsAre("0"));
    EXPECT_EQ(q->Depth(), 2);
    EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("9", "10"));
    EXPECT_EQ(q->Depth(), 0);
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_EQ(q->Depth(), 3);  // none of them acked
}

TEST(RocksStorageTest, LongRunsOfAcksAndStragglersAreAllDeleted) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 3000)).ok());
    std::vector<QueuedMessage> popped;
    PopBodies(q.get(), 3000, &popped);
    ASSERT_THAT(popped, SizeIs(3000));
    // Acked in a scrambled order: a long run (0..1999, as ranges), every other one of
    // the rest (points), 2999 left unacked along with the odd ones.
    for (int i = 1999; i >= 0; --i) q->Ack(popped[i].backend_seq);
    for (int i = 2000; i < 2999; i += 2) q->Ack(popped[i].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  std::vector<std::string> expected;
  for (int i = 2001; i < 2999; i += 2) expected.push_back(std::to_string(i));
  expected.push_back("2999");
  EXPECT_EQ(PopBodies(q.get(), 5000), expected);
}

TEST(RocksStorageTest, UpdateRewritesAttemptsAndDueTimeOfHeldMessages) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 1)).ok());
    std::vector<QueuedMessage> popped;
    PopBodies(q.get(), 1, &popped);
    popped[0].attempts = 3;
    popped[0].deliver_at_ns = 777;
    ASSERT_TRUE(q->Update(popped).ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  std::vector<QueuedMessage> popped;
  PopBodies(q.get(), 1, &popped);
  ASSERT_THAT(popped, SizeIs(1));
  EXPECT_EQ(popped[0].attempts, 3);
  EXPECT_EQ(popped[0].deliver_at_ns, 777);
}

TEST(RocksStorageTest, PrependPutsMessagesBeforeTheHeadAndSurvivesReopen) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 4)).ok());
    PopBodies(q.get(), 2);
    ASSERT_TRUE(q->Prepend({Msg("a"), Msg("b")}).ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("a", "b", "2", "3"));
}

TEST(RocksStorageTest, ClearDropsEveryMessage) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenQueue("t", "c", false);
  ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
  ASSERT_TRUE(q->Clear().ok());
  EXPECT_EQ(q->Depth(), 0);
  ASSERT_TRUE(q->Append(Msgs(9, 10)).ok());
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("9"));
}

TEST(RocksStorageTest, DestroyedQueueComesBackEmpty) {
  const std::string path = NewDataPath();
  auto s = OpenAt(path);
  {
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
    ASSERT_TRUE(q->Destroy().ok());
  }
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksStorageTest, MetadataRoundTrips) {
  const std::string path = NewDataPath();
  Metadata md;
  broker::QueuePolicy dlq;
  dlq.max_attempts = 5;
  dlq.dead_letter_topic = "orders_dead";
  dlq.message_ttl = absl::Seconds(90);
  dlq.max_depth = 1000;
  dlq.depth_policy = broker::DepthPolicy::kDropOldest;
  broker::QueuePolicy topic_default;
  topic_default.max_attempts = 3;
  md.topics.push_back({"orders", true, topic_default, {{"audit", false, {}}, {"billing", true, dlq}}});
  {
    auto s = OpenAt(path);
    ASSERT_TRUE(s->SaveMetadata(md).ok());
  }
  auto s = OpenAt(path);
  auto loaded = s->LoadMetadata();
  ASSERT_TRUE(loaded.ok());
  ASSERT_THAT(loaded->topics, SizeIs(1));
  EXPECT_EQ(loaded->topics[0].name, "orders");
  EXPECT_TRUE(loaded->topics[0].paused);
  ASSERT_THAT(loaded->topics[0].channels, SizeIs(2));
  EXPECT_TRUE(loaded->topics[0].channels[1].paused);
  EXPECT_TRUE(loaded->topics[0].policy == topic_default);
  EXPECT_TRUE(loaded->topics[0].channels[0].policy == broker::QueuePolicy{});
  EXPECT_TRUE(loaded->topics[0].channels[1].policy == dlq);
}

TEST(RocksStorageTest, SecondOpenOfADataPathIsRefused) {
  const std::string path = NewDataPath();
  auto first = OpenAt(path);
  RocksStorageOptions o;
  o.data_path = path;
  auto second = RocksStorage::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("failed to lock data-path"));
}

TEST(RocksStorageTest, DamagedDatabaseGivesAClearErrorAndChangesNothing) {
  const std::string path = NewDataPath();
  { auto s = OpenAt(path); }
  const std::string current = path + "/nsqd.rocksdb/CURRENT";
  std::ofstream(current, std::ios::trunc) << "garbage";
  RocksStorageOptions o;
  o.data_path = path;
  auto s = RocksStorage::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("is damaged"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("Move the directory aside"));
  std::ifstream in(current);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "garbage");
}

TEST(RocksStorageTest, SyncEveryOneFsyncsBeforeThePublisherIsAnswered) {
  auto s = OpenAt(NewDataPath(), /*sync_every=*/1);
  auto q = *s->OpenQueue("t", "c", true);
  ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
  EXPECT_EQ(s->Counters().syncs, 0u);  // written to the log; the fsync comes with WaitDurable
  ASSERT_TRUE(s->WaitDurable().ok());
  EXPECT_EQ(s->Counters().syncs, 1u);
  ASSERT_TRUE(s->WaitDurable().ok());  // nothing new written: no second fsync
  EXPECT_EQ(s->Counters().syncs, 1u);
  ASSERT_TRUE(q->Append(Msgs(10, 20)).ok());
  ASSERT_TRUE(s->WaitDurable().ok());
  EXPECT_EQ(s->Counters().syncs, 2u);
  EXPECT_GT(s->Counters().wal_bytes, 20u * kRecordHeaderSize);
}

TEST(RocksStorageTest, ConcurrentPublishersShareFsyncs) {
  auto s = OpenAt(NewDataPath(), /*sync_every=*/1);
  constexpr int kThreads = 4, kWrites = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto q = *s->OpenQueue("t", absl::StrCat("c", t), true);
      for (int i = 0; i < kWrites; ++i) {
        ASSERT_TRUE(q->Append(Msgs(i, i + 1)).ok());
        ASSERT_TRUE(s->WaitDurable().ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t syncs = s->Counters().syncs;
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, static_cast<uint64_t>(kThreads * kWrites));
}

}  // namespace
}  // namespace nsq::storage
