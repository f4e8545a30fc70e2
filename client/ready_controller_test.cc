#include "client/ready_controller.h"

#include <map>

#include "gtest/gtest.h"

namespace nsq::client {
namespace {

using Signal = ReadyController::Signal;

class ReadyControllerTest : public ::testing::Test {
 protected:
  ReadyControllerTest() { config_.max_in_flight = 5; }

  ReadyController& Make(uint64_t seed = 1) {
    rc_ = std::make_unique<ReadyController>(config_, seed);
    return *rc_;
  }
  // The RDY values sent so far, per connection, applying each update.
  std::map<ReadyController::ConnId, int64_t> Apply() {
    for (auto& [id, n] : rc_->TakeUpdates()) sent_[id] = n;
    return sent_;
  }
  void Advance(absl::Duration d) {
    now_ += d;
    rc_->Tick(now_);
  }

  Config config_;
  absl::Time now_ = absl::FromUnixSeconds(1000);
  std::unique_ptr<ReadyController> rc_;
  std::map<ReadyController::ConnId, int64_t> sent_;
};

TEST_F(ReadyControllerTest, OneConnectionGetsAllOfMaxInFlight) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  EXPECT_EQ(Apply()[1], 5);
}

TEST_F(ReadyControllerTest, SharesShrinkWhenABrokerJoinsAndGrowWhenItLeaves) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  Apply();
  rc.AddConnection(2, 2500, now_);
  auto s = Apply();
  EXPECT_EQ(s[1] + s[2], 5);
  EXPECT_EQ(std::min(s[1], s[2]), 2);
  rc.RemoveConnection(1, now_);
  EXPECT_EQ(rc.ready(2), 5);
  EXPECT_EQ(rc.TakeUpdates(), (std::vector<std::pair<ReadyController::ConnId, int64_t>>{{2, 5}}));
}

TEST_F(ReadyControllerTest, RdyIsCappedByTheBrokersMaxRdyCount) {
  config_.max_in_flight = 100;
  auto& rc = Make();
  rc.AddConnection(1, 10, now_);
  EXPECT_EQ(rc.ready(1), 10);
}

TEST_F(ReadyControllerTest, UnchangedRdyIsNotSentAgain) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  Apply();
  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kSuccess, now_);
  EXPECT_TRUE(rc.TakeUpdates().empty());
}

TEST_F(ReadyControllerTest, MoreBrokersThanMaxInFlightGetRdyOneEachUpToTheBudget) {
  config_.max_in_flight = 2;
  auto& rc = Make();
  for (int i = 1; i <= 4; ++i) rc.AddConnection(i, 2500, now_);
  EXPECT_EQ(rc.total_ready(), 2);
  for (int i = 1; i <= 4; ++i) EXPECT_LE(rc.ready(i), 1);
}

TEST_F(ReadyControllerTest, RedistributionMovesRdyFromIdleBrokersToStarvedOnes) {
  config_.max_in_flight = 1;
  config_.low_rdy_idle_timeout = absl::Seconds(10);
  config_.rdy_redistribute_interval = absl::Seconds(5);
  auto& rc = Make(7);
  rc.AddConnection(1, 2500, now_);
  rc.AddConnection(2, 2500, now_);
  rc.AddConnection(3, 2500, now_);
  ASSERT_EQ(rc.total_ready(), 1);
  // Over time every connection gets its turn: the one holding RDY 1 gets no message,
  // is idle past low_rdy_idle_timeout and gives it up.
  std::map<ReadyController::ConnId, int> turns;
  for (int round = 0; round < 60; ++round) {
    Advance(absl::Seconds(5));
    EXPECT_EQ(rc.total_ready(), 1) << "round " << round;
    for (int i = 1; i <= 3; ++i) turns[i] += rc.ready(i);
  }
  EXPECT_GT(turns[1], 0);
  EXPECT_GT(turns[2], 0);
  EXPECT_GT(turns[3], 0);
}

TEST_F(ReadyControllerTest, ABusyConnectionKeepsItsRdyUntilLowRdyTimeout) {
  config_.max_in_flight = 1;
  config_.low_rdy_idle_timeout = absl::Seconds(10);
  config_.low_rdy_timeout = absl::Seconds(30);
  config_.rdy_redistribute_interval = absl::Seconds(5);
  auto& rc = Make(3);
  rc.AddConnection(1, 2500, now_);
  rc.AddConnection(2, 2500, now_);
  const ReadyController::ConnId holder = rc.ready(1) == 1 ? 1 : 2;
  // Messages keep coming on the holder: it keeps RDY until its RDY is 30 s old.
  for (int i = 0; i < 5; ++i) {
    rc.OnMessage(holder, now_);
    rc.OnResult(holder, Signal::kSuccess, now_);
    Advance(absl::Seconds(5));
    EXPECT_EQ(rc.ready(holder), 1) << i;
  }
  rc.OnMessage(holder, now_);
  rc.OnResult(holder, Signal::kSuccess, now_);
  Advance(absl::Seconds(10));  // RDY now 35 s old
  EXPECT_EQ(rc.total_ready(), 1);
}

TEST_F(ReadyControllerTest, BackoffFollowsGoNsqsWireTrace) {
  // go-nsq's TestConsumerBackoff (max_in_flight 5, one connection): FIN x3, then
  // RDY 0 / REQ / RDY 1, RDY 0 / REQ / RDY 1, RDY 0 / FIN / RDY 1, RDY 5 / FIN.
  config_.backoff_multiplier = absl::Seconds(1);
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  EXPECT_EQ(Apply()[1], 5);
  for (int i = 0; i < 3; ++i) {
    rc.OnMessage(1, now_);
    rc.OnResult(1, Signal::kSuccess, now_);
  }
  EXPECT_TRUE(rc.TakeUpdates().empty());

  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  EXPECT_EQ(rc.backoff_counter(), 1);
  EXPECT_EQ(Apply()[1], 0);
  EXPECT_EQ(rc.NextDeadline(), now_ + absl::Seconds(2));  // multiplier x 2^1
  Advance(absl::Seconds(1));
  EXPECT_TRUE(rc.TakeUpdates().empty());  // still waiting
  Advance(absl::Seconds(1));
  EXPECT_EQ(Apply()[1], 1);  // test the waters

  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  EXPECT_EQ(rc.backoff_counter(), 2);
  EXPECT_EQ(Apply()[1], 0);
  EXPECT_EQ(rc.NextDeadline(), now_ + absl::Seconds(4));
  Advance(absl::Seconds(4));
  EXPECT_EQ(Apply()[1], 1);

  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kSuccess, now_);
  EXPECT_EQ(rc.backoff_counter(), 1);
  EXPECT_EQ(Apply()[1], 0);  // a shorter backoff again
  Advance(absl::Seconds(2));
  EXPECT_EQ(Apply()[1], 1);

  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kSuccess, now_);
  EXPECT_EQ(rc.backoff_counter(), 0);
  EXPECT_EQ(Apply()[1], 5);  // full speed
}

TEST_F(ReadyControllerTest, SignalsDuringTheBackoffWaitAreIgnored) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  for (int i = 0; i < 3; ++i) rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  EXPECT_EQ(rc.backoff_counter(), 1);
  EXPECT_EQ(rc.in_flight(1), 0);
}

TEST_F(ReadyControllerTest, BackoffStopsDeepeningAtMaxBackoffDuration) {
  config_.max_backoff_duration = absl::Seconds(8);
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  for (int i = 0; i < 10; ++i) {
    rc.OnMessage(1, now_);
    rc.OnResult(1, Signal::kBackoff, now_);
    EXPECT_LE(rc.NextDeadline() - now_, absl::Seconds(8));
    now_ = rc.NextDeadline();
    rc.Tick(now_);
  }
  EXPECT_EQ(rc.backoff_counter(), 3);  // 2, 4, 8 s; 16 s would be past the maximum
}

TEST_F(ReadyControllerTest, ZeroMaxBackoffDurationDisablesBackoff) {
  config_.max_backoff_duration = absl::ZeroDuration();
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  Apply();
  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  EXPECT_EQ(rc.backoff_counter(), 0);
  EXPECT_FALSE(rc.in_backoff_wait());
  EXPECT_TRUE(rc.TakeUpdates().empty());
}

TEST_F(ReadyControllerTest, ContinueReArmsTheCurrentBackoffWithoutDeepening) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  now_ = rc.NextDeadline();
  rc.Tick(now_);
  ASSERT_EQ(rc.ready(1), 1);
  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kContinue, now_);
  EXPECT_EQ(rc.backoff_counter(), 1);
  EXPECT_TRUE(rc.in_backoff_wait());
  EXPECT_EQ(rc.ready(1), 0);
}

TEST_F(ReadyControllerTest, BackoffWithSeveralBrokersLetsOneMessageThroughOneOfThem) {
  auto& rc = Make(11);
  rc.AddConnection(1, 2500, now_);
  rc.AddConnection(2, 2500, now_);
  rc.AddConnection(3, 2500, now_);
  rc.OnMessage(2, now_);
  rc.OnResult(2, Signal::kBackoff, now_);
  EXPECT_EQ(rc.total_ready(), 0);
  now_ = rc.NextDeadline();
  rc.Tick(now_);
  EXPECT_EQ(rc.total_ready(), 1);
}

TEST_F(ReadyControllerTest, FullJitterWaitsAtMostTheExponentialDuration) {
  config_.backoff_strategy = BackoffStrategy::kFullJitter;
  auto& rc = Make(5);
  rc.AddConnection(1, 2500, now_);
  rc.OnMessage(1, now_);
  rc.OnResult(1, Signal::kBackoff, now_);
  EXPECT_LT(rc.NextDeadline() - now_, absl::Seconds(2));
  EXPECT_GE(rc.NextDeadline() - now_, absl::ZeroDuration());
}

TEST_F(ReadyControllerTest, MaxInFlightZeroPausesAndBackResumes) {
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  rc.AddConnection(2, 2500, now_);
  Apply();
  rc.SetMaxInFlight(0, now_);
  auto s = Apply();
  EXPECT_EQ(s[1], 0);
  EXPECT_EQ(s[2], 0);
  rc.SetMaxInFlight(4, now_);
  s = Apply();
  EXPECT_EQ(s[1], 2);
  EXPECT_EQ(s[2], 2);
}

TEST_F(ReadyControllerTest, StarvedWhenMostOfRdyIsInFlight) {
  config_.max_in_flight = 10;
  auto& rc = Make();
  rc.AddConnection(1, 2500, now_);
  for (int i = 0; i < 8; ++i) rc.OnMessage(1, now_);
  EXPECT_FALSE(rc.IsStarved());
  rc.OnMessage(1, now_);
  EXPECT_TRUE(rc.IsStarved());
  rc.OnResult(1, Signal::kSuccess, now_);
  rc.OnResult(1, Signal::kSuccess, now_);
  EXPECT_FALSE(rc.IsStarved());
}

}  // namespace
}  // namespace nsq::client
