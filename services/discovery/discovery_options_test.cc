#include "services/discovery/discovery_options.h"

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/flags/flags.h"
#include "gtest/gtest.h"

namespace nsq::discovery {
namespace {

absl::Status ParseArgs(DiscoveryOptions* options, std::vector<std::string> args,
                       flags::FlagSet* f) {
  options->RegisterFlags(f);
  return f->Parse(args);
}

// Every flag of stock nsqlookupd 1.3.0's --help but --config and --version, with a valid
// value ("" = bare bool).
const std::vector<std::pair<std::string, std::string>> kStockNsqlookupdFlags = {
    {"broadcast-address", "example.test"},
    {"http-address", "127.0.0.1:0"},
    {"inactive-producer-timeout", "1m"},
    {"log-level", "debug"},
    {"log-prefix", "[l] "},
    {"tcp-address", "127.0.0.1:0"},
    {"tombstone-lifetime", "10s"},
    {"verbose", ""},
};

TEST(DiscoveryOptionsTest, EveryStockNsqlookupdFlagIsAccepted) {
  for (const auto& [name, value] : kStockNsqlookupdFlags) {
    for (const std::string& dash : {std::string("-"), std::string("--")}) {
      DiscoveryOptions o;
      flags::FlagSet f("nsqlookupd");
      std::vector<std::string> args = value.empty() ? std::vector<std::string>{dash + name}
                                                    : std::vector<std::string>{dash + name, value};
      absl::Status st = ParseArgs(&o, args, &f);
      ASSERT_TRUE(st.ok()) << name << ": " << st;
      EXPECT_TRUE(f.IsSet(name)) << name;
      EXPECT_TRUE(o.Validate().ok()) << name << ": " << o.Validate();
    }
  }
}

TEST(DiscoveryOptionsTest, VerboseIsABareNoOp) {
  DiscoveryOptions o;
  flags::FlagSet f("nsqlookupd");
  ASSERT_TRUE(ParseArgs(&o, {"--verbose", "--tombstone-lifetime=3s"}, &f).ok());
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.tombstone_lifetime, absl::Seconds(3));
}

TEST(DiscoveryOptionsTest, EveryConfigKeyIsRead) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/lookupd.cfg";
  std::ofstream(path) << "verbose = true\n"
                         "log_level = \"warn\"\n"
                         "log_prefix = \"[l] \"\n"
                         "tcp_address = \"127.0.0.1:1\"\n"
                         "http_address = \"127.0.0.1:2\"\n"
                         "broadcast_address = \"b.test\"\n"
                         "inactive_producer_timeout = \"2m\"\n"
                         "tombstone_lifetime = \"7s\"\n";
  DiscoveryOptions o;
  flags::FlagSet f("nsqlookupd");
  ASSERT_TRUE(ParseArgs(&o, {"--config=" + path}, &f).ok());
  EXPECT_TRUE(f.UnknownConfigKeys().empty());
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.log_level, "warn");
  EXPECT_EQ(o.log_prefix, "[l] ");
  EXPECT_EQ(o.tcp_address, "127.0.0.1:1");
  EXPECT_EQ(o.http_address, "127.0.0.1:2");
  EXPECT_EQ(o.broadcast_address, "b.test");
  EXPECT_EQ(o.inactive_producer_timeout, absl::Minutes(2));
  EXPECT_EQ(o.tombstone_lifetime, absl::Seconds(7));
}

TEST(DiscoveryOptionsTest, GrpcTlsFlagsAreCheckedTogether) {
  DiscoveryOptions o;
  flags::FlagSet f("nsqlookupd");
  ASSERT_TRUE(ParseArgs(&o, {"--grpc-tls-cert=c.pem", "--grpc-tls-key=k.pem", "--grpc-tls-client-ca=ca.pem"}, &f)
                  .ok());
  ASSERT_TRUE(o.Validate().ok());
  EXPECT_TRUE(o.GrpcServerTls().enabled());
  EXPECT_EQ(o.GrpcServerTls().client_ca_file, "ca.pem");

  DiscoveryOptions half;
  flags::FlagSet g("nsqlookupd");
  ASSERT_TRUE(ParseArgs(&half, {"--grpc-tls-key=k.pem"}, &g).ok());
  EXPECT_FALSE(half.Validate().ok());
  DiscoveryOptions ca_only;
  flags::FlagSet h("nsqlookupd");
  ASSERT_TRUE(ParseArgs(&ca_only, {"--grpc-tls-client-ca=ca.pem"}, &h).ok());
  EXPECT_FALSE(ca_only.Validate().ok());
  EXPECT_FALSE(DiscoveryOptions().GrpcServerTls().enabled());
}

}  // namespace
}  // namespace nsq::discovery
