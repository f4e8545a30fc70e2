#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using engine_testing::ControlledStorage;
using engine_testing::RecordingSink;

class TopicTest : public engine_testing::EngineTest {};

TEST_F(TopicTest, PublishCreatesTopicImplicitly) {
  EXPECT_FALSE(engine_->TopicExists("orders"));
  PublishN("orders", 3);
  EXPECT_TRUE(engine_->TopicExists("orders"));
  EXPECT_EQ(TopicStatsOf("orders").message_count, 3u);
}

TEST_F(TopicTest, TopicWithoutChannelKeepsMessagesForItsFirstChannel) {
  PublishN("t", 5);
  EXPECT_EQ(TopicStatsOf("t").depth, 5);
  RecordingSink sink;
  auto c = Sub("t", "first", &sink);
  EXPECT_THAT(sink.Bodies(), ElementsAre("m0", "m1", "m2", "m3", "m4"));
  EXPECT_EQ(TopicStatsOf("t").depth, 0);
}

TEST_F(TopicTest, ChannelCreatedLaterSeesOnlyNewMessages) {
  RecordingSink a;
  auto ca = Sub("t", "a", &a);
  PublishN("t", 2, "old");
  RecordingSink b;
  auto cb = Sub("t", "b", &b);
  PublishN("t", 1, "new");
  EXPECT_THAT(a.Bodies(), ElementsAre("old0", "old1", "new0"));
  EXPECT_THAT(b.Bodies(), ElementsAre("new0"));
}

TEST_F(TopicTest, EveryChannelGetsEveryMessageWithTheBodyHeldOnce) {
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

TEST_F(TopicTest, DeferredPublishToTopicWithoutChannelKeepsItsDueTime) {
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

TEST_F(TopicTest, PausedTopicBuffersUntilUnpaused) {
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

TEST_F(TopicTest, EmptyTopicDropsItsBacklogButNotChannelQueues) {
  PublishN("t", 3);
  ASSERT_TRUE(engine_->EmptyTopic("t").ok());
  EXPECT_EQ(TopicStatsOf("t").depth, 0);
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink, 10);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
}

TEST_F(TopicTest, DeleteTopicClosesConsumersAndForgetsTheTopic) {
  RecordingSink sink;
  auto c = Sub("t", "ch", &sink);
  PublishN("t", 2);
  ASSERT_TRUE(engine_->DeleteTopic("t").ok());
  EXPECT_TRUE(sink.closed);
  EXPECT_FALSE(engine_->TopicExists("t"));
  EXPECT_EQ(engine_->DeleteTopic("t").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->GetStats(StatsFilter{"t", "", true}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TopicTest, EphemeralTopicVanishesWithItsLastChannel) {
  RecordingSink sink;
  auto c = Sub("t#ephemeral", "ch#ephemeral", &sink);
  EXPECT_TRUE(engine_->TopicExists("t#ephemeral"));
  c->Close();
  EXPECT_FALSE(engine_->TopicExists("t#ephemeral"));
}

// A publish writes to each channel's backend under that channel's lock only: while one
// publish is stuck on a slow disk, the topic's other work goes on.
TEST_F(TopicTest, APublishStuckOnAChannelsDiskWriteDoesNotHoldTheTopic) {
  EngineOptions opts;
  opts.mem_queue_size = 0;  // every message to the backend
  Reset(opts);
  ASSERT_TRUE(engine_->CreateChannel("t", "slow").ok());
  absl::Notification in_append, release;
  storage_.on_append = [&] {
    if (in_append.HasBeenNotified()) return;
    in_append.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
  };
  std::thread publisher([&] { PublishN("t", 1); });
  ASSERT_TRUE(in_append.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Notification done;
  std::thread other([&] {
    EXPECT_TRUE(engine_->CreateChannel("t", "new").ok());
    EXPECT_TRUE(engine_->SetTopicPaused("t", true).ok());
    EXPECT_TRUE(engine_->SetTopicPaused("t", false).ok());
    done.Notify();
  });
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)))
      << "the topic's other work waited for a channel's disk write";
  release.Notify();
  publisher.join();
  other.join();
  storage_.on_append = nullptr;
  EXPECT_EQ(ChannelStatsOf("t", "slow").depth, 1);
}

}  // namespace
}  // namespace nsq::broker
