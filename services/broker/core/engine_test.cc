#include "services/broker/core/engine.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/fake_clock.h"
#include "services/broker/core/names.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Records what the engine hands to one consumer.
class RecordingSink : public DeliverySink {
 public:
  void Deliver(std::vector<Delivery>& batch) override {
    ++batches;
    for (auto& d : batch) deliveries.push_back(d);
  }
  void Closed(const absl::Status& why) override {
    closed = true;
    close_status = why;
  }
  std::vector<std::string> Bodies() const {
    std::vector<std::string> out;
    for (const auto& d : deliveries) out.push_back(d.message->body);
    return out;
  }
  // Takes what was delivered since the last call.
  std::vector<Delivery> Take() {
    std::vector<Delivery> out;
    out.swap(deliveries);
    return out;
  }

  std::vector<Delivery> deliveries;
  int batches = 0;
  bool closed = false;
  absl::Status close_status;
};

// A storage whose writes can be made to fail, and which remembers saved metadata.
class ControlledStorage : public Storage {
 public:
  absl::StatusOr<std::unique_ptr<BackendQueue>> OpenQueue(std::string_view topic,
                                                          std::string_view channel,
                                                          bool durable) override {
    auto q = memory_.OpenQueue(topic, channel, durable);
    if (!q.ok()) return q.status();
    return std::unique_ptr<BackendQueue>(new FailingQueue(std::move(*q), this));
  }
  absl::Status MoveQueue(BackendQueue*, std::string_view, std::string_view, bool) override {
    return absl::OkStatus();
  }
  absl::Status SaveMetadata(const Metadata& md) override {
    saved = md;
    ++saves;
    return absl::OkStatus();
  }
  absl::StatusOr<Metadata> LoadMetadata() override { return to_load; }

  bool fail_writes = false;
  Metadata saved;
  Metadata to_load;
  int saves = 0;

 private:
  class FailingQueue : public BackendQueue {
   public:
    FailingQueue(std::unique_ptr<BackendQueue> inner, ControlledStorage* owner)
        : inner_(std::move(inner)), owner_(owner) {}
    absl::Status Append(absl::Span<const QueuedMessage> m) override {
      if (owner_->fail_writes) return absl::UnavailableError("disk full");
      return inner_->Append(m);
    }
    absl::Status Prepend(absl::Span<const QueuedMessage> m) override { return inner_->Prepend(m); }
    absl::Status Pop(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Pop(max, out); }
    int64_t Depth() const override { return inner_->Depth(); }
    absl::Status Clear() override { return inner_->Clear(); }
    absl::Status Destroy() override { return inner_->Destroy(); }

   private:
    std::unique_ptr<BackendQueue> inner_;
    ControlledStorage* owner_;
  };
  MemoryStorage memory_;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() { Reset(EngineOptions{}); }

  void Reset(EngineOptions options) {
    engine_.reset();
    engine_ = std::make_unique<Engine>(options, &clock_, &storage_);
    ASSERT_TRUE(engine_->Start().ok());
  }

  void Publish(const std::string& topic, std::vector<std::string> bodies,
               absl::Duration defer = absl::ZeroDuration()) {
    std::vector<std::string_view> views(bodies.begin(), bodies.end());
    ASSERT_TRUE(engine_->Publish(topic, views, defer).ok());
  }
  void PublishN(const std::string& topic, int n, const std::string& prefix = "m") {
    std::vector<std::string> bodies;
    for (int i = 0; i < n; ++i) bodies.push_back(prefix + std::to_string(i));
    Publish(topic, bodies);
  }

  std::shared_ptr<Consumer> Sub(const std::string& topic, const std::string& channel,
                                RecordingSink* sink, int64_t rdy = 100,
                                absl::Duration timeout = absl::ZeroDuration()) {
    ConsumerInfo info;
    info.client_id = "test";
    info.msg_timeout = timeout;
    auto c = engine_->Subscribe(topic, channel, info, sink);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->SetReady(rdy).ok());
    return *c;
  }

  ChannelStats ChannelStatsOf(const std::string& topic, const std::string& channel) {
    auto stats = engine_->GetStats(StatsFilter{topic, channel, true});
    EXPECT_TRUE(stats.ok()) << stats.status();
    EXPECT_THAT(*stats, SizeIs(1));
    EXPECT_THAT((*stats)[0].channels, SizeIs(1));
    return (*stats)[0].channels[0];
  }
  TopicStats TopicStatsOf(const std::string& topic) {
    auto stats = engine_->GetStats(StatsFilter{topic, "", true});
    EXPECT_TRUE(stats.ok()) << stats.status();
    return (*stats)[0];
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    engine_->ProcessTimers();
  }

  FakeClock clock_;
  ControlledStorage storage_;
  std::unique_ptr<Engine> engine_;
};

TEST(NamesTest, AcceptsNsqNamesAndRejectsOthers) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("orders.v1_A-b"));
  EXPECT_TRUE(IsValidName("tmp#ephemeral"));
  EXPECT_TRUE(IsValidName(std::string(64, 'x')));
  EXPECT_FALSE(IsValidName(std::string(65, 'x')));
  EXPECT_TRUE(IsValidName(std::string(54, 'x') + "#ephemeral"));
  EXPECT_FALSE(IsValidName(std::string(55, 'x') + "#ephemeral"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("#ephemeral"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a#b"));
  EXPECT_FALSE(IsValidName("topic/x"));
  EXPECT_TRUE(IsEphemeralName("x#ephemeral"));
  EXPECT_FALSE(IsEphemeralName("x"));
}

TEST(IdGeneratorTest, IdsAreSixteenHexCharsUniqueAndIncreasing) {
  IdGenerator gen(7);
  absl::Time now = absl::FromUnixSeconds(1700000000);
  std::set<std::string> seen;
  std::string last;
  // More than 4096 in one tick: the generator borrows the next tick instead of blocking.
  for (int i = 0; i < 10000; ++i) {
    std::string id = gen.Next(now).ToString();
    ASSERT_EQ(id.size(), 16u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ASSERT_GT(id, last);
    last = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IdGeneratorTest, NodeIdIsEncodedInTheId) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  uint64_t a = std::stoull(IdGenerator(1).Next(now).ToString(), nullptr, 16);
  uint64_t b = std::stoull(IdGenerator(2).Next(now).ToString(), nullptr, 16);
  EXPECT_EQ((a >> 12) & 0x3ff, 1u);
  EXPECT_EQ((b >> 12) & 0x3ff, 2u);
}

TEST_F(EngineTest, PublishCreatesTopicImplicitly) {
  EXPECT_FALSE(engine_->TopicExists("orders"));
  PublishN("orders", 3);
  EXPECT_TRUE(engine_->TopicExists("orders"));
  EXPECT_EQ(TopicStatsOf("orders").message_count, 3u);
}

TEST_F(EngineTest, PublishReturnsOneIdPerBodyInOrder) {
  std::vector<std::string_view> bodies = {"a", "b", "c"};
  std::vector<MessageId> ids;
  ASSERT_TRUE(engine_->Publish("t", bodies, absl::ZeroDuration(), &ids).ok());
  ASSERT_THAT(ids, SizeIs(3));
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  ASSERT_THAT(sink.deliveries, SizeIs(3));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sink.deliveries[i].message->id, ids[i]);
}

TEST_F(EngineTest, PublishRejectsBadTopicName) {
  std::vector<std::string_view> bodies = {"x"};
  absl::Status st = engine_->Publish("bad name", bodies);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("E_BAD_TOPIC"));
}

TEST_F(EngineTest, PublishRejectsEmptyBodyAndNoBodies) {
  std::vector<std::string_view> empty_body = {"ok", ""};
  EXPECT_EQ(engine_->Publish("t", empty_body).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Publish("t", {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(engine_->TopicExists("t"));
}

TEST_F(EngineTest, PublishRejectsBodyOverMaxMsgSize) {
  EngineOptions opts;
  opts.max_msg_size = 10;
  Reset(opts);
  std::string big(11, 'x');
  std::vector<std::string_view> bodies = {big};
  EXPECT_EQ(engine_->Publish("t", bodies).code(), absl::StatusCode::kResourceExhausted);
  std::string fits(10, 'x');
  std::vector<std::string_view> ok = {fits};
  EXPECT_TRUE(engine_->Publish("t", ok).ok());
}

TEST_F(EngineTest, DeferredPublishPastMaxReqTimeoutIsRejected) {
  std::vector<std::string_view> bodies = {"x"};
  EXPECT_EQ(engine_->Publish("t", bodies, absl::Hours(1) + absl::Milliseconds(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Publish("t", bodies, absl::Milliseconds(-1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(engine_->Publish("t", bodies, absl::Hours(1)).ok());
}

TEST_F(EngineTest, TopicWithoutChannelKeepsMessagesForItsFirstChannel) {
  PublishN("t", 5);
  EXPECT_EQ(TopicStatsOf("t").depth, 5);
  RecordingSink sink;
  auto c = Sub("t", "first", &sink);
  EXPECT_THAT(sink.Bodies(), ElementsAre("m0", "m1", "m2", "m3", "m4"));
  EXPECT_EQ(TopicStatsOf("t").depth, 0);
}

TEST_F(EngineTest, ChannelCreatedLaterSeesOnlyNewMessages) {
  RecordingSink a;
  auto ca = Sub("t", "a", &a);
  PublishN("t", 2, "old");
  RecordingSink b;
  auto cb = Sub("t", "b", &b);
  PublishN("t", 1, "new");
  EXPECT_THAT(a.Bodies(), ElementsAre("old0", "old1", "new0"));
  EXPECT_THAT(b.Bodies(), ElementsAre("new0"));
}

TEST_F(EngineTest, EveryChannelGetsEveryMessageWithTheBodyHeldOnce) {
  RecordingSink a, b;
  auto ca = Sub("t", "a", &a);
  auto cb = Sub("t", "b", &b);
  PublishN("t", 3);
  ASSERT_THAT(a.deliveries, SizeIs(3));
  ASSERT_THAT(b.deliveries, SizeIs(3));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.deliveries[i].message.get(), b.deliveries[i].message.get());
  }
}

TEST_F(EngineTest, ConsumersOnOneChannelShareItsMessages) {
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

TEST_F(EngineTest, ReadyCountIsAWindowOfUnfinishedMessages) {
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

TEST_F(EngineTest, ReadyZeroStopsDeliveryAndRaisingItResumes) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 0);
  PublishN("t", 5);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  ASSERT_TRUE(c->SetReady(2).ok());
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(EngineTest, ReadyOutOfRangeIsRejected) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 0);
  EXPECT_EQ(c->SetReady(2501).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c->SetReady(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(c->SetReady(2500).ok());
}

TEST_F(EngineTest, DeliveriesAreBatchedWhenManyMessagesAreReady) {
  PublishN("t", 500);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 2500);
  EXPECT_THAT(sink.deliveries, SizeIs(500));
  EXPECT_EQ(sink.batches, 1);
}

TEST_F(EngineTest, FinishOfUnknownIdFails) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  MessageId bogus;
  MessageId::FromBytes("0123456789abcdef", &bogus);
  absl::Status st = c->Finish(bogus);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("ID not in flight"));
}

TEST_F(EngineTest, FinishOfAnotherConsumersMessageFails) {
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

TEST_F(EngineTest, FinishTwiceFailsTheSecondTime) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  PublishN("t", 1);
  MessageId id = sink.deliveries[0].message->id;
  EXPECT_TRUE(c->Finish(id).ok());
  EXPECT_EQ(c->Finish(id).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, FinishBatchReportsEachId) {
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

TEST_F(EngineTest, InFlightTimeoutRequeuesWithAttemptsPlusOne) {
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

TEST_F(EngineTest, ConsumerMsgTimeoutOverridesTheDefault) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10, absl::Seconds(5));
  PublishN("t", 1);
  Advance(absl::Seconds(5));
  EXPECT_THAT(sink.deliveries, SizeIs(2));
}

TEST_F(EngineTest, ConsumerMsgTimeoutAboveMaxIsRejected) {
  RecordingSink sink;
  ConsumerInfo info;
  info.msg_timeout = absl::Minutes(15) + absl::Seconds(1);
  EXPECT_EQ(engine_->Subscribe("t", "ch", info, &sink).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, TouchRestartsTheInFlightTimeout) {
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

TEST_F(EngineTest, TouchCannotExtendPastMaxMsgTimeout) {
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

TEST_F(EngineTest, TouchOfUnknownIdFails) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  MessageId bogus;
  MessageId::FromBytes("0123456789abcdef", &bogus);
  EXPECT_EQ(c->Touch(bogus).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, RequeueWithoutDelayRedeliversAtOnceWithAttemptsPlusOne) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 1);
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::ZeroDuration()).ok());
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].attempts, 2);
  EXPECT_EQ(ChannelStatsOf("t", "ch").requeue_count, 1u);
}

TEST_F(EngineTest, RequeueWithDelayRedeliversAfterTheDelay) {
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

TEST_F(EngineTest, RequeueDelayIsClampedToMaxReqTimeout) {
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

TEST_F(EngineTest, RequeueFreesTheReadyWindow) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 2);
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::Seconds(5)).ok());
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].message->body, "m1");
}

TEST_F(EngineTest, DeferredPublishBecomesVisibleAfterTheDelay) {
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

TEST_F(EngineTest, DeferredPublishToTopicWithoutChannelKeepsItsDueTime) {
  Publish("t", {"later"}, absl::Seconds(10));
  Advance(absl::Seconds(4));
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  Advance(absl::Seconds(5));
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  Advance(absl::Seconds(1));
  EXPECT_THAT(sink.Bodies(), ElementsAre("later"));
}

TEST_F(EngineTest, PausedChannelKeepsItsQueueUntilUnpaused) {
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

TEST_F(EngineTest, PausedTopicBuffersUntilUnpaused) {
  RecordingSink a, b;
  auto ca = Sub("t", "a", &a, 10);
  auto cb = Sub("t", "b", &b, 10);
  ASSERT_TRUE(engine_->SetTopicPaused("t", true).ok());
  PublishN("t", 2);
  EXPECT_THAT(a.deliveries, SizeIs(0));
  EXPECT_EQ(TopicStatsOf("t").depth, 2);
  EXPECT_TRUE(TopicStatsOf("t").paused);
  ASSERT_TRUE(engine_->SetTopicPaused("t", false).ok());
  EXPECT_THAT(a.Bodies(), ElementsAre("m0", "m1"));
  EXPECT_THAT(b.Bodies(), ElementsAre("m0", "m1"));
}

TEST_F(EngineTest, PauseOfMissingTopicOrChannelIsNotFound) {
  EXPECT_EQ(engine_->SetTopicPaused("nope", true).code(), absl::StatusCode::kNotFound);
  PublishN("t", 1);
  EXPECT_EQ(engine_->SetChannelPaused("t", "nope", true).code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EmptyChannelDropsQueuedInFlightAndDeferredMessages) {
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

TEST_F(EngineTest, EmptyTopicDropsItsBacklogButNotChannelQueues) {
  PublishN("t", 3);
  ASSERT_TRUE(engine_->EmptyTopic("t").ok());
  EXPECT_EQ(TopicStatsOf("t").depth, 0);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
}

TEST_F(EngineTest, DeleteChannelClosesItsConsumers) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  ASSERT_TRUE(engine_->DeleteChannel("t", "ch").ok());
  EXPECT_TRUE(sink.closed);
  EXPECT_EQ(sink.close_status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->DeleteChannel("t", "ch").code(), absl::StatusCode::kNotFound);
  PublishN("t", 1);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
}

TEST_F(EngineTest, DeleteTopicClosesConsumersAndForgetsTheTopic) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  PublishN("t", 2);
  ASSERT_TRUE(engine_->DeleteTopic("t").ok());
  EXPECT_TRUE(sink.closed);
  EXPECT_FALSE(engine_->TopicExists("t"));
  EXPECT_EQ(engine_->DeleteTopic("t").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->GetStats(StatsFilter{"t", "", true}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EphemeralChannelVanishesWithItsLastConsumer) {
  RecordingSink a, b;
  auto ca = Sub("t", "ch#ephemeral", &a);
  auto cb = Sub("t", "ch#ephemeral", &b);
  ca->Close();
  EXPECT_THAT(TopicStatsOf("t").channels, SizeIs(1));
  cb->Close();
  EXPECT_THAT(TopicStatsOf("t").channels, SizeIs(0));
  EXPECT_TRUE(engine_->TopicExists("t"));
}

TEST_F(EngineTest, EphemeralTopicVanishesWithItsLastChannel) {
  RecordingSink sink;
  auto c = Sub("t#ephemeral", "ch#ephemeral", &sink);
  EXPECT_TRUE(engine_->TopicExists("t#ephemeral"));
  c->Close();
  EXPECT_FALSE(engine_->TopicExists("t#ephemeral"));
}

TEST_F(EngineTest, EphemeralChannelDropsMessagesPastMemQueueSize) {
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

TEST_F(EngineTest, EphemeralChannelWithMemQueueSizeZeroDeliversToReadyConsumersOnly) {
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

TEST_F(EngineTest, EphemeralNamesAreNeverPersisted) {
  RecordingSink sink;
  auto c = Sub("t", "ch#ephemeral", &sink);
  auto c2 = Sub("e#ephemeral", "x", &sink);
  ASSERT_THAT(storage_.saved.topics, SizeIs(1));
  EXPECT_EQ(storage_.saved.topics[0].name, "t");
  EXPECT_THAT(storage_.saved.topics[0].channels, SizeIs(0));
}

TEST_F(EngineTest, ClosedConsumersInFlightMessagesGoToOthersAtOnce) {
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

TEST_F(EngineTest, OverflowPastMemQueueSizeKeepsFifoOrder) {
  EngineOptions opts;
  opts.mem_queue_size = 4;
  Reset(opts);
  RecordingSink a, b;
  auto ca = Sub("t", "a", &a, 0);
  auto cb = Sub("t", "b", &b, 0);
  int published = 0;
  std::vector<std::string> got_a;
  // Interleave publishing and consuming across the memory/backend boundary.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 7; ++i) bodies.push_back(std::to_string(published++));
    Publish("t", bodies);
    EXPECT_GT(ChannelStatsOf("t", "a").backend_depth, 0);
    ASSERT_TRUE(ca->SetReady(5).ok());
    for (auto& d : a.Take()) {
      got_a.push_back(d.message->body);
      ASSERT_TRUE(ca->Finish(d.message->id).ok());
    }
    ASSERT_TRUE(ca->SetReady(0).ok());
  }
  ASSERT_TRUE(ca->SetReady(100).ok());
  for (auto& d : a.Take()) got_a.push_back(d.message->body);
  ASSERT_TRUE(cb->SetReady(2500).ok());
  std::vector<std::string> expected;
  for (int i = 0; i < published; ++i) expected.push_back(std::to_string(i));
  EXPECT_EQ(got_a, expected);
  EXPECT_EQ(b.Bodies(), expected);
}

TEST_F(EngineTest, MaxChannelConsumersIsEnforced) {
  EngineOptions opts;
  opts.max_channel_consumers = 1;
  Reset(opts);
  RecordingSink a, b;
  auto ca = Sub("t", "ch", &a);
  EXPECT_EQ(engine_->Subscribe("t", "ch", ConsumerInfo{}, &b).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(EngineTest, StatsReportCountsOfTopicChannelAndConsumers) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 2);
  Publish("t", {"aa", "bbb", "c"});
  ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
  ASSERT_TRUE(c->Requeue(sink.deliveries[1].message->id, absl::Seconds(1)).ok());
  TopicStats t = TopicStatsOf("t");
  EXPECT_EQ(t.message_count, 3u);
  EXPECT_EQ(t.message_bytes, 6u);
  ASSERT_THAT(t.channels, SizeIs(1));
  const ChannelStats& ch = t.channels[0];
  EXPECT_EQ(ch.message_count, 3u);
  EXPECT_EQ(ch.in_flight_count, 1);
  EXPECT_EQ(ch.deferred_count, 1);
  EXPECT_EQ(ch.requeue_count, 1u);
  EXPECT_EQ(ch.consumer_count, 1);
  ASSERT_THAT(ch.consumers, SizeIs(1));
  EXPECT_EQ(ch.consumers[0].ready_count, 2);
  EXPECT_EQ(ch.consumers[0].in_flight_count, 1);
  EXPECT_EQ(ch.consumers[0].message_count, 3u);
  EXPECT_EQ(ch.consumers[0].finish_count, 1u);
  EXPECT_EQ(ch.consumers[0].requeue_count, 1u);
}

TEST_F(EngineTest, ProcessTimersReportsTheNextDeadline) {
  EXPECT_EQ(engine_->ProcessTimers(), absl::InfiniteFuture());
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 1);
  EXPECT_EQ(engine_->ProcessTimers(), clock_.Now() + absl::Seconds(60));
}

TEST_F(EngineTest, MetadataIsSavedAndRestored) {
  ASSERT_TRUE(engine_->CreateChannel("t", "a").ok());
  ASSERT_TRUE(engine_->CreateChannel("t", "b").ok());
  ASSERT_TRUE(engine_->SetChannelPaused("t", "b", true).ok());
  ASSERT_TRUE(engine_->CreateTopic("u").ok());
  ASSERT_TRUE(engine_->SetTopicPaused("u", true).ok());
  ASSERT_THAT(storage_.saved.topics, SizeIs(2));

  storage_.to_load = storage_.saved;
  Reset(EngineOptions{});
  auto stats = engine_->GetStats();
  ASSERT_TRUE(stats.ok());
  ASSERT_THAT(*stats, SizeIs(2));
  EXPECT_EQ((*stats)[0].name, "t");
  ASSERT_THAT((*stats)[0].channels, SizeIs(2));
  EXPECT_FALSE((*stats)[0].channels[0].paused);
  EXPECT_TRUE((*stats)[0].channels[1].paused);
  EXPECT_TRUE((*stats)[1].paused);
}

TEST_F(EngineTest, StorageErrorFailsThePublishAndShowsInHealth) {
  EngineOptions opts;
  opts.mem_queue_size = 1;
  Reset(opts);
  PublishN("t", 1);
  storage_.fail_writes = true;
  std::vector<std::string_view> bodies = {"x"};
  absl::Status st = engine_->Publish("t", bodies);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(engine_->Health().ok());
  EXPECT_THAT(std::string(engine_->Health().message()), HasSubstr("disk full"));
  storage_.fail_writes = false;
  ASSERT_TRUE(engine_->Publish("t", bodies).ok());
  EXPECT_TRUE(engine_->Health().ok());
}

TEST_F(EngineTest, ShutdownClosesConsumersAndRequeuesTheirMessages) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 5);
  PublishN("t", 2);
  engine_->Shutdown();
  EXPECT_TRUE(sink.closed);
  EXPECT_EQ(sink.close_status.code(), absl::StatusCode::kUnavailable);
  ChannelStats s = ChannelStatsOf("t", "ch");
  EXPECT_EQ(s.in_flight_count, 0);
  EXPECT_EQ(s.depth, 2);
}

class RecordingObserver : public EngineObserver {
 public:
  void TopicCreated(const std::string& t) override { events.push_back("+" + t); }
  void TopicDeleted(const std::string& t) override { events.push_back("-" + t); }
  void ChannelCreated(const std::string& t, const std::string& c) override {
    events.push_back("+" + t + "/" + c);
  }
  void ChannelDeleted(const std::string& t, const std::string& c) override {
    events.push_back("-" + t + "/" + c);
  }
  std::vector<std::string> events;
};

TEST_F(EngineTest, ObserverHearsOfTopicsAndChannelsComingAndGoing) {
  RecordingObserver observer;
  engine_ = std::make_unique<Engine>(EngineOptions{}, &clock_, &storage_);
  engine_->AddObserver(&observer);
  ASSERT_TRUE(engine_->Start().ok());
  PublishN("t", 1);
  PublishN("t", 1);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  ASSERT_TRUE(engine_->CreateChannel("t", "other").ok());
  ASSERT_TRUE(engine_->DeleteChannel("t", "other").ok());
  auto e = Sub("x#ephemeral", "y#ephemeral", &sink);
  e->Close();
  ASSERT_TRUE(engine_->DeleteTopic("t").ok());
  EXPECT_THAT(observer.events,
              ElementsAre("+t", "+t/ch", "+t/other", "-t/other", "+x#ephemeral",
                          "+x#ephemeral/y#ephemeral", "-x#ephemeral/y#ephemeral", "-x#ephemeral",
                          "-t/ch", "-t"));
}

TEST_F(EngineTest, ObserverMayCreateChannelsBeforeTheFirstPublishLands) {
  // nsqd's channel pre-creation: channels known elsewhere exist before the first message.
  class Precreator : public EngineObserver {
   public:
    Engine* engine = nullptr;
    void TopicCreated(const std::string& t) override {
      ASSERT_TRUE(engine->CreateChannel(t, "a").ok());
      ASSERT_TRUE(engine->CreateChannel(t, "b").ok());
    }
  } precreator;
  engine_ = std::make_unique<Engine>(EngineOptions{}, &clock_, &storage_);
  precreator.engine = engine_.get();
  engine_->AddObserver(&precreator);
  ASSERT_TRUE(engine_->Start().ok());
  PublishN("t", 2);
  EXPECT_EQ(ChannelStatsOf("t", "a").depth, 2);
  EXPECT_EQ(ChannelStatsOf("t", "b").depth, 2);
}

TEST_F(EngineTest, SampleRateDropsMostMessagesForThatConsumerOnly) {
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

TEST_F(EngineTest, SubscribeRejectsSampleRateOutsideZeroTo99) {
  RecordingSink sink;
  ConsumerInfo info;
  info.sample_rate = 100;
  auto c = engine_->Subscribe("t", "ch", info, &sink);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "E_BAD_BODY sample rate (100) is invalid");
}

}  // namespace
}  // namespace nsq::broker
