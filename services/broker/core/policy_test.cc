// Beyond NSQ: max attempts with a dead-letter topic, TTL, max depth, peek, requeue
// without an attempt, and policies surviving a restart, on the fake clock.

#include <string>
#include <vector>

#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using engine_testing::RecordingSink;

class PolicyTest : public engine_testing::EngineTest {
 protected:
  // Times out everything in flight once (the in-flight timeout is 60 s).
  void TimeOutAll() { Advance(absl::Seconds(61)); }
};

QueuePolicy MaxAttempts(int n, std::string dlq = "") {
  QueuePolicy p;
  p.max_attempts = n;
  p.dead_letter_topic = std::move(dlq);
  return p;
}

TEST_F(PolicyTest, AMessageAtMaxAttemptsGoesToTheDeadLetterTopicWithItsOrigin) {
  ASSERT_TRUE(engine_->SetChannelPolicy("orders", "billing", MaxAttempts(3, "orders_dead")).ok());
  RecordingSink dead;
  auto dc = Sub("orders_dead", "inspect", &dead, 10);
  RecordingSink sink;
  auto c = Sub("orders", "billing", &sink, 10);
  Publish("orders", {"poison"});
  const MessageId original = sink.deliveries[0].message->id;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::vector<Delivery> got = sink.Take();
    ASSERT_THAT(got, SizeIs(1)) << "attempt " << attempt;
    EXPECT_EQ(got[0].attempts, attempt);
    ASSERT_TRUE(c->Requeue(got[0].message->id, absl::ZeroDuration()).ok());
  }
  engine_->ProcessTimers();  // sends the dead-letter copy
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  ASSERT_THAT(dead.deliveries, SizeIs(1));
  const Delivery& d = dead.deliveries[0];
  EXPECT_EQ(d.message->body, "poison");
  EXPECT_EQ(d.attempts, 1);
  ASSERT_NE(d.message->origin, nullptr);
  EXPECT_EQ(d.message->origin->topic, "orders");
  EXPECT_EQ(d.message->origin->channel, "billing");
  EXPECT_EQ(d.message->origin->id, original);
  EXPECT_EQ(d.message->origin->attempts, 3);
  EXPECT_EQ(d.message->origin->reason, MessageOrigin::Reason::kMaxAttempts);
  ChannelStats st = ChannelStatsOf("orders", "billing");
  EXPECT_EQ(st.attempts_exceeded_count, 1u);
  EXPECT_EQ(st.dead_letter_count, 1u);
  EXPECT_EQ(st.depth, 0);
  EXPECT_EQ(st.in_flight_count, 0);
}

TEST_F(PolicyTest, AMessageOutOfAttemptsIsDeadLetteredAtOnceEvenWithNoConsumerLeft) {
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", MaxAttempts(1, "dead")).ok());
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  Publish("t", {"m"});
  ASSERT_TRUE(c->Requeue(sink.Take()[0].message->id, absl::Seconds(30)).ok());
  c->Close();  // nobody left to dispatch to
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.dead_letter_count, 1u);
  EXPECT_EQ(st.deferred_count, 0);
  EXPECT_EQ(st.depth, 0);
  engine_->ProcessTimers();
  EXPECT_EQ(TopicStatsOf("dead").depth, 1);
}

TEST_F(PolicyTest, BelowMaxAttemptsAMessageIsDeliveredAsUsual) {
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", MaxAttempts(2)).ok());
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  Publish("t", {"m"});
  TimeOutAll();  // attempt 1 times out
  std::vector<Delivery> got = sink.Take();
  ASSERT_THAT(got, SizeIs(2));
  EXPECT_EQ(got[1].attempts, 2);
  ASSERT_TRUE(c->Finish(got[1].message->id).ok());
  EXPECT_EQ(ChannelStatsOf("t", "c").attempts_exceeded_count, 0u);
}

TEST_F(PolicyTest, WithoutADeadLetterTopicAMessageOutOfAttemptsIsDroppedAndCounted) {
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", MaxAttempts(1)).ok());
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  Publish("t", {"m"});
  ASSERT_TRUE(c->Requeue(sink.Take()[0].message->id, absl::ZeroDuration()).ok());
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.attempts_exceeded_count, 1u);
  EXPECT_EQ(st.dead_letter_count, 0u);
  EXPECT_EQ(st.depth, 0);
}

TEST_F(PolicyTest, RequeueWithoutAttemptDoesNotCountTowardsMaxAttempts) {
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", MaxAttempts(1)).ok());
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  Publish("t", {"m"});
  for (int i = 0; i < 3; ++i) {
    std::vector<Delivery> got = sink.Take();
    ASSERT_THAT(got, SizeIs(1));
    EXPECT_EQ(got[0].attempts, 1);
    ASSERT_TRUE(c->RequeueWithoutAttempt(got[0].message->id, absl::ZeroDuration()).ok());
  }
  EXPECT_EQ(ChannelStatsOf("t", "c").attempts_exceeded_count, 0u);
}

TEST_F(PolicyTest, AMessageIsDeliveredJustBeforeItsTtlAndExpiresAtIt) {
  QueuePolicy p;
  p.message_ttl = absl::Seconds(10);
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", p).ok());
  Publish("t", {"old"});
  Advance(absl::Seconds(5));
  Publish("t", {"young"});
  Advance(absl::Seconds(5));  // "old" is exactly 10 s old, "young" 5 s
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  EXPECT_THAT(sink.Bodies(), ElementsAre("young"));
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.expired_count, 1u);
  EXPECT_EQ(st.depth, 0);
}

TEST_F(PolicyTest, ExpiredMessagesGoToTheDeadLetterTopicWhenAskedTo) {
  QueuePolicy p;
  p.message_ttl = absl::Seconds(1);
  p.dead_letter_topic = "late";
  p.dead_letter_expired = true;
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", p).ok());
  Publish("t", {"stale"});
  Advance(absl::Seconds(2));
  RecordingSink sink, dead;
  auto dc = Sub("late", "x", &dead, 10);
  auto c = Sub("t", "c", &sink, 10);
  engine_->ProcessTimers();
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  ASSERT_THAT(dead.deliveries, SizeIs(1));
  EXPECT_EQ(dead.deliveries[0].message->origin->reason, MessageOrigin::Reason::kExpired);
  EXPECT_EQ(ChannelStatsOf("t", "c").dead_letter_count, 1u);
}

TEST_F(PolicyTest, RejectNewFailsThePublishPastMaxDepthAndQueuesNothing) {
  QueuePolicy p;
  p.max_depth = 3;
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "full", p).ok());
  ASSERT_TRUE(engine_->CreateChannel("t", "other").ok());
  PublishN("t", 3);
  std::vector<std::string_view> more = {"x"};
  absl::Status st = engine_->Publish("t", more);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()), HasSubstr("t:full is full"));
  EXPECT_EQ(ChannelStatsOf("t", "full").depth, 3);
  EXPECT_EQ(ChannelStatsOf("t", "other").depth, 3);  // nothing of the refused publish
  EXPECT_EQ(ChannelStatsOf("t", "full").depth_rejected_count, 1u);
  RecordingSink sink;
  auto c = Sub("t", "full", &sink, 1);
  ASSERT_TRUE(c->Finish(sink.Take()[0].message->id).ok());  // room for one
  EXPECT_TRUE(engine_->Publish("t", more).ok());
}

TEST_F(PolicyTest, DropOldestKeepsTheNewestMaxDepthMessages) {
  QueuePolicy p;
  p.max_depth = 3;
  p.depth_policy = DepthPolicy::kDropOldest;
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", p).ok());
  PublishN("t", 5);
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.depth, 3);
  EXPECT_EQ(st.depth_dropped_count, 2u);
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  EXPECT_THAT(sink.Bodies(), ElementsAre("m2", "m3", "m4"));
}

TEST_F(PolicyTest, PeekShowsInFlightReadyAndDeferredMessagesAndChangesNothing) {
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 1);
  PublishN("t", 3);
  Publish("t", {"later"}, absl::Seconds(30));
  auto peeked = engine_->Peek("t", "c", 10);
  ASSERT_TRUE(peeked.ok());
  ASSERT_THAT(*peeked, SizeIs(4));
  EXPECT_EQ((*peeked)[0].state, PeekedMessage::State::kInFlight);
  EXPECT_EQ((*peeked)[0].message->body, "m0");
  EXPECT_EQ((*peeked)[0].consumer, "test");
  EXPECT_EQ((*peeked)[0].attempts, 1);
  EXPECT_EQ((*peeked)[1].state, PeekedMessage::State::kReady);
  EXPECT_EQ((*peeked)[1].message->body, "m1");
  EXPECT_EQ((*peeked)[2].message->body, "m2");
  EXPECT_EQ((*peeked)[3].state, PeekedMessage::State::kDeferred);
  EXPECT_EQ((*peeked)[3].due_ns, absl::ToUnixNanos(clock_.Now() + absl::Seconds(30)));
  ChannelStats st = ChannelStatsOf("t", "c");
  EXPECT_EQ(st.depth, 2);
  EXPECT_EQ(st.in_flight_count, 1);
  EXPECT_EQ(st.deferred_count, 1);
  ASSERT_TRUE(c->Finish(sink.Take()[0].message->id).ok());
  EXPECT_THAT(sink.Bodies(), ElementsAre("m1"));  // the order is untouched
  auto limited = engine_->Peek("t", "c", 1);
  ASSERT_TRUE(limited.ok());
  EXPECT_THAT(*limited, SizeIs(3));  // one of each state
}

TEST_F(PolicyTest, ATopicsPolicyIsTheDefaultOfItsNewChannelsOnly) {
  ASSERT_TRUE(engine_->CreateChannel("t", "before").ok());
  ASSERT_TRUE(engine_->SetTopicPolicy("t", MaxAttempts(4)).ok());
  ASSERT_TRUE(engine_->CreateChannel("t", "after").ok());
  EXPECT_EQ(ChannelStatsOf("t", "before").policy.max_attempts, 0);
  EXPECT_EQ(ChannelStatsOf("t", "after").policy.max_attempts, 4);
  EXPECT_EQ(engine_->GetTopicPolicy("t")->max_attempts, 4);
}

TEST_F(PolicyTest, BrokerWideDefaultsApplyToNewChannels) {
  EngineOptions opts;
  opts.default_policy.message_ttl = absl::Minutes(5);
  Reset(opts);
  ASSERT_TRUE(engine_->CreateChannel("t", "c").ok());
  EXPECT_EQ(ChannelStatsOf("t", "c").policy.message_ttl, absl::Minutes(5));
}

TEST_F(PolicyTest, TheBrokerWideDeadLetterTopicDoesNotTakeTheBrokerWideDefault) {
  EngineOptions opts;
  opts.default_policy.max_attempts = 2;
  opts.default_policy.dead_letter_topic = "dlq";
  Reset(opts);
  ASSERT_TRUE(engine_->CreateChannel("t", "c").ok());
  ASSERT_TRUE(engine_->CreateChannel("dlq", "c").ok());
  EXPECT_EQ(ChannelStatsOf("t", "c").policy.dead_letter_topic, "dlq");
  EXPECT_EQ(ChannelStatsOf("dlq", "c").policy, QueuePolicy{});
  EXPECT_EQ(*engine_->GetTopicPolicy("dlq"), QueuePolicy{});
}

TEST_F(PolicyTest, PoliciesArePersistedWithTheTopology) {
  QueuePolicy p = MaxAttempts(5, "dead");
  p.max_depth = 100;
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", p).ok());
  ASSERT_TRUE(engine_->SetTopicPolicy("t", MaxAttempts(2)).ok());
  ASSERT_THAT(storage_.saved.topics, SizeIs(1));
  EXPECT_TRUE(storage_.saved.topics[0].policy == MaxAttempts(2));
  ASSERT_THAT(storage_.saved.topics[0].channels, SizeIs(1));
  EXPECT_TRUE(storage_.saved.topics[0].channels[0].policy == p);
  // A restart restores both.
  storage_.to_load = storage_.saved;
  Reset(EngineOptions{});
  EXPECT_TRUE(ChannelStatsOf("t", "c").policy == p);
  EXPECT_EQ(engine_->GetTopicPolicy("t")->max_attempts, 2);
}

TEST_F(PolicyTest, BadPoliciesAreRefused) {
  QueuePolicy p;
  p.max_attempts = -1;
  EXPECT_EQ(engine_->SetChannelPolicy("t", "c", p).code(), absl::StatusCode::kInvalidArgument);
  p = QueuePolicy{};
  p.max_depth = -5;
  EXPECT_EQ(engine_->SetChannelPolicy("t", "c", p).code(), absl::StatusCode::kInvalidArgument);
  p = QueuePolicy{};
  p.message_ttl = absl::Seconds(-1);
  EXPECT_EQ(engine_->SetTopicPolicy("t", p).code(), absl::StatusCode::kInvalidArgument);
  absl::Status self = engine_->SetChannelPolicy("t", "c", MaxAttempts(3, "t"));
  EXPECT_EQ(self.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(self.message()), HasSubstr("must not be the topic itself"));
  EXPECT_EQ(engine_->SetChannelPolicy("t", "c", MaxAttempts(3, "bad name!")).code(),
            absl::StatusCode::kInvalidArgument);
  p = QueuePolicy{};
  p.dead_letter_expired = true;
  EXPECT_EQ(engine_->SetChannelPolicy("t", "c", p).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(engine_->TopicExists("t"));  // nothing created by a refused call
}

TEST_F(PolicyTest, ADurableChannelKeepsADeadLetteredMessageUntilItsCopyIsPublished) {
  EngineOptions opts;
  opts.mem_queue_size = 0;
  Reset(opts);
  ASSERT_TRUE(engine_->SetChannelPolicy("t", "c", MaxAttempts(1, "dead")).ok());
  RecordingSink sink;
  auto c = Sub("t", "c", &sink, 10);
  Publish("t", {"m"});
  const int acks = storage_.acks;
  ASSERT_TRUE(c->Requeue(sink.Take()[0].message->id, absl::ZeroDuration()).ok());
  EXPECT_EQ(storage_.acks, acks);  // queued for the dead-letter topic, still on disk
  storage_.fail_writes = true;
  engine_->ProcessTimers();  // the copy cannot be written: kept, retried
  EXPECT_EQ(storage_.acks, acks);
  storage_.fail_writes = false;
  engine_->ProcessTimers();
  EXPECT_EQ(storage_.acks, acks + 1);
  EXPECT_EQ(TopicStatsOf("dead").depth, 1);
}

}  // namespace
}  // namespace nsq::broker
