// The Broker gRPC API end to end: a real gRPC server and engine in-process, a fake clock
// for timeouts and deferrals.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/broker_harness.h"

namespace nsq::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

BrokerHarnessOptions SmallLimits() {
  BrokerHarnessOptions options;
  options.engine.msg_timeout = absl::Seconds(60);
  options.engine.max_msg_timeout = absl::Minutes(15);
  options.engine.max_msg_size = 1024;
  options.engine.max_rdy_count = 2500;
  options.service.max_body_size = 64 * 1024;
  return options;
}

class BrokerGrpcTest : public ::testing::Test {
 protected:
  BrokerGrpcTest() : broker_(SmallLimits()) {}

  // A consumer subscribed to topic/channel with `rdy`, synced with the server.
  std::unique_ptr<TestConsumer> Consumer(const std::string& topic, const std::string& channel,
                                         int64_t rdy, int64_t msg_timeout_ms = 0) {
    auto consumer = broker_.NewConsumer();
    EXPECT_TRUE(consumer->Subscribe(topic, channel, msg_timeout_ms));
    if (rdy > 0) {
      EXPECT_TRUE(consumer->Ready(rdy));
    }
    EXPECT_TRUE(consumer->Sync());
    return consumer;
  }

  BrokerHarness broker_;
};

TEST_F(BrokerGrpcTest, BatchedPublishReturnsOneIdPerBody) {
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", Bodies(200), 0, &ids).ok());
  ASSERT_THAT(ids, SizeIs(200));
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 200u);
  for (const auto& id : ids) EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(broker_.TopicStats("orders").message_count(), 200u);
}

TEST_F(BrokerGrpcTest, SubscribeRepliesSubscribedWithMaxRdyCount) {
  auto consumer = broker_.NewConsumer();
  ASSERT_TRUE(consumer->Subscribe("orders", "billing"));
  EXPECT_EQ(consumer->max_rdy_count(), 2500);
  EXPECT_EQ(consumer->MessageCount(), 0u);
}

TEST_F(BrokerGrpcTest, DeliversMessagesInPublishOrderWithAttemptsOne) {
  auto consumer = Consumer("orders", "billing", 100);
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", Bodies(10), 0, &ids).ok());
  ASSERT_TRUE(consumer->WaitForMessages(10));
  auto messages = consumer->TakeMessages();
  ASSERT_THAT(messages, SizeIs(10));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(messages[i].id(), ids[i]);
    EXPECT_EQ(messages[i].body(), absl::StrCat("msg", i));
    EXPECT_EQ(messages[i].attempts(), 1u);
    EXPECT_EQ(messages[i].timestamp_ns(), absl::ToUnixNanos(broker_.clock().Now()));
  }
}

TEST_F(BrokerGrpcTest, ReadyCountLimitsMessagesInFlightUntilFinish) {
  auto consumer = Consumer("orders", "billing", 5);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(20)).ok());
  ASSERT_TRUE(consumer->WaitForMessages(5));
  ASSERT_TRUE(consumer->Sync());
  auto first = consumer->TakeMessages();
  EXPECT_THAT(first, SizeIs(5));
  auto stats = broker_.ChannelStats("orders", "billing");
  EXPECT_EQ(stats.in_flight_count(), 5);
  EXPECT_EQ(stats.depth(), 15);

  ASSERT_TRUE(consumer->Finish(Ids(first)));
  ASSERT_TRUE(consumer->WaitForMessages(5));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_THAT(consumer->TakeMessages(), SizeIs(5));
  EXPECT_TRUE(consumer->TakeErrors().empty());
}

TEST_F(BrokerGrpcTest, FinishRemovesMessagesFromFlight) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(3)).ok());
  ASSERT_TRUE(consumer->WaitForMessages(3));
  ASSERT_TRUE(consumer->Finish(Ids(consumer->TakeMessages())));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_TRUE(consumer->TakeErrors().empty());
  auto stats = broker_.ChannelStats("orders", "billing");
  EXPECT_EQ(stats.in_flight_count(), 0);
  EXPECT_EQ(stats.depth(), 0);
  ASSERT_THAT(stats.clients(), SizeIs(1));
  EXPECT_EQ(stats.clients(0).finish_count(), 3u);
  // Nothing comes back after a timeout's worth of time.
  broker_.Advance(absl::Minutes(2));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);
}

TEST_F(BrokerGrpcTest, RequeueWithDelayRedeliversAfterDelay) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", {"hello"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto first = consumer->TakeMessages();
  ASSERT_TRUE(consumer->Requeue(first[0].id(), 5000));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").deferred_count(), 1);

  broker_.Advance(absl::Seconds(4));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);

  broker_.Advance(absl::Seconds(2));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto again = consumer->TakeMessages();
  ASSERT_THAT(again, SizeIs(1));
  EXPECT_EQ(again[0].id(), first[0].id());
  EXPECT_EQ(again[0].body(), "hello");
  EXPECT_EQ(again[0].attempts(), 2u);
}

TEST_F(BrokerGrpcTest, RequeueWithoutDelayRedeliversAtOnce) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", {"hello"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto first = consumer->TakeMessages();
  ASSERT_TRUE(consumer->Requeue(first[0].id(), 0));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto again = consumer->TakeMessages();
  EXPECT_EQ(again[0].id(), first[0].id());
  EXPECT_EQ(again[0].attempts(), 2u);
}

TEST_F(BrokerGrpcTest, TimedOutMessageIsRedeliveredWithAttemptsIncremented) {
  auto consumer = Consumer("orders", "billing", 1, /*msg_timeout_ms=*/10000);
  ASSERT_TRUE(broker_.Publish("orders", {"slow"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto first = consumer->TakeMessages();
  EXPECT_EQ(first[0].attempts(), 1u);

  broker_.Advance(absl::Seconds(9));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);

  broker_.Advance(absl::Seconds(2));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto again = consumer->TakeMessages();
  EXPECT_EQ(again[0].id(), first[0].id());
  EXPECT_EQ(again[0].attempts(), 2u);
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").timeout_count(), 1u);
}

TEST_F(BrokerGrpcTest, TouchExtendsInFlightTimeout) {
  auto consumer = Consumer("orders", "billing", 1, /*msg_timeout_ms=*/10000);
  ASSERT_TRUE(broker_.Publish("orders", {"slow"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto first = consumer->TakeMessages();

  broker_.Advance(absl::Seconds(8));
  ASSERT_TRUE(consumer->Touch({first[0].id()}));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_TRUE(consumer->TakeErrors().empty());

  // 16s after delivery: past the original timeout, within the touched one.
  broker_.Advance(absl::Seconds(8));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").timeout_count(), 0u);

  broker_.Advance(absl::Seconds(3));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  EXPECT_EQ(consumer->TakeMessages()[0].attempts(), 2u);
}

TEST_F(BrokerGrpcTest, PausedChannelHoldsMessagesUntilUnpaused) {
  grpc::ClientContext create_ctx;
  nsq::v1::ChannelRequest request;
  request.set_topic("orders");
  request.set_channel("billing");
  nsq::v1::ChannelResponse response;
  ASSERT_TRUE(broker_.stub().CreateChannel(&create_ctx, request, &response).ok());
  grpc::ClientContext pause_ctx;
  ASSERT_TRUE(broker_.stub().PauseChannel(&pause_ctx, request, &response).ok());

  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(3)).ok());
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);
  auto stats = broker_.ChannelStats("orders", "billing");
  EXPECT_TRUE(stats.paused());
  EXPECT_EQ(stats.depth(), 3);

  grpc::ClientContext unpause_ctx;
  ASSERT_TRUE(broker_.stub().UnpauseChannel(&unpause_ctx, request, &response).ok());
  EXPECT_TRUE(consumer->WaitForMessages(3));
  EXPECT_FALSE(broker_.ChannelStats("orders", "billing").paused());
}

TEST_F(BrokerGrpcTest, PausedTopicHoldsMessagesUntilUnpaused) {
  auto consumer = Consumer("orders", "billing", 10);
  nsq::v1::TopicRequest request;
  request.set_topic("orders");
  nsq::v1::TopicResponse response;
  grpc::ClientContext pause_ctx;
  ASSERT_TRUE(broker_.stub().PauseTopic(&pause_ctx, request, &response).ok());

  ASSERT_TRUE(broker_.Publish("orders", Bodies(4)).ok());
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);
  auto topic = broker_.TopicStats("orders");
  EXPECT_TRUE(topic.paused());
  EXPECT_EQ(topic.depth(), 4);

  grpc::ClientContext unpause_ctx;
  ASSERT_TRUE(broker_.stub().UnpauseTopic(&unpause_ctx, request, &response).ok());
  EXPECT_TRUE(consumer->WaitForMessages(4));
  EXPECT_FALSE(broker_.TopicStats("orders").paused());
}

TEST_F(BrokerGrpcTest, ConsumersSharingAChannelEachGetDistinctMessages) {
  auto a = Consumer("orders", "billing", 10);
  auto b = Consumer("orders", "billing", 10);
  constexpr int kCount = 200;
  ASSERT_TRUE(broker_.Publish("orders", Bodies(kCount)).ok());

  std::multiset<std::string> seen;
  size_t from_a = 0, from_b = 0;
  const absl::Time deadline = absl::Now() + kWait;
  while (seen.size() < kCount && absl::Now() < deadline) {
    for (TestConsumer* c : {a.get(), b.get()}) {
      c->WaitForMessages(1, absl::Milliseconds(20));
      auto got = c->TakeMessages();
      if (got.empty()) continue;
      for (const auto& m : got) seen.insert(m.id());
      (c == a.get() ? from_a : from_b) += got.size();
      ASSERT_TRUE(c->Finish(Ids(got)));
    }
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kCount));
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kCount)) << "a message went to both";
  EXPECT_GT(from_a, 0u);
  EXPECT_GT(from_b, 0u);
}

TEST_F(BrokerGrpcTest, EachChannelGetsEveryMessage) {
  auto billing = Consumer("orders", "billing", 100);
  auto audit = Consumer("orders", "audit", 100);
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", Bodies(50), 0, &ids).ok());
  ASSERT_TRUE(billing->WaitForMessages(50));
  ASSERT_TRUE(audit->WaitForMessages(50));
  EXPECT_EQ(Ids(billing->TakeMessages()), ids);
  EXPECT_EQ(Ids(audit->TakeMessages()), ids);
}

TEST_F(BrokerGrpcTest, VanishedConsumersInFlightMessagesGoToAnotherConsumerAtOnce) {
  auto leaving = Consumer("orders", "billing", 10);
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", Bodies(10), 0, &ids).ok());
  ASSERT_TRUE(leaving->WaitForMessages(10));
  auto staying = Consumer("orders", "billing", 10);
  EXPECT_EQ(staying->MessageCount(), 0u);

  leaving->Cancel();
  EXPECT_EQ(leaving->WaitForEnd().error_code(), grpc::StatusCode::CANCELLED);
  // No clock movement: the cancelled stream's messages are requeued at once.
  ASSERT_TRUE(staying->WaitForMessages(10));
  auto got = staying->TakeMessages();
  std::set<std::string> got_ids;
  for (const auto& m : got) {
    got_ids.insert(m.id());
    EXPECT_EQ(m.attempts(), 2u);
  }
  EXPECT_EQ(got_ids, std::set<std::string>(ids.begin(), ids.end()));
}

TEST_F(BrokerGrpcTest, ClientHalfCloseReleasesInFlightMessages) {
  auto leaving = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(3)).ok());
  ASSERT_TRUE(leaving->WaitForMessages(3));
  auto staying = Consumer("orders", "billing", 10);
  ASSERT_TRUE(leaving->CloseSend());
  EXPECT_TRUE(leaving->WaitForEnd().ok());
  EXPECT_TRUE(staying->WaitForMessages(3));
}

TEST_F(BrokerGrpcTest, BadTopicNameIsInvalidArgument) {
  EXPECT_EQ(broker_.Publish("bad topic!", {"x"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(broker_.Publish(std::string(65, 'a'), {"x"}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  nsq::v1::TopicRequest request;
  request.set_topic("no/slashes");
  nsq::v1::TopicResponse response;
  grpc::ClientContext ctx;
  EXPECT_EQ(broker_.stub().CreateTopic(&ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, SubscribeWithBadChannelNameEndsStreamWithInvalidArgument) {
  auto consumer = broker_.NewConsumer();
  EXPECT_FALSE(consumer->Subscribe("orders", "bad channel"));
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, CreateChannelWithBadNameIsInvalidArgument) {
  nsq::v1::ChannelRequest request;
  request.set_topic("orders");
  request.set_channel("");
  nsq::v1::ChannelResponse response;
  grpc::ClientContext ctx;
  EXPECT_EQ(broker_.stub().CreateChannel(&ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, SubscribeWithBadMsgTimeoutEndsStreamWithInvalidArgument) {
  auto too_long = broker_.NewConsumer();
  EXPECT_FALSE(too_long->Subscribe("orders", "billing", absl::ToInt64Milliseconds(absl::Hours(1))));
  EXPECT_EQ(too_long->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto negative = broker_.NewConsumer();
  EXPECT_FALSE(negative->Subscribe("orders", "billing", -5));
  EXPECT_EQ(negative->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, BodyOverMaxMsgSizeIsResourceExhausted) {
  EXPECT_EQ(broker_.Publish("orders", {std::string(1025, 'x')}).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(broker_.Publish("orders", {std::string(1024, 'x')}).ok());
}

TEST_F(BrokerGrpcTest, RequestOverMaxBodySizeIsResourceExhausted) {
  // 100 bodies of 1000 bytes: each within --max-msg-size, together over --max-body-size.
  EXPECT_EQ(broker_.Publish("orders", std::vector<std::string>(100, std::string(1000, 'x')))
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Far over: refused by the transport before it reaches the service.
  EXPECT_EQ(broker_.Publish("orders", std::vector<std::string>(200, std::string(1000, 'x')))
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(broker_.TopicStats("orders").message_count(), 0u);
}

TEST_F(BrokerGrpcTest, EmptyBodyIsInvalidArgument) {
  EXPECT_EQ(broker_.Publish("orders", {""}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(broker_.Publish("orders", {"a", ""}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(broker_.Publish("orders", {}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, FinishOfUnknownIdIsANonFatalError) {
  auto consumer = Consumer("orders", "billing", 10);
  const std::string unknown = "0123456789abcdef";
  ASSERT_TRUE(consumer->Finish({unknown}));
  ASSERT_TRUE(consumer->WaitForErrors(1));
  auto errors = consumer->TakeErrors();
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_THAT(errors[0].message(), StartsWith("E_FIN_FAILED FIN 0123456789abcdef failed"));
  EXPECT_EQ(errors[0].id(), unknown);

  // The stream goes on.
  ASSERT_TRUE(broker_.Publish("orders", {"after"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  ASSERT_TRUE(consumer->Finish(Ids(consumer->TakeMessages())));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_TRUE(consumer->TakeErrors().empty());
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").in_flight_count(), 0);
}

TEST_F(BrokerGrpcTest, MalformedIdsAreNonFatalInvalidArgumentErrors) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(consumer->Finish({"short"}));
  ASSERT_TRUE(consumer->Requeue(std::string(17, 'x'), 0));
  ASSERT_TRUE(consumer->Touch({std::string("\xff\x00", 2)}));
  ASSERT_TRUE(consumer->WaitForErrors(3));
  auto errors = consumer->TakeErrors();
  ASSERT_THAT(errors, SizeIs(3));
  for (const auto& e : errors) {
    EXPECT_EQ(e.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  }
  EXPECT_THAT(errors[0].message(), HasSubstr("FIN"));
  EXPECT_THAT(errors[1].message(), HasSubstr("REQ"));
  EXPECT_THAT(errors[2].message(), HasSubstr("TOUCH"));
  EXPECT_TRUE(consumer->Sync());
}

TEST_F(BrokerGrpcTest, RequeueAndTouchOfUnknownIdAreNonFatalErrors) {
  auto consumer = Consumer("orders", "billing", 10);
  const std::string unknown = "0123456789abcdef";
  ASSERT_TRUE(consumer->Requeue(unknown, 0));
  ASSERT_TRUE(consumer->Touch({unknown}));
  ASSERT_TRUE(consumer->WaitForErrors(2));
  auto errors = consumer->TakeErrors();
  EXPECT_THAT(errors[0].message(), StartsWith("E_REQ_FAILED"));
  EXPECT_THAT(errors[1].message(), StartsWith("E_TOUCH_FAILED"));
  EXPECT_TRUE(consumer->Sync());
}

TEST_F(BrokerGrpcTest, FinishOfAnotherConsumersMessageFails) {
  auto owner = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", {"mine"}).ok());
  ASSERT_TRUE(owner->WaitForMessages(1));
  auto other = Consumer("orders", "billing", 0);
  ASSERT_TRUE(other->Finish(Ids(owner->TakeMessages())));
  ASSERT_TRUE(other->WaitForErrors(1));
  EXPECT_THAT(other->TakeErrors()[0].message(), StartsWith("E_FIN_FAILED"));
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").in_flight_count(), 1);
}

TEST_F(BrokerGrpcTest, EmptyCommandEndsStreamWithInvalidArgument) {
  auto consumer = Consumer("orders", "billing", 0);
  ASSERT_TRUE(consumer->Send(nsq::v1::SubscribeRequest()));
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, FinishWithNoIdsIsANoOp) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(consumer->Finish({}));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_TRUE(consumer->TakeErrors().empty());
}

TEST_F(BrokerGrpcTest, CommandBeforeSubscribeEndsStreamWithFailedPrecondition) {
  auto consumer = broker_.NewConsumer();
  ASSERT_TRUE(consumer->Ready(1));
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(BrokerGrpcTest, SecondSubscribeEndsStreamWithFailedPrecondition) {
  auto consumer = Consumer("orders", "billing", 0);
  ASSERT_TRUE(consumer->SendSubscribe("orders", "other"));
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(BrokerGrpcTest, ReadyOutOfRangeEndsStreamWithInvalidArgument) {
  auto consumer = Consumer("orders", "billing", 0);
  ASSERT_TRUE(consumer->Ready(2501));
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto negative = Consumer("orders", "billing", 0);
  ASSERT_TRUE(negative->Ready(-1));
  EXPECT_EQ(negative->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, FatalErrorReleasesInFlightMessages) {
  auto failing = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(2)).ok());
  ASSERT_TRUE(failing->WaitForMessages(2));
  ASSERT_TRUE(failing->Ready(100000));
  EXPECT_EQ(failing->WaitForEnd().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto next = Consumer("orders", "billing", 10);
  EXPECT_TRUE(next->WaitForMessages(2));
}

TEST_F(BrokerGrpcTest, DeletingTheChannelEndsItsStreams) {
  auto consumer = Consumer("orders", "billing", 10);
  nsq::v1::ChannelRequest request;
  request.set_topic("orders");
  request.set_channel("billing");
  nsq::v1::ChannelResponse response;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_.stub().DeleteChannel(&ctx, request, &response).ok());
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BrokerGrpcTest, DeletingTheTopicEndsItsStreams) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(5)).ok());
  ASSERT_TRUE(consumer->WaitForMessages(5));
  nsq::v1::TopicRequest request;
  request.set_topic("orders");
  nsq::v1::TopicResponse response;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_.stub().DeleteTopic(&ctx, request, &response).ok());
  EXPECT_NE(consumer->WaitForEnd().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_FALSE(broker_.engine().TopicExists("orders"));
}

TEST_F(BrokerGrpcTest, EngineShutdownEndsStreamsWithUnavailable) {
  auto consumer = Consumer("orders", "billing", 10);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(3)).ok());
  ASSERT_TRUE(consumer->WaitForMessages(3));
  broker_.engine().Shutdown();
  EXPECT_EQ(consumer->WaitForEnd().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(BrokerGrpcTest, AdminCallsOnMissingTopicOrChannelAreNotFound) {
  nsq::v1::TopicRequest topic;
  topic.set_topic("missing");
  nsq::v1::TopicResponse topic_response;
  grpc::ClientContext c1;
  EXPECT_EQ(broker_.stub().DeleteTopic(&c1, topic, &topic_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c2;
  EXPECT_EQ(broker_.stub().PauseTopic(&c2, topic, &topic_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c3;
  EXPECT_EQ(broker_.stub().EmptyTopic(&c3, topic, &topic_response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(broker_.Publish("orders", {"x"}).ok());
  nsq::v1::ChannelRequest channel;
  channel.set_topic("orders");
  channel.set_channel("missing");
  nsq::v1::ChannelResponse channel_response;
  grpc::ClientContext c4;
  EXPECT_EQ(broker_.stub().DeleteChannel(&c4, channel, &channel_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c5;
  EXPECT_EQ(broker_.stub().PauseChannel(&c5, channel, &channel_response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c6;
  EXPECT_EQ(broker_.stub().EmptyChannel(&c6, channel, &channel_response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  nsq::v1::GetStatsResponse stats;
  EXPECT_EQ(broker_.Stats(&stats, "missing").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(broker_.Stats(&stats, "orders", "missing").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(BrokerGrpcTest, EmptyChannelDropsWaitingMessages) {
  nsq::v1::ChannelRequest request;
  request.set_topic("orders");
  request.set_channel("billing");
  nsq::v1::ChannelResponse response;
  grpc::ClientContext c1;
  ASSERT_TRUE(broker_.stub().CreateChannel(&c1, request, &response).ok());
  ASSERT_TRUE(broker_.Publish("orders", Bodies(5)).ok());
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").depth(), 5);
  grpc::ClientContext c2;
  ASSERT_TRUE(broker_.stub().EmptyChannel(&c2, request, &response).ok());
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").depth(), 0);
}

TEST_F(BrokerGrpcTest, GetStatsReflectsDepthInFlightAndCounts) {
  auto consumer = Consumer("orders", "billing", 3);
  ASSERT_TRUE(broker_.Publish("orders", Bodies(10)).ok());
  ASSERT_TRUE(consumer->WaitForMessages(3));
  auto got = consumer->TakeMessages();
  ASSERT_TRUE(consumer->Finish({got[0].id()}));
  ASSERT_TRUE(consumer->Sync());

  nsq::v1::GetStatsResponse stats;
  ASSERT_TRUE(broker_.Stats(&stats).ok());
  EXPECT_FALSE(stats.version().empty());
  EXPECT_EQ(stats.health(), "ok");
  EXPECT_GT(stats.start_time_unix(), 0);
  ASSERT_THAT(stats.topics(), SizeIs(1));
  const auto& topic = stats.topics(0);
  EXPECT_EQ(topic.topic_name(), "orders");
  EXPECT_EQ(topic.message_count(), 10u);
  EXPECT_EQ(topic.message_bytes(), 10u * 4);  // "msg0".."msg9"
  ASSERT_THAT(topic.channels(), SizeIs(1));
  const auto& channel = topic.channels(0);
  EXPECT_EQ(channel.channel_name(), "billing");
  EXPECT_EQ(channel.message_count(), 10u);
  EXPECT_EQ(channel.client_count(), 1);
  // One finished, one more delivered in its place: 3 in flight, 6 waiting.
  ASSERT_TRUE(consumer->WaitForMessages(1));
  ASSERT_TRUE(broker_.Stats(&stats).ok());
  const auto& after = stats.topics(0).channels(0);
  EXPECT_EQ(after.in_flight_count(), 3);
  EXPECT_EQ(after.depth(), 6);
  ASSERT_THAT(after.clients(), SizeIs(1));
  const auto& client = after.clients(0);
  EXPECT_EQ(client.client_id(), "test-consumer");
  EXPECT_EQ(client.hostname(), "localhost");
  EXPECT_EQ(client.user_agent(), "nsq-cpp-integration-test");
  EXPECT_EQ(client.protocol(), "grpc");
  EXPECT_THAT(client.remote_address(), StartsWith("127.0.0.1:"));
  EXPECT_EQ(client.ready_count(), 3);
  EXPECT_EQ(client.in_flight_count(), 3);
  EXPECT_EQ(client.message_count(), 4u);
  EXPECT_EQ(client.finish_count(), 1u);
  EXPECT_EQ(client.msg_timeout_ms(), 60000);
}

TEST_F(BrokerGrpcTest, GetStatsCanLeaveOutClients) {
  auto consumer = Consumer("orders", "billing", 3);
  nsq::v1::GetStatsRequest request;
  request.set_topic("orders");
  request.set_exclude_clients(true);
  nsq::v1::GetStatsResponse stats;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_.stub().GetStats(&ctx, request, &stats).ok());
  ASSERT_THAT(stats.topics(), SizeIs(1));
  ASSERT_THAT(stats.topics(0).channels(), SizeIs(1));
  EXPECT_EQ(stats.topics(0).channels(0).client_count(), 1);
  EXPECT_THAT(stats.topics(0).channels(0).clients(), SizeIs(0));
}

TEST_F(BrokerGrpcTest, DeferredPublishIsDeliveredAfterDefer) {
  auto consumer = Consumer("orders", "billing", 10);
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", {"later"}, /*defer_ms=*/5000, &ids).ok());
  ASSERT_THAT(ids, SizeIs(1));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);
  EXPECT_EQ(broker_.ChannelStats("orders", "billing").deferred_count(), 1);

  broker_.Advance(absl::Seconds(4));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_EQ(consumer->MessageCount(), 0u);

  broker_.Advance(absl::Seconds(1));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto got = consumer->TakeMessages();
  EXPECT_EQ(got[0].id(), ids[0]);
  EXPECT_EQ(got[0].body(), "later");
  EXPECT_EQ(got[0].attempts(), 1u);
}

TEST_F(BrokerGrpcTest, DeferOutOfRangeIsInvalidArgument) {
  EXPECT_EQ(broker_.Publish("orders", {"x"}, -1).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(broker_.Publish("orders", {"x"}, absl::ToInt64Milliseconds(absl::Hours(2)))
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerGrpcTest, LargeBacklogArrivesSplitOverSeveralResponses) {
  BrokerHarnessOptions options = SmallLimits();
  options.service.max_response_messages = 100;
  BrokerHarness broker(options);
  auto consumer = broker.NewConsumer();
  ASSERT_TRUE(consumer->Subscribe("orders", "billing"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(broker.Publish("orders", Bodies(200)).ok());
  ASSERT_TRUE(consumer->Ready(2500));
  ASSERT_TRUE(consumer->WaitForMessages(2000));
  auto got = consumer->TakeMessages();
  std::set<std::string> unique;
  for (const auto& m : got) unique.insert(m.id());
  EXPECT_EQ(unique.size(), 2000u);
  ASSERT_TRUE(consumer->Finish(Ids(got)));
  ASSERT_TRUE(consumer->Sync());
  EXPECT_TRUE(consumer->TakeErrors().empty());
  EXPECT_EQ(broker.ChannelStats("orders", "billing").in_flight_count(), 0);
}

// Consumers subscribe, take messages, FIN some and vanish while others publish: every
// message is still delivered, and FINs that completed are never redelivered.
TEST_F(BrokerGrpcTest, ChurningConsumersLoseNoMessages) {
  constexpr int kBatches = 40;
  constexpr int kBatchSize = 100;
  absl::Mutex mu;
  std::set<std::string> published;
  std::set<std::string> finished;  // FINs confirmed by a Sync with no error
  std::thread publisher([&] {
    for (int i = 0; i < kBatches; ++i) {
      std::vector<std::string> ids;
      ASSERT_TRUE(broker_.Publish("orders", Bodies(kBatchSize), 0, &ids).ok());
      absl::MutexLock lock(&mu);
      published.insert(ids.begin(), ids.end());
    }
  });
  std::vector<std::thread> churners;
  for (int t = 0; t < 3; ++t) {
    churners.emplace_back([&, t] {
      for (int round = 0; round < 15; ++round) {
        auto consumer = broker_.NewConsumer();
        if (!consumer->Subscribe("orders", "billing")) continue;
        consumer->Ready(20);
        consumer->WaitForMessages(1, absl::Milliseconds(200));
        auto got = consumer->TakeMessages();
        std::vector<std::string> fin;
        for (size_t i = 0; i < got.size(); i += 2) fin.push_back(got[i].id());
        consumer->Finish(fin);
        if ((round + t) % 2 == 0 && consumer->Sync() && consumer->TakeErrors().empty()) {
          absl::MutexLock lock(&mu);
          finished.insert(fin.begin(), fin.end());
        }
        // Leaves with the other half in flight (and maybe FINs still on the way).
      }
    });
  }
  publisher.join();
  for (auto& t : churners) t.join();

  auto drain = Consumer("orders", "billing", 1000);
  std::set<std::string> seen_at_end;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    auto stats = broker_.ChannelStats("orders", "billing");
    if (stats.depth() == 0 && stats.in_flight_count() == 0 && stats.deferred_count() == 0) break;
    drain->WaitForMessages(1, absl::Milliseconds(50));
    auto got = drain->TakeMessages();
    for (const auto& m : got) seen_at_end.insert(m.id());
    drain->Finish(Ids(got));
  }
  ASSERT_TRUE(drain->Sync()) << drain->WaitForEnd().error_message();
  auto stats = broker_.ChannelStats("orders", "billing");
  EXPECT_EQ(stats.depth(), 0);
  EXPECT_EQ(stats.in_flight_count(), 0);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(published.size(), static_cast<size_t>(kBatches * kBatchSize));
  for (const auto& id : seen_at_end) {
    EXPECT_EQ(finished.count(id), 0u) << "a confirmed FIN was redelivered";
  }
  EXPECT_EQ(stats.message_count(), published.size());
}

grpc::Status GenericUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& request_bytes, std::string* response_bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   absl::MutexLock lock(&mu);
                   status = std::move(s);
                   done = true;
                 });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(&done));
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    response_bytes->clear();
    for (const auto& s : slices) response_bytes->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST_F(BrokerGrpcTest, HealthServiceReportsServing) {
  std::string response;
  // HealthCheckRequest{service: ""} is empty; HealthCheckResponse{status: SERVING} is 08 01.
  grpc::Status status =
      GenericUnary(broker_.channel(), "/grpc.health.v1.Health/Check", "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

TEST_F(BrokerGrpcTest, ReflectionListsTheBrokerService) {
  grpc::GenericStub stub(broker_.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  ASSERT_NE(call, nullptr);
  auto next = [&cq](void* want) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && tag == want && ok;
  };
  int tag = 0;
  call->StartCall(&tag);
  ASSERT_TRUE(next(&tag));
  // ServerReflectionRequest{list_services: ""}: field 7, length-delimited, empty.
  grpc::Slice slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&slice, 1);
  call->Write(request, &tag);
  ASSERT_TRUE(next(&tag));
  call->WritesDone(&tag);
  ASSERT_TRUE(next(&tag));
  grpc::ByteBuffer response;
  call->Read(&response, &tag);
  ASSERT_TRUE(next(&tag));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_THAT(bytes, HasSubstr("nsq.v1.Broker"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  grpc::Status status;
  call->Finish(&status, &tag);
  ASSERT_TRUE(next(&tag));
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
}

// ---- a consumer that does not read ----

// A Subscribe stream on its own channel that never reads, with a fixed HTTP/2 window
// (no BDP growth), so that what the broker writes stalls once 64 KiB are unread.
struct NonReadingConsumer {
  NonReadingConsumer(int port, const std::string& topic, const std::string& channel, int64_t rdy) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    auto ch = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                        grpc::InsecureChannelCredentials(), args);
    stub = nsq::v1::Broker::NewStub(ch);
    stream = stub->Subscribe(&context);
    nsq::v1::SubscribeRequest sub;
    sub.mutable_subscribe()->set_topic(topic);
    sub.mutable_subscribe()->set_channel(channel);
    ok = stream->Write(sub);
    nsq::v1::SubscribeRequest ready;
    ready.mutable_ready()->set_count(rdy);
    ok = ok && stream->Write(ready);
  }
  ~NonReadingConsumer() { context.TryCancel(); }

  grpc::ClientContext context;
  std::unique_ptr<nsq::v1::Broker::Stub> stub;
  std::unique_ptr<grpc::ClientReaderWriter<nsq::v1::SubscribeRequest, nsq::v1::SubscribeResponse>>
      stream;
  bool ok = false;
};

BrokerHarnessOptions LargeMessages() {
  BrokerHarnessOptions options;
  options.engine.msg_timeout = absl::Seconds(60);
  options.engine.max_msg_size = 64 * 1024;
  options.service.max_body_size = 1024 * 1024;
  options.service.write_timeout = absl::Seconds(10);
  return options;
}

// Waits (bounded) until `pred` holds for the channel's stats.
template <typename Pred>
bool WaitForChannel(BrokerHarness& broker, const std::string& topic, const std::string& channel,
                    Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred(broker.ChannelStats(topic, channel))) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return pred(broker.ChannelStats(topic, channel));
}

TEST(BrokerGrpcSlowConsumerTest, ANonReadingConsumerHoldsAtMostItsRdyAndIsCancelledPastTheWriteTimeout) {
  BrokerHarness broker(LargeMessages());
  NonReadingConsumer consumer(broker.port(), "big", "slow", /*rdy=*/20);
  ASSERT_TRUE(consumer.ok);
  ASSERT_TRUE(WaitForChannel(broker, "big", "slow",
                             [](const nsq::v1::ChannelStats& c) { return c.client_count() == 1; }));
  // 40 messages of 64 KiB: far more than the client's 64 KiB window takes unread.
  const std::vector<std::string> bodies(10, std::string(64 * 1024, 'm'));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(broker.Publish("big", bodies).ok());
  // RDY is the bound of what the broker holds for it: 20 in flight, the rest queued.
  ASSERT_TRUE(WaitForChannel(broker, "big", "slow", [](const nsq::v1::ChannelStats& c) {
    return c.in_flight_count() == 20 && c.depth() == 20;
  }));
  // The window times out and comes back to the same stream, whose write has made no
  // progress for longer than write_timeout: the stream is cancelled instead of
  // buffering a second copy, and every message is back in the channel for others.
  broker.Advance(absl::Seconds(61));
  EXPECT_TRUE(WaitForChannel(broker, "big", "slow", [](const nsq::v1::ChannelStats& c) {
    return c.client_count() == 0 && c.in_flight_count() == 0 && c.depth() == 40;
  })) << broker.ChannelStats("big", "slow").DebugString();
}

TEST(BrokerGrpcSlowConsumerTest, AReadingConsumerIsNotCancelledWhenItsMessagesTimeOut) {
  BrokerHarness broker(LargeMessages());
  auto consumer = broker.NewConsumer();
  ASSERT_TRUE(consumer->Subscribe("big", "fine"));
  ASSERT_TRUE(consumer->Ready(5));
  ASSERT_TRUE(consumer->Sync());
  ASSERT_TRUE(broker.Publish("big", {"a", "b", "c"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(3));
  consumer->TakeMessages();
  // The broker must see its last write done before the engine clock jumps 61 s, or that
  // write looks stuck for 61 s. gRPC reports a write done on its own thread a moment
  // after the client has the data, and nothing a client sees tells when: the sync
  // makes the last write a tiny one, and a short real pause lets its completion land.
  ASSERT_TRUE(consumer->Sync());
  absl::SleepFor(absl::Milliseconds(300));
  broker.Advance(absl::Seconds(61));  // it read them but never FINed them
  ASSERT_TRUE(consumer->WaitForMessages(3));
  EXPECT_TRUE(consumer->Sync());
  EXPECT_EQ(broker.ChannelStats("big", "fine").client_count(), 1);
}

TEST(BrokerGrpcSlowConsumerTest, CommandsStillGetEveryErrorInOrderWhenPendingErrorsPauseReading) {
  BrokerHarnessOptions options = LargeMessages();
  options.service.max_pending_errors = 2;  // reading pauses all the time
  BrokerHarness broker(options);
  auto consumer = broker.NewConsumer();
  ASSERT_TRUE(consumer->Subscribe("t", "c"));
  constexpr int kCommands = 300;
  for (int i = 0; i < kCommands; ++i) {
    ASSERT_TRUE(consumer->Finish({absl::StrCat("unknown-id-", 1000 + i, "-x")}));
  }
  ASSERT_TRUE(consumer->WaitForErrors(kCommands, absl::Seconds(30)));
  auto errors = consumer->TakeErrors();
  ASSERT_THAT(errors, SizeIs(kCommands));
  for (int i = 0; i < kCommands; ++i) {
    EXPECT_EQ(errors[i].id(), absl::StrCat("unknown-id-", 1000 + i, "-x"));
  }
  EXPECT_TRUE(consumer->Sync());
}

}  // namespace
}  // namespace nsq::testing
