#include "client/config.h"

#include "gtest/gtest.h"

namespace nsq::client {
namespace {

TEST(ConfigTest, DefaultsAreGoNsqs) {
  Config c;
  EXPECT_EQ(c.max_in_flight, 1);
  EXPECT_EQ(c.max_attempts, 5);
  EXPECT_EQ(c.default_requeue_delay, absl::Seconds(90));
  EXPECT_EQ(c.max_requeue_delay, absl::Minutes(15));
  EXPECT_EQ(c.max_backoff_duration, absl::Minutes(2));
  EXPECT_EQ(c.lookupd_poll_interval, absl::Seconds(60));
}

TEST(ConfigTest, SetsOptionsByGoNsqNameAndFieldName) {
  Config c;
  ASSERT_TRUE(c.SetFlag("max_in_flight,200").ok());
  ASSERT_TRUE(c.SetFlag("MaxAttempts,10").ok());
  ASSERT_TRUE(c.SetFlag("backoff_strategy,full_jitter").ok());
  ASSERT_TRUE(c.SetFlag("default_requeue_delay,5s").ok());
  ASSERT_TRUE(c.SetFlag("user_agent,a,b").ok());
  EXPECT_EQ(c.max_in_flight, 200);
  EXPECT_EQ(c.max_attempts, 10);
  EXPECT_EQ(c.backoff_strategy, BackoffStrategy::kFullJitter);
  EXPECT_EQ(c.default_requeue_delay, absl::Seconds(5));
  EXPECT_EQ(c.user_agent, "a,b");
}

TEST(ConfigTest, RejectsUnknownNamesBadValuesAndOutOfRange) {
  Config c;
  EXPECT_TRUE(absl::IsInvalidArgument(c.SetFlag("no_such_option,1")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.SetFlag("max_in_flight,lots")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.SetFlag("max_attempts,70000")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.SetFlag("lookupd_poll_interval,1ms")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.SetFlag("backoff_strategy,linear")));
  const absl::Status st = c.SetFlag("max_in_flight,lots");
  EXPECT_NE(st.message().find("max_in_flight"), absl::string_view::npos) << st;
  EXPECT_EQ(c.max_in_flight, 1);
}

TEST(ConfigTest, AutoRequeueDelayIsDefaultTimesAttemptsCapped) {
  Config c;
  c.default_requeue_delay = absl::Seconds(90);
  c.max_requeue_delay = absl::Minutes(15);
  EXPECT_EQ(AutoRequeueDelay(c, 1), absl::Seconds(90));
  EXPECT_EQ(AutoRequeueDelay(c, 3), absl::Seconds(270));
  EXPECT_EQ(AutoRequeueDelay(c, 20), absl::Minutes(15));
}

TEST(ConfigTest, ValidateRejectsHeartbeatAtOrAboveReadTimeout) {
  Config c;
  EXPECT_TRUE(c.Validate().ok());
  c.heartbeat_interval = absl::Seconds(60);
  EXPECT_FALSE(c.Validate().ok());
}

TEST(ConfigTest, GrpcTlsOptionsAreSettableByName) {
  Config c;
  ASSERT_TRUE(c.SetFlag("grpc_tls_ca_file,ca.pem").ok());
  ASSERT_TRUE(c.SetFlag("grpc_tls_server_name,broker.local").ok());
  ASSERT_TRUE(c.SetFlag("grpc_tls").ok());
  EXPECT_EQ(c.grpc_tls_ca_file, "ca.pem");
  EXPECT_EQ(c.grpc_tls_server_name, "broker.local");
  EXPECT_TRUE(c.grpc_tls);
  ASSERT_TRUE(c.SetFlag("grpc_tls_cert,c.pem").ok());
  EXPECT_FALSE(c.Validate().ok());  // without grpc_tls_key
  ASSERT_TRUE(c.SetFlag("grpc_tls_key,k.pem").ok());
  EXPECT_TRUE(c.Validate().ok());
}

}  // namespace
}  // namespace nsq::client
