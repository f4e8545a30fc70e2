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

TEST(BrokerOptionsTest, E2ePercentilesAndWindowReachTheEngine) {
  BrokerOptions o;
  EXPECT_TRUE(o.ToEngineOptions().e2e_percentiles.empty());
  EXPECT_TRUE(o.ToEngineOptions().record_e2e_latency);
  ASSERT_TRUE(ParseArgs(&o, {"--e2e-processing-latency-percentile=1.0,0.99",
                             "--e2e-processing-latency-window-time=60s"})
                  .ok());
  EngineOptions e = o.ToEngineOptions();
  EXPECT_EQ(e.e2e_percentiles, (std::vector<double>{1.0, 0.99}));
  EXPECT_EQ(e.e2e_window, absl::Seconds(60));
  EXPECT_TRUE(o.NoOpNotices().empty());
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

// Every flag of stock nsqd 1.3.0's --help, with a valid value ("" = bare bool). --config
// and --version are left out: they are answered before options apply.
const std::vector<std::pair<std::string, std::string>>& StockNsqdFlags() {
  static const auto* flags = new std::vector<std::pair<std::string, std::string>>{
      {"auth-http-address", "127.0.0.1:4181"},
      {"auth-http-request-method", "post"},
      {"broadcast-address", "example.test"},
      {"broadcast-http-port", "4151"},
      {"broadcast-tcp-port", "4150"},
      {"data-path", "/tmp"},
      {"deflate", "false"},
      {"e2e-processing-latency-percentile", "1.0,0.99"},
      {"e2e-processing-latency-window-time", "60s"},
      {"enable-experiment", "topology-aware-consumption"},
      {"http-address", "127.0.0.1:0"},
      {"http-client-connect-timeout", "3s"},
      {"http-client-request-timeout", "6s"},
      {"https-address", "127.0.0.1:0"},
      {"log-level", "warn"},
      {"log-prefix", "[x] "},
      {"lookupd-tcp-address", "127.0.0.1:4160"},
      {"max-body-size", "6000000"},
      {"max-bytes-per-file", "1000000"},
      {"max-channel-consumers", "5"},
      {"max-deflate-level", "5"},
      {"max-heartbeat-interval", "30s"},
      {"max-msg-size", "2000000"},
      {"max-msg-timeout", "10m"},
      {"max-output-buffer-size", "100000"},
      {"max-output-buffer-timeout", "10s"},
      {"max-rdy-count", "100"},
      {"max-req-timeout", "30m"},
      {"mem-queue-size", "100"},
      {"min-output-buffer-timeout", "10ms"},
      {"msg-timeout", "30s"},
      {"node-id", "7"},
      {"output-buffer-timeout", "100ms"},
      {"queue-scan-selection-count", "10"},
      {"queue-scan-worker-pool-max", "2"},
      {"snappy", "false"},
      {"statsd-address", "127.0.0.1:8125"},
      {"statsd-exclude-ephemeral", ""},
      {"statsd-interval", "10s"},
      {"statsd-mem-stats", "false"},
      {"statsd-prefix", "nsq.%s"},
      {"statsd-udp-packet-size", "1400"},
      {"sync-every", "100"},
      {"sync-timeout", "1s"},
      {"tcp-address", "127.0.0.1:0"},
      {"tls-cert", ""},  // given a value in the loop, with tls-key
      {"tls-client-auth-policy", "require"},
      {"tls-key", ""},
      {"tls-min-version", "tls1.2"},
      {"tls-required", "tcp-https"},
      {"tls-root-ca-file", "/tmp/ca.pem"},
      {"topology-region", "eu"},
      {"topology-zone", "eu-1"},
      {"verbose", ""},
      {"worker-id", ""},
  };
  return *flags;
}

TEST(BrokerOptionsTest, EveryStockNsqdFlagIsAcceptedWithNsqdSyntax) {
  for (const auto& [name, value] : StockNsqdFlags()) {
    for (const std::string& dash : {std::string("-"), std::string("--")}) {
      std::vector<std::string> args;
      if (name == "tls-cert" || name == "tls-key") {
        args = {dash + "tls-cert", "c.pem", dash + "tls-key=k.pem"};
      } else if (value.empty()) {
        args = {dash + name};
      } else {
        args = {dash + name, value};  // the space form; '=' is covered below
      }
      BrokerOptions o;
      absl::Status st = ParseArgs(&o, args);
      ASSERT_TRUE(st.ok()) << name << ": " << st;
      o.ResolveDefaults();
      if (name == "tls-client-auth-policy" || name == "tls-required") {
        o.tls_cert = "c.pem";
        o.tls_key = "k.pem";
      }
      EXPECT_TRUE(o.Validate().ok()) << name << ": " << o.Validate();
    }
  }
  std::vector<std::string> all;
  for (const auto& [name, value] : StockNsqdFlags()) {
    if (name == "tls-cert" || name == "tls-key") continue;
    all.push_back(value.empty() ? "--" + name : "--" + name + "=" + value);
  }
  all.push_back("--tls-cert=c.pem");
  all.push_back("--tls-key=k.pem");
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, all).ok());
  o.ResolveDefaults();
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
  EXPECT_EQ(o.statsd_address, "127.0.0.1:8125");
  EXPECT_EQ(o.statsd_interval, absl::Seconds(10));
  EXPECT_FALSE(o.statsd_mem_stats);
  EXPECT_EQ(o.statsd_udp_packet_size, 1400);
  EXPECT_TRUE(o.statsd_exclude_ephemeral);
  EXPECT_EQ(o.topology_zone, "eu-1");
  EXPECT_EQ(o.queue_scan_worker_pool_max, 2);
}

TEST(BrokerOptionsTest, NewFlagsHaveNsqdDefaults) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {}).ok());
  EXPECT_EQ(o.statsd_address, "");
  EXPECT_EQ(o.statsd_prefix, "nsq.%s");
  EXPECT_EQ(o.statsd_interval, absl::Seconds(60));
  EXPECT_TRUE(o.statsd_mem_stats);
  EXPECT_EQ(o.statsd_udp_packet_size, 508);
  EXPECT_FALSE(o.statsd_exclude_ephemeral);
  EXPECT_EQ(o.e2e_processing_latency_window_time, absl::Minutes(10));
  EXPECT_EQ(o.queue_scan_selection_count, 20);
  EXPECT_EQ(o.queue_scan_worker_pool_max, 4);
  EXPECT_TRUE(o.NoOpNotices().empty());
}

TEST(BrokerOptionsTest, VerboseAndWorkerIdAreBareNoOpsAsInNsqd) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--verbose", "--worker-id", "--node-id=5"}).ok());
  EXPECT_EQ(o.node_id, 5);
  EXPECT_EQ(o.NoOpNotices().size(), 2u);
  // Stock nsqd's --worker-id is a bool: a number is "invalid boolean value".
  BrokerOptions bad;
  EXPECT_FALSE(ParseArgs(&bad, {"--worker-id=5"}).ok());
}

TEST(BrokerOptionsTest, EveryConfigKeyOfTheNewFlagsIsRead) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/new.cfg";
  std::ofstream(path) << "verbose = true\n"
                         "statsd_address = \"127.0.0.1:9\"\n"
                         "statsd_prefix = \"p.%s\"\n"
                         "statsd_interval = \"5s\"\n"
                         "statsd_mem_stats = false\n"
                         "statsd_udp_packet_size = 1000\n"
                         "statsd_exclude_ephemeral = true\n"
                         "e2e_processing_latency_percentiles = [1.0, 0.99]\n"
                         "e2e_processing_latency_window_time = \"1m\"\n"
                         "queue_scan_selection_count = 3\n"
                         "queue_scan_worker_pool_max = 8\n"
                         "topology_region = \"r\"\n"
                         "topology_zone = \"z\"\n"
                         "enable_experiment = [\"topology-aware-consumption\"]\n";
  BrokerOptions o;
  flags::FlagSet f("nsqd");
  o.RegisterFlags(&f);
  ASSERT_TRUE(f.Parse({"--config=" + path}).ok());
  EXPECT_TRUE(f.UnknownConfigKeys().empty());
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.statsd_address, "127.0.0.1:9");
  EXPECT_EQ(o.statsd_prefix, "p.%s");
  EXPECT_EQ(o.statsd_interval, absl::Seconds(5));
  EXPECT_FALSE(o.statsd_mem_stats);
  EXPECT_EQ(o.statsd_udp_packet_size, 1000);
  EXPECT_TRUE(o.statsd_exclude_ephemeral);
  ASSERT_TRUE(o.E2EPercentiles().ok());
  EXPECT_EQ(*o.E2EPercentiles(), (std::vector<double>{1.0, 0.99}));
  EXPECT_EQ(o.e2e_processing_latency_window_time, absl::Minutes(1));
  EXPECT_EQ(o.queue_scan_selection_count, 3);
  EXPECT_EQ(o.queue_scan_worker_pool_max, 8);
  EXPECT_EQ(o.topology_region, "r");
  EXPECT_EQ(o.topology_zone, "z");
  EXPECT_EQ(o.enable_experiment, std::vector<std::string>{"topology-aware-consumption"});
}

TEST(BrokerOptionsTest, BadPercentileGetsNsqdsError) {
  BrokerOptions o;
  o.node_id = 1;
  ASSERT_TRUE(ParseArgs(&o, {"--e2e-processing-latency-percentile=0.5,1.5"}).ok());
  EXPECT_EQ(o.Validate().message(), "invalid E2E processing latency percentile: 1.5");
  BrokerOptions repeated;
  repeated.node_id = 1;
  ASSERT_TRUE(ParseArgs(&repeated, {"--e2e-processing-latency-percentile=0.5",
                                    "--e2e-processing-latency-percentile", "0.95,0.99"})
                  .ok());
  ASSERT_TRUE(repeated.E2EPercentiles().ok());
  EXPECT_EQ(*repeated.E2EPercentiles(), (std::vector<double>{0.5, 0.95, 0.99}));
}

TEST(BrokerOptionsTest, StatsdIntervalMustBePositiveWhenPushing) {
  BrokerOptions o;
  o.node_id = 1;
  ASSERT_TRUE(ParseArgs(&o, {"--statsd-address=127.0.0.1:9", "--statsd-interval=0s"}).ok());
  EXPECT_EQ(o.Validate().message(), "--statsd-interval must be > 0");
}

}  // namespace
}  // namespace nsq::broker

namespace nsq::broker {
namespace {

TEST(BrokerOptionsTest, PolicyFlagsAreOffByDefault) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {}).ok());
  EXPECT_EQ(o.ToEngineOptions().default_policy, QueuePolicy{});
  EXPECT_FALSE(o.ToEngineOptions().default_policy.active());
}

TEST(BrokerOptionsTest, PolicyFlagsBecomeTheEngineDefaultPolicy) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--max-attempts=5", "--dead-letter-topic=dlq", "--message-ttl=1m30s",
                             "--dead-letter-expired", "--max-depth", "1000",
                             "--depth-policy=drop_oldest"})
                  .ok());
  o.node_id = 1;
  ASSERT_TRUE(o.Validate().ok()) << o.Validate();
  const QueuePolicy p = o.ToEngineOptions().default_policy;
  EXPECT_EQ(p.max_attempts, 5);
  EXPECT_EQ(p.dead_letter_topic, "dlq");
  EXPECT_EQ(p.message_ttl, absl::Seconds(90));
  EXPECT_TRUE(p.dead_letter_expired);
  EXPECT_EQ(p.max_depth, 1000);
  EXPECT_EQ(p.depth_policy, DepthPolicy::kDropOldest);
}

TEST(BrokerOptionsTest, PolicyFlagsAreReadFromTheConfigFile) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/policy.cfg";
  std::ofstream(path) << "max_attempts = 3\ndead_letter_topic = \"dead\"\nmessage_ttl = \"10s\"\n"
                         "max_depth = 7\ndepth_policy = \"reject_new\"\n";
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--config=" + path}).ok());
  const QueuePolicy p = o.DefaultPolicy();
  EXPECT_EQ(p.max_attempts, 3);
  EXPECT_EQ(p.dead_letter_topic, "dead");
  EXPECT_EQ(p.message_ttl, absl::Seconds(10));
  EXPECT_EQ(p.max_depth, 7);
  EXPECT_EQ(p.depth_policy, DepthPolicy::kRejectNew);
}

TEST(BrokerOptionsTest, BadPolicyFlagsGetAClearError) {
  auto error_of = [](std::vector<std::string> args) {
    BrokerOptions o;
    absl::Status parsed = ParseArgs(&o, std::move(args));
    if (!parsed.ok()) return std::string(parsed.message());
    o.node_id = 1;
    return std::string(o.Validate().message());
  };
  EXPECT_EQ(error_of({"--max-attempts=-1"}), "--max-attempts must be [0,65535]");
  EXPECT_EQ(error_of({"--max-attempts=70000"}), "--max-attempts must be [0,65535]");
  EXPECT_EQ(error_of({"--message-ttl=-5s"}), "--message-ttl must be >= 0");
  EXPECT_EQ(error_of({"--max-depth=-1"}), "--max-depth must be >= 0");
  EXPECT_EQ(error_of({"--depth-policy=drop_newest"}), "--depth-policy must be reject_new or drop_oldest");
  EXPECT_EQ(error_of({"--dead-letter-topic=bad topic"}),
            "--dead-letter-topic \"bad topic\" is not a valid topic name");
  EXPECT_EQ(error_of({"--dead-letter-expired", "--message-ttl=1s"}),
            "--dead-letter-expired needs --dead-letter-topic");
  EXPECT_EQ(error_of({"--dead-letter-expired", "--dead-letter-topic=d"}),
            "--dead-letter-expired needs --message-ttl");
  // Not a Go duration: the flag parser's own error, naming the flag.
  EXPECT_NE(error_of({"--message-ttl=soon"}).find("message-ttl"), std::string::npos);
}

TEST(BrokerOptionsTest, PolicyFlagsAreInTheHelp) {
  flags::FlagSet f("nsqd");
  BrokerOptions o;
  o.RegisterFlags(&f);
  const std::string help = f.Usage();
  for (const char* name : {"-max-attempts", "-dead-letter-topic", "-message-ttl", "-dead-letter-expired",
                           "-max-depth", "-depth-policy"}) {
    EXPECT_NE(help.find(name), std::string::npos) << name;
  }
}

// gRPC TLS stays off with nsqd's --tls-* alone; --grpc-tls reuses them with their client
// policy; --grpc-tls-* files win.
TEST(BrokerOptionsTest, GrpcTlsIsOffUnlessAskedAndReusesTheTlsFiles) {
  BrokerOptions legacy_only;
  legacy_only.node_id = 1;
  ASSERT_TRUE(ParseArgs(&legacy_only, {"--tls-cert=c.pem", "--tls-key=k.pem"}).ok());
  ASSERT_TRUE(legacy_only.Validate().ok());
  EXPECT_FALSE(legacy_only.GrpcServerTls()->enabled());

  BrokerOptions reuse;
  ASSERT_TRUE(ParseArgs(&reuse, {"--tls-cert=c.pem", "--tls-key=k.pem", "--grpc-tls"}).ok());
  auto tls = reuse.GrpcServerTls();
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->cert_file, "c.pem");
  EXPECT_EQ(tls->key_file, "k.pem");
  EXPECT_EQ(tls->client_ca_file, "");
  EXPECT_FALSE(tls->require_client_cert);

  BrokerOptions verify;
  ASSERT_TRUE(ParseArgs(&verify, {"--tls-cert=c.pem", "--tls-key=k.pem", "--tls-root-ca-file=ca.pem",
                                  "--tls-client-auth-policy=require-verify", "--grpc-tls=true"})
                  .ok());
  EXPECT_EQ(verify.GrpcServerTls()->client_ca_file, "ca.pem");
  BrokerOptions require;
  ASSERT_TRUE(ParseArgs(&require, {"--tls-cert=c.pem", "--tls-key=k.pem",
                                   "--tls-client-auth-policy=require", "--grpc-tls"})
                  .ok());
  EXPECT_TRUE(require.GrpcServerTls()->require_client_cert);

  BrokerOptions own;
  ASSERT_TRUE(ParseArgs(&own, {"--tls-cert=c.pem", "--tls-key=k.pem", "--tls-client-auth-policy=require",
                               "--grpc-tls-cert=g.pem", "--grpc-tls-key=gk.pem",
                               "--grpc-tls-client-ca=gca.pem"})
                  .ok());
  tls = own.GrpcServerTls();
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->cert_file, "g.pem");
  EXPECT_EQ(tls->client_ca_file, "gca.pem");
  EXPECT_FALSE(tls->require_client_cert);  // its own files: not the V2 policy
}

TEST(BrokerOptionsTest, GrpcTlsWithoutACertificateIsAClearError) {
  BrokerOptions nothing;
  nothing.node_id = 1;
  ASSERT_TRUE(ParseArgs(&nothing, {"--grpc-tls"}).ok());
  EXPECT_NE(nothing.Validate().message().find("gRPC TLS needs a certificate"), std::string::npos);
  BrokerOptions half;
  half.node_id = 1;
  ASSERT_TRUE(ParseArgs(&half, {"--grpc-tls-cert=g.pem"}).ok());
  EXPECT_NE(half.Validate().message().find("--grpc-tls-cert and --grpc-tls-key"), std::string::npos);
  BrokerOptions no_ca;
  no_ca.node_id = 1;
  ASSERT_TRUE(ParseArgs(&no_ca, {"--tls-cert=c.pem", "--tls-key=k.pem", "--tls-client-auth-policy=require-verify",
                                 "--grpc-tls"})
                  .ok());
  EXPECT_NE(no_ca.Validate().message().find("--tls-root-ca-file or --grpc-tls-client-ca"), std::string::npos);
}

TEST(BrokerOptionsTest, DiscoveryTlsFlagsFillTheRegistrarsClientOptions) {
  BrokerOptions o;
  ASSERT_TRUE(ParseArgs(&o, {"--discovery-tls-ca=ca.pem", "--discovery-tls-cert=c.pem",
                             "--discovery-tls-key=k.pem", "--discovery-tls-server-name=nsqlookupd"})
                  .ok());
  EXPECT_TRUE(o.discovery_tls.UseTls());
  EXPECT_EQ(o.discovery_tls.ca_file, "ca.pem");
  EXPECT_EQ(o.discovery_tls.server_name, "nsqlookupd");
  BrokerOptions plain;
  ASSERT_TRUE(ParseArgs(&plain, {}).ok());
  EXPECT_FALSE(plain.discovery_tls.UseTls());
}

}  // namespace
}  // namespace nsq::broker
