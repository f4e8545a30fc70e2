// Beyond NSQ over gRPC: channel policies (dead-letter topics with the origin of each
// message, TTL, max depth), Peek, and Requeue without an attempt.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/broker_harness.h"

namespace nsq::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class BrokerPolicyGrpcTest : public ::testing::Test {
 protected:
  std::unique_ptr<TestConsumer> Consumer(const std::string& topic, const std::string& channel,
                                         int64_t rdy) {
    auto consumer = broker_.NewConsumer();
    EXPECT_TRUE(consumer->Subscribe(topic, channel));
    EXPECT_TRUE(consumer->Ready(rdy));
    EXPECT_TRUE(consumer->Sync());
    return consumer;
  }
  grpc::Status SetPolicy(const std::string& topic, const std::string& channel,
                         const nsq::v1::ChannelPolicy& policy) {
    nsq::v1::SetChannelPolicyRequest req;
    req.set_topic(topic);
    req.set_channel(channel);
    *req.mutable_policy() = policy;
    nsq::v1::ChannelResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return broker_.stub().SetChannelPolicy(&ctx, req, &resp);
  }

  BrokerHarness broker_;
};

TEST_F(BrokerPolicyGrpcTest, APoisonMessageReachesTheDeadLetterTopicWithItsOrigin) {
  nsq::v1::ChannelPolicy policy;
  policy.set_max_attempts(3);
  policy.set_dead_letter_topic("orders_dead");
  ASSERT_TRUE(SetPolicy("orders", "billing", policy).ok());
  auto dead = Consumer("orders_dead", "inspect", 10);
  auto consumer = Consumer("orders", "billing", 10);
  std::vector<std::string> ids;
  ASSERT_TRUE(broker_.Publish("orders", {"poison"}, 0, &ids).ok());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(consumer->WaitForMessages(1));
    auto got = consumer->TakeMessages();
    ASSERT_EQ(got[0].attempts(), static_cast<uint32_t>(attempt));
    ASSERT_TRUE(consumer->Requeue(got[0].id(), 0));
    ASSERT_TRUE(consumer->Sync());
  }
  broker_.Advance(absl::Milliseconds(1));  // the timer pass sends the copy
  ASSERT_TRUE(dead->WaitForMessages(1));
  auto copies = dead->TakeMessages();
  ASSERT_THAT(copies, SizeIs(1));
  EXPECT_EQ(copies[0].body(), "poison");
  ASSERT_TRUE(copies[0].has_origin());
  EXPECT_EQ(copies[0].origin().topic(), "orders");
  EXPECT_EQ(copies[0].origin().channel(), "billing");
  EXPECT_EQ(copies[0].origin().id(), ids[0]);
  EXPECT_EQ(copies[0].origin().attempts(), 3u);
  EXPECT_EQ(copies[0].origin().reason(), nsq::v1::Origin::MAX_ATTEMPTS);
  nsq::v1::ChannelStats st = broker_.ChannelStats("orders", "billing");
  EXPECT_EQ(st.dead_letter_count(), 1u);
  EXPECT_EQ(st.attempts_exceeded_count(), 1u);
  EXPECT_EQ(st.policy().max_attempts(), 3);
  EXPECT_EQ(st.policy().dead_letter_topic(), "orders_dead");
}

TEST_F(BrokerPolicyGrpcTest, RequeueWithoutAttemptKeepsTheAttemptCount) {
  auto consumer = Consumer("t", "c", 10);
  ASSERT_TRUE(broker_.Publish("t", {"m"}).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  auto first = consumer->TakeMessages();
  nsq::v1::SubscribeRequest req;
  req.mutable_requeue()->set_id(first[0].id());
  req.mutable_requeue()->set_without_attempt(true);
  ASSERT_TRUE(consumer->Send(req));
  ASSERT_TRUE(consumer->WaitForMessages(1));
  EXPECT_EQ(consumer->TakeMessages()[0].attempts(), 1u);
}

TEST_F(BrokerPolicyGrpcTest, MaxDepthRejectNewFailsThePublishWithResourceExhausted) {
  nsq::v1::ChannelPolicy policy;
  policy.set_max_depth(2);
  ASSERT_TRUE(SetPolicy("t", "c", policy).ok());
  ASSERT_TRUE(broker_.Publish("t", {"a", "b"}).ok());
  grpc::Status st = broker_.Publish("t", {"c"});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), HasSubstr("is full"));
  EXPECT_EQ(broker_.ChannelStats("t", "c").depth(), 2);
}

TEST_F(BrokerPolicyGrpcTest, PeekShowsMessagesWithoutTakingThem) {
  auto consumer = Consumer("t", "c", 1);
  ASSERT_TRUE(broker_.Publish("t", {"m0", "m1"}).ok());
  ASSERT_TRUE(broker_.Publish("t", {"later"}, 30000).ok());
  ASSERT_TRUE(consumer->WaitForMessages(1));
  nsq::v1::PeekRequest req;
  req.set_topic("t");
  req.set_channel("c");
  nsq::v1::PeekResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_.stub().Peek(&ctx, req, &resp).ok());
  ASSERT_THAT(resp.messages(), SizeIs(3));
  EXPECT_EQ(resp.messages(0).state(), nsq::v1::PeekedMessage::IN_FLIGHT);
  EXPECT_EQ(resp.messages(0).message().body(), "m0");
  EXPECT_EQ(resp.messages(1).state(), nsq::v1::PeekedMessage::READY);
  EXPECT_EQ(resp.messages(1).message().body(), "m1");
  EXPECT_EQ(resp.messages(2).state(), nsq::v1::PeekedMessage::DEFERRED);
  EXPECT_GT(resp.messages(2).due_ns(), 0);
  nsq::v1::ChannelStats st = broker_.ChannelStats("t", "c");
  EXPECT_EQ(st.depth(), 1);
  EXPECT_EQ(st.in_flight_count(), 1);
  EXPECT_EQ(st.deferred_count(), 1);
}

TEST_F(BrokerPolicyGrpcTest, BadPoliciesAreInvalidArgument) {
  nsq::v1::ChannelPolicy policy;
  policy.set_max_attempts(-1);
  EXPECT_EQ(SetPolicy("t", "c", policy).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  policy = nsq::v1::ChannelPolicy();
  policy.set_dead_letter_topic("t");
  grpc::Status self = SetPolicy("t", "c", policy);
  EXPECT_EQ(self.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(self.error_message(), HasSubstr("the topic itself"));
  policy.set_dead_letter_topic("no spaces");
  EXPECT_EQ(SetPolicy("t", "c", policy).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  nsq::v1::PeekRequest req;
  req.set_topic("t");
  req.set_channel("c");
  req.set_limit(-3);
  nsq::v1::PeekResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(broker_.stub().Peek(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BrokerPolicyGrpcTest, ATopicPolicyIsReadBack) {
  nsq::v1::SetTopicPolicyRequest req;
  req.set_topic("t");
  req.mutable_policy()->set_message_ttl_ms(90000);
  nsq::v1::TopicResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(broker_.stub().SetTopicPolicy(&ctx, req, &resp).ok());
  }
  nsq::v1::TopicRequest get;
  get.set_topic("t");
  nsq::v1::ChannelPolicy policy;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_.stub().GetTopicPolicy(&ctx, get, &policy).ok());
  EXPECT_EQ(policy.message_ttl_ms(), 90000);
}

}  // namespace
}  // namespace nsq::testing
