#include "services/broker/broker_options.h"

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/flags/flags.h"
#include "gtest/gtest.h"

namespace nsq::broker {
namespace {

absl::Status ParseArgs(BrokerOptions* options, std::vector<std::string> args) {
  flags::FlagSet f("nsqd");
  options->RegisterFlags(&f);
  return f.Parse(args);
}

TEST(BrokerOptionsTest, DefaultsAreNsqdsExceptLoopbackListeners) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {}).ok());
  EXPECT_EQ(o.mem_queue_size, 10000);
  EXPECT_EQ(o.msg_timeout, absl::Seconds(60));
  EXPECT_EQ(o.max_msg_timeout, absl::Minutes(15));
  EXPECT_EQ(o.max_msg_size, 1048576);
  EXPECT_EQ(o.max_body_size, 5242880);
  EXPECT_EQ(o.max_req_timeout, absl::Hours(1));
  EXPECT_EQ(o.max_rdy_count, 2500);
  EXPECT_EQ(o.tcp_address, "127.0.0.1:4150");
  EXPECT_EQ(o.http_address, "127.0.0.1:4151");
  EXPECT_EQ(o.grpc_address, "127.0.0.1:4153");
}

TEST(BrokerOptionsTest, FlagsUseNsqdNames) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--mem-queue-size=5", "--msg-timeout=2s", "--max-rdy-count", "10",
                             "--node-id=3", "--grpc-address=127.0.0.1:0"})
                  .ok());
  EXPECT_EQ(o.mem_queue_size, 5);
  EXPECT_EQ(o.msg_timeout, absl::Seconds(2));
  EXPECT_EQ(o.max_rdy_count, 10);
  EXPECT_EQ(o.node_id, 3);
  EXPECT_EQ(o.grpc_address, "127.0.0.1:0");
  EngineOptions e = o.ToEngineOptions();
  EXPECT_EQ(e.mem_queue_size, 5);
  EXPECT_EQ(e.node_id, 3);
}

TEST(BrokerOptionsTest, ConfigFileUsesNsqdKeysAndFlagsWin) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/nsqd.cfg";
  std::ofstream(path) << "mem_queue_size = 77\nmsg_timeout = \"5s\"\nid = 9\nmax_rdy_count = 11\n";
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--config=" + path, "--max-rdy-count=12"}).ok());
  EXPECT_EQ(o.mem_queue_size, 77);
  EXPECT_EQ(o.msg_timeout, absl::Seconds(5));
  EXPECT_EQ(o.node_id, 9);
  EXPECT_EQ(o.max_rdy_count, 12);
}

TEST(BrokerOptionsTest, ValidateRejectsWhatNsqdRejects) {
  BrokerOptions o;
  o.node_id = 1024;
  EXPECT_EQ(o.Validate().message(), "--node-id must be [0,1024)");
  o.node_id = 1;
  EXPECT_TRUE(o.Validate().ok());
  o.max_body_size = 0;
  EXPECT_EQ(o.Validate().message(), "--max-body-size must be > 0");
}

TEST(BrokerOptionsTest, MaxMsgSizeAboveMaxBodySizeIsAcceptedAsNsqdDoes) {
  BrokerOptions o;
  o.node_id = 1;
  o.max_msg_size = 10 * 1024 * 1024;
  o.max_body_size = 5 * 1024 * 1024;
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
}

TEST(BrokerOptionsTest, BareTlsRequiredMeansTrue) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--tls-required", "--tls-cert=c.pem", "--tls-key=k.pem"}).ok());
  EXPECT_EQ(o.tls_required, "true");
  BrokerOptions other;
  ASSERT_TRUE(ParseArgs(&other, {"--tls-required=tcp-https"}).ok());
  EXPECT_EQ(other.tls_required, "tcp-https");
}

TEST(BrokerOptionsTest, TlsRequiredTakesGoBoolSpellingsAsNsqdDoes) {
  for (const auto& [given, want] : std::vector<std::pair<std::string, std::string>>{
           {"TRUE", "true"}, {"1", "true"}, {"t", "true"}, {"False", "false"},
           {"0", "false"}, {"TCP-HTTPS", "tcp-https"}}) {
    BrokerOptions o;
    ASSERT_TRUE(ParseArgs(&o, {"--tls-required=" + given}).ok());
    o.ResolveDefaults();
    EXPECT_EQ(o.tls_required, want) << given;
  }
  BrokerOptions bad;
  ASSERT_TRUE(ParseArgs(&bad, {"--tls-required=maybe"}).ok());
  bad.ResolveDefaults();
  EXPECT_FALSE(bad.Validate().ok());
}

TEST(BrokerOptionsTest, HttpsAddressDefaultsToLoopback4152) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {}).ok());
  EXPECT_EQ(o.https_address, "127.0.0.1:4152");
}

TEST(BrokerOptionsTest, DefaultNodeIdIsStableAndInRange) {
  int64_t a = DefaultNodeId("host-a");
  EXPECT_EQ(a, DefaultNodeId("host-a"));
  EXPECT_GE(a, 0);
  EXPECT_LT(a, 1024);
  BrokerOptions o;
  o.ResolveDefaults();
  EXPECT_GE(o.node_id, 0);
  EXPECT_LT(o.node_id, 1024);
}

}  // namespace
}  // namespace nsq::broker
