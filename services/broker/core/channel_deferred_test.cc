// Deferred messages (DPUB, REQ with a delay) against the memory bound: memory up to
// --mem-queue-size, the rest in the storage's deferred queue, and never lost.

#include <string>
#include <vector>

#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using engine_testing::RecordingSink;

class ChannelDeferredTest : public engine_testing::EngineTest {
 protected:
  void WithMemQueueSize(int64_t n) {
    EngineOptions opts;
    opts.mem_queue_size = n;
    Reset(opts);
  }
};

TEST_F(ChannelDeferredTest, DeferredPublishesPastMemQueueSizeWaitOnDiskAndComeBackInDueOrder) {
  WithMemQueueSize(3);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 100);
  // Due in 10 s, 9 s, ... 1 s: the first three wait in memory, the other seven on disk.
  for (int i = 0; i < 10; ++i) Publish("t", {"d" + std::to_string(10 - i)}, absl::Seconds(10 - i));
  EXPECT_EQ(storage_.deferred_adds, 7);
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.deferred_count, 10);
  EXPECT_EQ(st.held_count, 0);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  for (int s = 0; s < 10; ++s) Advance(absl::Seconds(1));
  EXPECT_THAT(sink.Bodies(),
              ElementsAre("d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10"));
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 0);
}

TEST_F(ChannelDeferredTest, RequeuesWithADelayPastMemQueueSizeWaitOnDisk) {
  WithMemQueueSize(2);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 100);
  PublishN("t", 5);
  std::vector<Delivery> first = sink.Take();
  ASSERT_THAT(first, SizeIs(5));
  for (const Delivery& d : first) ASSERT_TRUE(c->Requeue(d.message->id, absl::Seconds(5)).ok());
  EXPECT_EQ(storage_.deferred_adds, 3);
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 5);
  Advance(absl::Seconds(5));
  std::vector<Delivery> again = sink.Take();
  ASSERT_THAT(again, SizeIs(5));
  for (const Delivery& d : again) EXPECT_EQ(d.attempts, 2);
}

TEST_F(ChannelDeferredTest, DurableDeferredMessagesAreAllOnDiskAndNotReadBackEarly) {
  WithMemQueueSize(0);  // durable
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 100);
  std::vector<std::string> bodies;
  for (int i = 0; i < 1000; ++i) bodies.push_back("d" + std::to_string(i));
  Publish("t", bodies, absl::Seconds(30));
  EXPECT_EQ(storage_.deferred_adds, 1000);
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.deferred_count, 1000);
  EXPECT_EQ(st.depth, 0);  // the ready queue never held them
  PublishN("t", 1, "now");
  EXPECT_THAT(sink.Bodies(), ElementsAre("now0"));
  Advance(absl::Seconds(30));
  EXPECT_THAT(sink.deliveries, SizeIs(100));  // RDY 100
  st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.deferred_count, 0);
  EXPECT_EQ(st.depth, 901);
}

TEST_F(ChannelDeferredTest, ADurableRequeueWithADelayMovesTheRecordToTheDeferredQueue) {
  WithMemQueueSize(0);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 1);
  std::vector<Delivery> got = sink.Take();
  ASSERT_THAT(got, SizeIs(1));
  ASSERT_TRUE(c->Requeue(got[0].message->id, absl::Seconds(5)).ok());
  EXPECT_EQ(storage_.deferred_adds, 1);
  EXPECT_EQ(storage_.acks, 1);  // its old record goes once the deferred one is written
  Advance(absl::Seconds(5));
  std::vector<Delivery> again = sink.Take();
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].attempts, 2);
  ASSERT_TRUE(c->Finish(again[0].message->id).ok());
  EXPECT_EQ(storage_.acks, 2);
}

TEST_F(ChannelDeferredTest, ARequeueTheDeferredQueueRefusesIsKeptInMemory) {
  WithMemQueueSize(1);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 2);
  std::vector<Delivery> got = sink.Take();
  ASSERT_THAT(got, SizeIs(2));
  ASSERT_TRUE(c->Requeue(got[0].message->id, absl::Seconds(5)).ok());  // memory
  storage_.fail_writes = true;
  ASSERT_TRUE(c->Requeue(got[1].message->id, absl::Seconds(5)).ok());  // refused: held
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.deferred_count, 2);
  EXPECT_EQ(st.held_count, 1);
  EXPECT_FALSE(engine_->Health().ok());
  storage_.fail_writes = false;
  Advance(absl::Seconds(5));
  EXPECT_THAT(sink.Bodies(), ElementsAre("m0", "m1"));
}

TEST_F(ChannelDeferredTest, ADeferredPublishTheStorageRefusesFailsAndQueuesNothing) {
  WithMemQueueSize(0);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  storage_.fail_writes = true;
  std::vector<std::string_view> bodies = {"x", "y"};
  EXPECT_EQ(engine_->Publish("t", bodies, absl::Seconds(5)).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 0);
}

TEST_F(ChannelDeferredTest, EphemeralChannelDropsDeferredMessagesPastMemQueueSize) {
  WithMemQueueSize(2);
  RecordingSink sink;
  auto c = Sub("t", "ch#ephemeral", &sink, 10);
  for (int i = 0; i < 5; ++i) Publish("t", {"d" + std::to_string(i)}, absl::Seconds(1));
  EXPECT_EQ(ChannelStatsOf("t", "ch#ephemeral").deferred_count, 2);
  EXPECT_EQ(storage_.deferred_adds, 0);
  Advance(absl::Seconds(1));
  EXPECT_THAT(sink.Bodies(), ElementsAre("d0", "d1"));
}

TEST_F(ChannelDeferredTest, AMillionDueMessagesAreReleasedOverSeveralTimerTicks) {
  WithMemQueueSize(0);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 0);
  std::vector<std::string> bodies(10000, "d");
  Publish("t", bodies, absl::Seconds(1));
  clock_.Advance(absl::Seconds(1));
  // One tick moves a budget of them and asks to be called again at once.
  EXPECT_EQ(engine_->ProcessTimers(), clock_.Now());
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_GT(st.deferred_count, 0);
  EXPECT_GT(st.depth, 0);
  for (int i = 0; i < 100 && ChannelStatsOf("t", "ch").deferred_count > 0; ++i) engine_->ProcessTimers();
  st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.deferred_count, 0);
  EXPECT_EQ(st.depth, 10000);
}

}  // namespace
}  // namespace nsq::broker
