#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using engine_testing::ControlledStorage;
using engine_testing::RecordingSink;

class ChannelTest : public engine_testing::EngineTest {};

TEST_F(ChannelTest, ConsumersOnOneChannelShareItsMessages) {
  RecordingSink a, b;
  auto ca = Sub("t", "ch", &a, 10);
  auto cb = Sub("t", "ch", &b, 10);
  for (int i = 0; i < 20; ++i) PublishN("t", 1, "m" + std::to_string(i) + "_");
  EXPECT_EQ(a.deliveries.size() + b.deliveries.size(), 20u);
  EXPECT_GT(a.deliveries.size(), 0u);
  EXPECT_GT(b.deliveries.size(), 0u);
  std::set<std::string> all;
  for (const auto& d : a.deliveries) all.insert(d.message->body);
  for (const auto& d : b.deliveries) all.insert(d.message->body);
  EXPECT_EQ(all.size(), 20u);
}

TEST_F(ChannelTest, ReadyCountIsAWindowOfUnfinishedMessages) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 3);
  PublishN("t", 10);
  ASSERT_THAT(sink.deliveries, SizeIs(3));
  ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
  EXPECT_THAT(sink.deliveries, SizeIs(4));
  ASSERT_TRUE(c->Finish(sink.deliveries[1].message->id).ok());
  ASSERT_TRUE(c->Finish(sink.deliveries[2].message->id).ok());
  EXPECT_THAT(sink.deliveries, SizeIs(6));
  EXPECT_EQ(ChannelStatsOf("t", "ch").in_flight_count, 3);
  EXPECT_EQ(ChannelStatsOf("t", "ch").depth, 4);
}

TEST_F(ChannelTest, ReadyZeroStopsDeliveryAndRaisingItResumes) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 0);
  PublishN("t", 5);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  ASSERT_TRUE(c->SetReady(2).ok());
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(ChannelTest, ReadyOutOfRangeIsRejected) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 0);
  EXPECT_EQ(c->SetReady(2501).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->SetReady(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->SetReady(2500).ok());
}

TEST_F(ChannelTest, DeliveriesAreBatchedWhenManyMessagesAreReady) {
  PublishN("t", 500);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 2500);
  EXPECT_THAT(sink.deliveries, SizeIs(500));
  EXPECT_EQ(sink.batches, 1);
}

TEST_F(ChannelTest, FinishOfUnknownIdFails) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  MessageId bogus;
  MessageId::FromBytes("0123456789abcdef", &bogus);
  absl::Status st = c->Finish(bogus);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("ID not in flight"));
}

TEST_F(ChannelTest, FinishOfAnotherConsumersMessageFails) {
  RecordingSink a, b;
  auto ca = Sub("t", "ch", &a, 1);
  auto cb = Sub("t", "ch", &b, 0);
  PublishN("t", 1);
  ASSERT_THAT(a.deliveries, SizeIs(1));
  absl::Status st = cb->Finish(a.deliveries[0].message->id);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("client does not own message"));
  EXPECT_TRUE(ca->Finish(a.deliveries[0].message->id).ok());
}

TEST_F(ChannelTest, FinishTwiceFailsTheSecondTime) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  PublishN("t", 1);
  MessageId id = sink.deliveries[0].message->id;
  EXPECT_TRUE(c->Finish(id).ok());
  EXPECT_EQ(c->Finish(id).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ChannelTest, FinishBatchReportsEachId) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  PublishN("t", 2);
  MessageId bogus;
  MessageId::FromBytes("ffffffffffffffff", &bogus);
  auto results = c->FinishBatch({sink.deliveries[0].message->id, bogus, sink.deliveries[1].message->id});
  ASSERT_THAT(results, SizeIs(3));
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(ChannelStatsOf("t", "ch").in_flight_count, 0);
}

TEST_F(ChannelTest, InFlightTimeoutRequeuesWithAttemptsPlusOne) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 1);
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  EXPECT_EQ(sink.deliveries[0].attempts, 1);
  Advance(absl::Seconds(59));
  EXPECT_THAT(sink.deliveries, SizeIs(1));
  Advance(absl::Seconds(1));
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].attempts, 2);
  EXPECT_EQ(sink.deliveries[1].message->id, sink.deliveries[0].message->id);
  EXPECT_EQ(ChannelStatsOf("t", "ch").timeout_count, 1u);
}

TEST_F(ChannelTest, ConsumerMsgTimeoutOverridesTheDefault) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10, absl::Seconds(5));
  PublishN("t", 1);
  Advance(absl::Seconds(5));
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(ChannelTest, ConsumerMsgTimeoutAboveMaxIsRejected) {
  RecordingSink sink;
  ConsumerInfo info;
  info.msg_timeout = absl::Minutes(15) + absl::Seconds(1);
  EXPECT_EQ(engine_->Subscribe("t", "ch", info, &sink).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ChannelTest, TouchRestartsTheInFlightTimeout) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 1);
  Advance(absl::Seconds(50));
  ASSERT_TRUE(c->Touch(sink.deliveries[0].message->id).ok());
  Advance(absl::Seconds(50));  // 100 s after delivery, 50 s after the touch
  EXPECT_THAT(sink.deliveries, SizeIs(1));
  Advance(absl::Seconds(10));
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(ChannelTest, TouchCannotExtendPastMaxMsgTimeout) {
  EngineOptions opts;
  opts.msg_timeout = absl::Seconds(60);
  opts.max_msg_timeout = absl::Seconds(90);
  Reset(opts);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 1);
  Advance(absl::Seconds(50));
  ASSERT_TRUE(c->Touch(sink.deliveries[0].message->id).ok());  // capped at delivery + 90 s
  Advance(absl::Seconds(40));
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(ChannelTest, TouchOfUnknownIdFails) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  MessageId bogus;
  MessageId::FromBytes("0123456789abcdef", &bogus);
  EXPECT_EQ(c->Touch(bogus).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ChannelTest, RequeueWithoutDelayRedeliversAtOnceWithAttemptsPlusOne) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 1);
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::ZeroDuration()).ok());
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].attempts, 2);
  EXPECT_EQ(ChannelStatsOf("t", "ch").requeue_count, 1u);
}

TEST_F(ChannelTest, RequeueWithDelayRedeliversAfterTheDelay) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 1);
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::Seconds(10)).ok());
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 1);
  Advance(absl::Seconds(9));
  EXPECT_THAT(sink.deliveries, SizeIs(1));
  Advance(absl::Seconds(1));
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].attempts, 2);
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 0);
}

TEST_F(ChannelTest, RequeueDelayIsClampedToMaxReqTimeout) {
  EngineOptions opts;
  opts.max_req_timeout = absl::Seconds(30);
  Reset(opts);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 1);
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::Hours(5)).ok());
  Advance(absl::Seconds(30));
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(ChannelTest, RequeueFreesTheReadyWindow) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 2);
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::Seconds(5)).ok());
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].message->body, "m1");
}

TEST_F(ChannelTest, DeferredPublishBecomesVisibleAfterTheDelay) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  Publish("t", {"later"}, absl::Seconds(3));
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  EXPECT_EQ(ChannelStatsOf("t", "ch").deferred_count, 1);
  Advance(absl::Seconds(2));
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  Advance(absl::Seconds(1));
  EXPECT_THAT(sink.Bodies(), ElementsAre("later"));
  EXPECT_EQ(sink.deliveries[0].attempts, 1);
}

TEST_F(ChannelTest, PausedChannelKeepsItsQueueUntilUnpaused) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  ASSERT_TRUE(engine_->SetChannelPaused("t", "ch", true).ok());
  PublishN("t", 3);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  EXPECT_EQ(ChannelStatsOf("t", "ch").depth, 3);
  EXPECT_TRUE(ChannelStatsOf("t", "ch").paused);
  ASSERT_TRUE(engine_->SetChannelPaused("t", "ch", false).ok());
  EXPECT_THAT(sink.Bodies(), ElementsAre("m0", "m1", "m2"));
}

TEST_F(ChannelTest, EmptyChannelDropsQueuedInFlightAndDeferredMessages) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 3);
  Publish("t", {"deferred"}, absl::Seconds(5));
  ASSERT_TRUE(engine_->EmptyChannel("t", "ch").ok());
  ChannelStats s = ChannelStatsOf("t", "ch");
  EXPECT_EQ(s.depth, 0);
  EXPECT_EQ(s.in_flight_count, 0);
  EXPECT_EQ(s.deferred_count, 0);
  // The consumer's window is free again: a new message is delivered.
  PublishN("t", 1, "after");
  EXPECT_EQ(sink.deliveries.back().message->body, "after0");
  Advance(absl::Seconds(120));
  EXPECT_THAT(sink.deliveries, SizeIs(3));  // m0, after0, after0 again on timeout
}

TEST_F(ChannelTest, DeleteChannelClosesItsConsumers) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  ASSERT_TRUE(engine_->DeleteChannel("t", "ch").ok());
  EXPECT_TRUE(sink.closed);
  EXPECT_EQ(sink.close_status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->DeleteChannel("t", "ch").code(), absl::StatusCode::kNotFound);
  PublishN("t", 1);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
}

TEST_F(ChannelTest, EphemeralChannelVanishesWithItsLastConsumer) {
  RecordingSink a, b;
  auto ca = Sub("t", "ch#ephemeral", &a);
  auto cb = Sub("t", "ch#ephemeral", &b);
  ca->Close();
  EXPECT_THAT(TopicStatsOf("t").channels, SizeIs(1));
  cb->Close();
  EXPECT_THAT(TopicStatsOf("t").channels, SizeIs(0));
  EXPECT_TRUE(engine_->TopicExists("t"));
}

TEST_F(ChannelTest, EphemeralChannelDropsMessagesPastMemQueueSize) {
  EngineOptions opts;
  opts.mem_queue_size = 3;
  Reset(opts);
  RecordingSink sink;
  auto c = Sub("t", "ch#ephemeral", &sink, 0);
  PublishN("t", 5);
  EXPECT_EQ(ChannelStatsOf("t", "ch#ephemeral").depth, 3);
  ASSERT_TRUE(c->SetReady(10).ok());
  EXPECT_THAT(sink.Bodies(), ElementsAre("m0", "m1", "m2"));
}

TEST_F(ChannelTest, EphemeralChannelWithMemQueueSizeZeroDeliversToReadyConsumersOnly) {
  // nsqd: with --mem-queue-size=0 an ephemeral channel is an unbuffered Go channel.
  EngineOptions opts;
  opts.mem_queue_size = 0;
  Reset(opts);
  RecordingSink ready, idle;
  auto c = Sub("t", "tail#ephemeral", &ready, 2);
  PublishN("t", 5);
  EXPECT_THAT(ready.Bodies(), ElementsAre("m0", "m1"));  // the rest had nobody to go to
  EXPECT_EQ(ChannelStatsOf("t", "tail#ephemeral").depth, 0);
  ASSERT_TRUE(c->Finish(ready.deliveries[0].message->id).ok());
  EXPECT_THAT(ready.deliveries, SizeIs(2));  // dropped ones do not come back
}

TEST_F(ChannelTest, ClosedConsumersInFlightMessagesGoToOthersAtOnce) {
  RecordingSink a, b;
  auto ca = Sub("t", "ch", &a, 5);
  PublishN("t", 3);
  ASSERT_THAT(a.deliveries, SizeIs(3));
  auto cb = Sub("t", "ch", &b, 5);
  ca->Close();
  EXPECT_THAT(b.Bodies(), ElementsAre("m0", "m1", "m2"));
  for (const auto& d : b.deliveries) EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(a.Take().size(), 3u);
  EXPECT_EQ(ca->Finish(b.deliveries[0].message->id).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ChannelTest, MaxChannelConsumersIsEnforced) {
  EngineOptions opts;
  opts.max_channel_consumers = 1;
  Reset(opts);
  RecordingSink a, b;
  auto ca = Sub("t", "ch", &a);
  EXPECT_EQ(engine_->Subscribe("t", "ch", ConsumerInfo{}, &b).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(ChannelTest, SampleRateDropsMostMessagesForThatConsumerOnly) {
  PublishN("t", 2000);
  RecordingSink sampled;
  ConsumerInfo info;
  info.sample_rate = 9;  // nsqd keeps a message when rand(0..99) <= 9: about 10%
  auto c = engine_->Subscribe("t", "ch", info, &sampled);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->SetReady(2500).ok());
  const size_t kept = sampled.deliveries.size();
  EXPECT_GT(kept, 100u);
  EXPECT_LT(kept, 320u);
  // The dropped messages are consumed: nothing is left for anyone else.
  EXPECT_EQ(ChannelStatsOf("t", "ch").depth, 0);
  EXPECT_EQ(ChannelStatsOf("t", "ch").in_flight_count, static_cast<int64_t>(kept));
}

TEST_F(ChannelTest, SubscribeRejectsSampleRateOutsideZeroTo99) {
  RecordingSink sink;
  ConsumerInfo info;
  info.sample_rate = 100;
  auto c = engine_->Subscribe("t", "ch", info, &sink);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "E_BAD_BODY sample rate (100) is invalid");
}

// ---- failure paths: an acknowledged message is never lost when storage refuses it ----

// Bodies delivered to `sink` and FINed one at a time until none come (bounded).
std::vector<std::string> FinishAll(Consumer* c, RecordingSink* sink) {
  std::vector<std::string> got;
  for (int round = 0; round < 100; ++round) {
    std::vector<Delivery> batch = sink->Take();
    if (batch.empty()) break;
    for (const Delivery& d : batch) {
      got.push_back(d.message->body);
      EXPECT_TRUE(c->Finish(d.message->id).ok());
    }
  }
  return got;
}

class ChannelStorageFailureTest : public ChannelTest {
 protected:
  // mem-queue-size 1: one consumer with RDY 1 holds m0 in flight, m1 waits in memory and
  // m2 in the backend, so the next message for this channel must go to the backend.
  void SetUpOneInFlightOneInMemoryOneOnDisk() {
    EngineOptions opts;
    opts.mem_queue_size = 1;
    Reset(opts);
    consumer_ = Sub("t", "ch", &sink_, 1);
    for (const char* body : {"m0", "m1", "m2"}) Publish("t", {body});  // one at a time
    first_ = sink_.Take();
    ASSERT_THAT(first_, SizeIs(1));
    ASSERT_EQ(ChannelStatsOf("t", "ch").backend_depth, 1);
    storage_.fail_writes = true;
  }
  // m1 is in flight by now; m2 waits on disk and `held_body` in memory behind it.
  void ExpectHeldThenDeliveredLast(const std::string& held_body) {
    ChannelStats st = ChannelStatsOf("t", "ch");
    EXPECT_EQ(st.held_count, 1);
    EXPECT_EQ(st.depth, 2);
    EXPECT_FALSE(engine_->Health().ok());
    storage_.fail_writes = false;
    EXPECT_THAT(FinishAll(consumer_.get(), &sink_), ElementsAre("m1", "m2", held_body));
    EXPECT_EQ(ChannelStatsOf("t", "ch").held_count, 0);
  }

  RecordingSink sink_;
  std::shared_ptr<Consumer> consumer_;
  std::vector<Delivery> first_;  // m0, in flight
};

TEST_F(ChannelStorageFailureTest, TimedOutMessageIsKeptWhenStorageRefusesIt) {
  SetUpOneInFlightOneInMemoryOneOnDisk();
  Advance(absl::Seconds(60));  // m0 times out while the disk refuses writes
  EXPECT_EQ(ChannelStatsOf("t", "ch").timeout_count, 1u);
  ASSERT_THAT(sink_.deliveries, SizeIs(1));  // m1, from memory
  ExpectHeldThenDeliveredLast("m0");
}

TEST_F(ChannelStorageFailureTest, RequeuedMessageIsKeptWhenStorageRefusesIt) {
  SetUpOneInFlightOneInMemoryOneOnDisk();
  // The REQ succeeds: the message is kept (held in memory), not lost.
  ASSERT_TRUE(consumer_->Requeue(first_[0].message->id, absl::ZeroDuration()).ok());
  EXPECT_EQ(ChannelStatsOf("t", "ch").requeue_count, 1u);
  ExpectHeldThenDeliveredLast("m0");
}

TEST_F(ChannelStorageFailureTest, MessagesOfALostConsumerAreKeptWhenStorageRefusesThem) {
  SetUpOneInFlightOneInMemoryOneOnDisk();
  RecordingSink second_sink;
  auto second = Sub("t", "ch", &second_sink, 0);
  consumer_->Close();  // m0 goes back to the channel while the disk refuses writes
  consumer_ = second;
  sink_.deliveries.clear();
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.held_count, 1);
  EXPECT_EQ(st.depth, 3);
  storage_.fail_writes = false;
  ASSERT_TRUE(second->SetReady(1).ok());
  EXPECT_THAT(FinishAll(second.get(), &second_sink), ElementsAre("m1", "m2", "m0"));
}

TEST_F(ChannelStorageFailureTest, ReleasedDeferredMessageIsKeptWhenStorageRefusesIt) {
  EngineOptions opts;
  opts.mem_queue_size = 1;
  Reset(opts);
  consumer_ = Sub("t", "ch", &sink_, 0);
  Publish("t", {"late"}, absl::Seconds(5));  // deferred, in memory
  PublishN("t", 2);                          // m0 in memory, m1 on disk
  storage_.fail_writes = true;
  Advance(absl::Seconds(5));  // "late" is due: to the tail, behind m1 on disk
  EXPECT_EQ(ChannelStatsOf("t", "ch").held_count, 1);
  storage_.fail_writes = false;
  ASSERT_TRUE(consumer_->SetReady(1).ok());
  EXPECT_THAT(FinishAll(consumer_.get(), &sink_), ElementsAre("m0", "m1", "late"));
}

TEST_F(ChannelStorageFailureTest, BacklogMovingToAChannelIsKeptWhenStorageRefusesIt) {
  EngineOptions opts;
  opts.mem_queue_size = 2;
  Reset(opts);
  ASSERT_TRUE(engine_->CreateChannel("t", "ch").ok());
  ASSERT_TRUE(engine_->SetTopicPaused("t", true).ok());
  PublishN("t", 5);  // the paused topic keeps them: 2 in memory, 3 on disk
  storage_.fail_writes = true;
  ASSERT_TRUE(engine_->SetTopicPaused("t", false).ok());  // the channel can take 2 in memory only
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.depth, 5);
  EXPECT_EQ(st.held_count, 3);
  storage_.fail_writes = false;
  consumer_ = Sub("t", "ch", &sink_, 1);
  EXPECT_THAT(FinishAll(consumer_.get(), &sink_), ElementsAre("m0", "m1", "m2", "m3", "m4"));
}

TEST_F(ChannelStorageFailureTest, HeldMessagesGoToStorageOnceItTakesWritesAgain) {
  SetUpOneInFlightOneInMemoryOneOnDisk();
  Advance(absl::Seconds(60));
  ASSERT_EQ(ChannelStatsOf("t", "ch").held_count, 1);
  storage_.fail_writes = false;
  PublishN("t", 1, "n");  // the next write takes the held message first, then n0
  ChannelStats st = ChannelStatsOf("t", "ch");
  EXPECT_EQ(st.held_count, 0);
  EXPECT_EQ(st.backend_depth, 3);  // m2, m0, n0 (m1 is in flight)
  EXPECT_THAT(FinishAll(consumer_.get(), &sink_), ElementsAre("m1", "m2", "m0", "n0"));
}

TEST_F(ChannelStorageFailureTest, APublishTheStorageRefusesFailsAndQueuesNothing) {
  SetUpOneInFlightOneInMemoryOneOnDisk();
  std::vector<std::string_view> bodies = {"x", "y"};
  EXPECT_EQ(engine_->Publish("t", bodies).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ChannelStatsOf("t", "ch").depth, 2);  // m1, m2: nothing of the failed publish
  EXPECT_EQ(ChannelStatsOf("t", "ch").message_count, 3u);  // nor counted
  EXPECT_EQ(TopicStatsOf("t").message_count, 3u);
}

TEST_F(ChannelTest, BackendCursorAndAcksAreWrittenOutAtLeastOnceASecond) {
  EngineOptions opts;
  opts.mem_queue_size = 0;
  Reset(opts);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 2);
  for (const Delivery& d : sink.Take()) ASSERT_TRUE(c->Finish(d.message->id).ok());
  Advance(absl::Milliseconds(10));
  const int flushes = storage_.flushes;
  Advance(absl::Milliseconds(500));
  EXPECT_EQ(storage_.flushes, flushes);  // not yet
  Advance(absl::Milliseconds(600));
  EXPECT_GT(storage_.flushes, flushes);  // the acks are on their way to disk
}

TEST_F(ChannelTest, DurableChannelAcksEveryFinishedMessageOnceAndNothingElse) {
  EngineOptions opts;
  opts.mem_queue_size = 0;  // durable: on disk until FIN
  Reset(opts);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  PublishN("t", 3);
  std::vector<Delivery> got = sink.Take();
  ASSERT_THAT(got, SizeIs(3));
  ASSERT_TRUE(c->Requeue(got[0].message->id, absl::ZeroDuration()).ok());
  EXPECT_EQ(storage_.acks, 0);  // a requeue keeps the record
  ASSERT_TRUE(c->Finish(got[1].message->id).ok());
  ASSERT_TRUE(c->Finish(got[2].message->id).ok());
  EXPECT_EQ(storage_.acks, 2);
  std::vector<Delivery> again = sink.Take();
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].message->body, "m0");
  ASSERT_TRUE(c->Finish(again[0].message->id).ok());
  EXPECT_EQ(storage_.acks, 3);
}

// nsqd's zone_local_msg_count / region_local_msg_count / global_msg_count: each delivery
// counts by the consumer's topology against the broker's, under the experiment only.
TEST_F(ChannelTest, DeliveriesCountByConsumerTopologyUnderTheExperiment) {
  EngineOptions o;
  o.topology_zone = "z1";
  o.topology_region = "r1";
  o.topology_aware_consumption = true;
  Reset(o);
  auto sub = [&](const std::string& channel, const std::string& zone, const std::string& region,
                 RecordingSink* sink) {
    ConsumerInfo info;
    info.topology_zone = zone;
    info.topology_region = region;
    auto c = engine_->Subscribe("t", channel, info, sink);
    EXPECT_TRUE(c.ok());
    EXPECT_TRUE((*c)->SetReady(100).ok());
    return *c;
  };
  RecordingSink zone, region, global;
  auto cz = sub("zone", "z1", "r1", &zone);
  auto cr = sub("region", "z2", "r1", &region);
  auto cg = sub("global", "z3", "r3", &global);
  PublishN("t", 3);
  ChannelStats z = ChannelStatsOf("t", "zone");
  EXPECT_EQ(z.zone_local_msg_count, 3u);
  EXPECT_EQ(z.region_local_msg_count + z.global_msg_count, 0u);
  ChannelStats r = ChannelStatsOf("t", "region");
  EXPECT_EQ(r.region_local_msg_count, 3u);
  EXPECT_EQ(r.zone_local_msg_count + r.global_msg_count, 0u);
  ChannelStats g = ChannelStatsOf("t", "global");
  EXPECT_EQ(g.global_msg_count, 3u);
  EXPECT_EQ(g.zone_local_msg_count + g.region_local_msg_count, 0u);
  // A redelivery counts again, as nsqd's requeued message goes through the same path.
  ASSERT_TRUE(cz->Requeue(zone.deliveries[0].message->id, absl::ZeroDuration()).ok());
  EXPECT_EQ(ChannelStatsOf("t", "zone").zone_local_msg_count, 4u);
}

TEST_F(ChannelTest, WithoutTheExperimentEveryDeliveryIsGlobal) {
  EngineOptions o;
  o.topology_zone = "z1";
  o.topology_region = "r1";
  Reset(o);
  RecordingSink sink;
  ConsumerInfo info;
  info.topology_zone = "z1";
  info.topology_region = "r1";
  auto c = engine_->Subscribe("t", "ch", info, &sink);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->SetReady(10).ok());
  PublishN("t", 2);
  ChannelStats s = ChannelStatsOf("t", "ch");
  EXPECT_EQ(s.global_msg_count, 2u);
  EXPECT_EQ(s.zone_local_msg_count + s.region_local_msg_count, 0u);
}

}  // namespace
}  // namespace nsq::broker
