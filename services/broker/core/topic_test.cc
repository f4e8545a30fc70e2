#include <string>
#include <vector>

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

}  // namespace
}  // namespace nsq::broker
