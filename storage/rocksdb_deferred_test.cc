// The deferred queue on RocksDB: due order, restarts, removal after hand-off.

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/rocksdb_storage.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using broker::DeferredQueue;
using broker::QueuedMessage;
using storage_testing::Msg;
using storage_testing::NewDataPath;
using storage_testing::OpenAt;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> PopDue(DeferredQueue* q, int64_t now, size_t max = 100) {
  std::vector<QueuedMessage> out;
  EXPECT_TRUE(q->PopDue(now, max, &out).ok());
  std::vector<std::string> bodies;
  for (const auto& m : out) bodies.push_back(m.message->body);
  return bodies;
}

TEST(RocksDeferredTest, MessagesComeOutByDueTimeThenArrival) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenDeferred("t", "c");
  ASSERT_TRUE(q->Add({Msg("c30", 0, 30), Msg("a10", 0, 10), Msg("b20", 0, 20), Msg("a10bis", 0, 10)}).ok());
  EXPECT_EQ(q->Depth(), 4);
  EXPECT_EQ(q->NextDue(), 10);
  EXPECT_THAT(PopDue(q.get(), 9), IsEmpty());
  EXPECT_THAT(PopDue(q.get(), 25), ElementsAre("a10", "a10bis", "b20"));
  EXPECT_EQ(q->NextDue(), 30);
  EXPECT_EQ(q->Depth(), 1);
  EXPECT_THAT(PopDue(q.get(), 100), ElementsAre("c30"));
  EXPECT_EQ(q->NextDue(), INT64_MAX);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksDeferredTest, PopDueTakesAtMostMaxAndKeepsTheRestInOrder) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenDeferred("t", "c");
  std::vector<QueuedMessage> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Msg("m" + std::to_string(i), 0, 5));
  ASSERT_TRUE(q->Add(batch).ok());
  EXPECT_THAT(PopDue(q.get(), 5, 4), ElementsAre("m0", "m1", "m2", "m3"));
  EXPECT_EQ(q->NextDue(), 5);
  EXPECT_THAT(PopDue(q.get(), 5, 4), ElementsAre("m4", "m5", "m6", "m7"));
  EXPECT_THAT(PopDue(q.get(), 5, 4), ElementsAre("m8", "m9"));
}

TEST(RocksDeferredTest, WhatIsLeftSurvivesAReopenAndPoppedOnesDoNotComeBack) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenDeferred("t", "c");
    ASSERT_TRUE(q->Add({Msg("x", 3, 100), Msg("y", 0, 200), Msg("z", 0, 300)}).ok());
    EXPECT_THAT(PopDue(q.get(), 150), ElementsAre("x"));
  }
  auto s = OpenAt(path);
  auto q = *s->OpenDeferred("t", "c");
  EXPECT_EQ(q->Depth(), 2);
  EXPECT_EQ(q->NextDue(), 200);
  std::vector<QueuedMessage> out;
  ASSERT_TRUE(q->PopDue(1000, 10, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].message->body, "y");
  EXPECT_EQ(out[0].deliver_at_ns, 200);
  auto other = *s->OpenDeferred("t", "other");  // queues of other channels are separate
  EXPECT_EQ(other->Depth(), 0);
}

TEST(RocksDeferredTest, AttemptsAreKept) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenDeferred("t", "c");
  ASSERT_TRUE(q->Add({Msg("r", 7, 10)}).ok());
  std::vector<QueuedMessage> out;
  ASSERT_TRUE(q->PopDue(10, 10, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].attempts, 7);
}

TEST(RocksDeferredTest, AMessageDueBeforeTheLastPoppedOneIsStillDelivered) {
  // The clock stepped back: a new message due "earlier" than one already popped.
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenDeferred("t", "c");
  ASSERT_TRUE(q->Add({Msg("late", 0, 500)}).ok());
  EXPECT_THAT(PopDue(q.get(), 600), ElementsAre("late"));
  ASSERT_TRUE(q->Add({Msg("early", 0, 100)}).ok());
  ASSERT_TRUE(q->Flush().ok());  // the popped record's deletion must not take it along
  EXPECT_EQ(q->Depth(), 1);
  EXPECT_THAT(PopDue(q.get(), 600), ElementsAre("early"));
}

TEST(RocksDeferredTest, ClearAndDestroyDropEverything) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenDeferred("t", "c");
    ASSERT_TRUE(q->Add({Msg("a", 0, 1), Msg("b", 0, 2)}).ok());
    ASSERT_TRUE(q->Clear().ok());
    EXPECT_EQ(q->Depth(), 0);
    EXPECT_THAT(PopDue(q.get(), 10), IsEmpty());
    ASSERT_TRUE(q->Add({Msg("c", 0, 3)}).ok());
    ASSERT_TRUE(q->Destroy().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenDeferred("t", "c");
  EXPECT_EQ(q->Depth(), 0);
  EXPECT_THAT(PopDue(q.get(), 10), IsEmpty());
}

}  // namespace
}  // namespace nsq::storage
