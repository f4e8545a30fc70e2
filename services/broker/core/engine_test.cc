#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using engine_testing::ControlledStorage;
using engine_testing::RecordingSink;

using EngineTest = engine_testing::EngineTest;

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

TEST_F(EngineTest, PauseOfMissingTopicOrChannelIsNotFound) {
  EXPECT_EQ(engine_->SetTopicPaused("nope", true).code(), absl::StatusCode::kNotFound);
  PublishN("t", 1);
  EXPECT_EQ(engine_->SetChannelPaused("t", "nope", true).code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, EphemeralNamesAreNeverPersisted) {
  RecordingSink sink;
  auto c = Sub("t", "ch#ephemeral", &sink);
  auto c2 = Sub("e#ephemeral", "x", &sink);
  ASSERT_THAT(storage_.saved.topics, SizeIs(1));
  EXPECT_EQ(storage_.saved.topics[0].name, "t");
  EXPECT_THAT(storage_.saved.topics[0].channels, SizeIs(0));
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

// Deleting a topic destroys its storage without the engine's lock: publishers to other
// topics, and subscribers, go on meanwhile.
TEST_F(EngineTest, ADeleteStuckOnDiskDoesNotStallOtherTopics) {
  PublishN("slow", 1);
  PublishN("other", 1);
  absl::Notification in_destroy, release;
  storage_.on_destroy = [&] {
    if (!in_destroy.HasBeenNotified()) in_destroy.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
  };
  std::thread deleter([&] { EXPECT_TRUE(engine_->DeleteTopic("slow").ok()); });
  ASSERT_TRUE(in_destroy.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Notification published;
  std::thread publisher([&] {
    std::vector<std::string_view> bodies = {"x"};
    EXPECT_TRUE(engine_->Publish("other", bodies).ok());
    EXPECT_TRUE(engine_->Publish("brand-new", bodies).ok());
    published.Notify();
  });
  EXPECT_TRUE(published.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "a publish to another topic waited for the delete's disk work";
  release.Notify();
  publisher.join();
  deleter.join();
  storage_.on_destroy = nullptr;
  EXPECT_FALSE(engine_->TopicExists("slow"));
  EXPECT_EQ(TopicStatsOf("other").message_count, 2u);
}

TEST_F(EngineTest, ATopicDeletedAndRecreatedAtOnceStartsEmpty) {
  PublishN("t", 3);
  ASSERT_TRUE(engine_->DeleteTopic("t").ok());
  PublishN("t", 1);
  EXPECT_EQ(TopicStatsOf("t").message_count, 1u);
  EXPECT_EQ(TopicStatsOf("t").depth, 1);
}

TEST_F(EngineTest, ShutdownTakesNoMoreWork) {
  PublishN("t", 1);
  engine_->Shutdown();
  std::vector<std::string_view> bodies = {"late"};
  EXPECT_EQ(engine_->Publish("t", bodies).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(engine_->Publish("new", bodies).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(engine_->TopicExists("new"));
  EXPECT_EQ(engine_->CreateChannel("t", "c").code(), absl::StatusCode::kUnavailable);
  RecordingSink sink;
  EXPECT_EQ(engine_->Subscribe("t", "c", ConsumerInfo{}, &sink).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(TopicStatsOf("t").message_count, 1u);  // "late" never reached the topic
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

TEST_F(EngineTest, ShutdownStatusIsOkWhenEverythingWasWrittenOut) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 1);
  PublishN("t", 3);
  engine_->Shutdown();
  EXPECT_TRUE(engine_->ShutdownStatus().ok()) << engine_->ShutdownStatus();
}

TEST_F(EngineTest, ShutdownStatusNamesTheQueueThatCouldNotBeWrittenOut) {
  ASSERT_TRUE(engine_->CreateChannel("t", "ch").ok());
  PublishN("t", 3);  // in the channel's memory only
  storage_.fail_writes = true;  // e.g. the disk is full
  engine_->Shutdown();
  absl::Status st = engine_->ShutdownStatus();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("cannot write channel t/ch out"));
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("disk full"));
}

class RecordingObserver : public EngineObserver {
 public:
  void TopicCreated(const std::string& t, TopicHold) override { events.push_back("+" + t); }
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
    void TopicCreated(const std::string& t, TopicHold) override {
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

// The lookups of pre-creation happen off the publishing thread: while an observer holds
// a new topic, publishes (from any thread) are accepted and wait; every channel created
// before the hold is dropped gets every one of them, the first one included.
TEST_F(EngineTest, AHeldNewTopicGivesEveryPrecreatedChannelEveryMessage) {
  class Holder : public EngineObserver {
   public:
    void TopicCreated(const std::string& t, TopicHold hold) override { holds.push_back(hold); }
    std::vector<TopicHold> holds;
  } holder;
  engine_ = std::make_unique<Engine>(EngineOptions{}, &clock_, &storage_);
  engine_->AddObserver(&holder);
  ASSERT_TRUE(engine_->Start().ok());
  PublishN("t", 3, "early");
  std::thread concurrent([&] { PublishN("t", 2, "other"); });
  concurrent.join();
  ASSERT_THAT(holder.holds, SizeIs(1));
  RecordingSink sink;
  auto c = Sub("t", "a", &sink, 100);  // a consumer arriving meanwhile waits too
  ASSERT_TRUE(engine_->CreateChannel("t", "b").ok());
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  EXPECT_EQ(TopicStatsOf("t").depth, 5);
  holder.holds.clear();  // pre-creation done: the topic starts
  EXPECT_THAT(sink.Bodies(), ElementsAre("early0", "early1", "early2", "other0", "other1"));
  EXPECT_EQ(ChannelStatsOf("t", "b").depth, 5);
  EXPECT_EQ(TopicStatsOf("t").depth, 0);
  PublishN("t", 1, "late");
  EXPECT_EQ(ChannelStatsOf("t", "b").depth, 6);
}

}  // namespace
}  // namespace nsq::broker
