#include "services/admin/admin_options.h"

#include <fstream>

#include "common/flags/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

TEST(AdminOptionsTest, FlagsHaveNsqadminsNamesAndRepeat) {
  AdminOptions o;
  flags::FlagSet f("nsqadmin");
  o.RegisterFlags(&f);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{
      "--lookupd-http-address=127.0.0.1:4161", "--lookupd-http-address=127.0.0.1:5161",
      "--admin-user=alice", "--admin-user=bob", "--base-path=admin", "--stats-interval=500ms"}).ok());
  EXPECT_EQ(o.lookupd_http_addresses, (std::vector<std::string>{"127.0.0.1:4161", "127.0.0.1:5161"}));
  EXPECT_EQ(o.admin_users, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(o.NormalizedBasePath(), "/admin/");
  EXPECT_EQ(o.stats_interval, absl::Milliseconds(500));
  EXPECT_EQ(o.http_address, "127.0.0.1:4171");
  EXPECT_EQ(o.acl_http_header, "X-Forwarded-User");
  EXPECT_TRUE(o.Validate().ok());
}

TEST(AdminOptionsTest, ConfigFileUsesNsqadminsKeysAndFlagsWin) {
  const std::string path = ::testing::TempDir() + "/nsqadmin.toml";
  std::ofstream(path) << "nsqlookupd_http_addresses = [\"10.0.0.1:4161\"]\n"
                      << "admin_users = [\"carol\"]\nhttp_address = \"127.0.0.1:9999\"\n";
  AdminOptions o;
  flags::FlagSet f("nsqadmin");
  o.RegisterFlags(&f);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{"--config=" + path, "--http-address=127.0.0.1:1"}).ok());
  EXPECT_EQ(o.lookupd_http_addresses, (std::vector<std::string>{"10.0.0.1:4161"}));
  EXPECT_EQ(o.admin_users, (std::vector<std::string>{"carol"}));
  EXPECT_EQ(o.http_address, "127.0.0.1:1");
}

TEST(AdminOptionsTest, NoUpstreamIsAClearError) {
  AdminOptions o;
  absl::Status s = o.Validate();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("--lookupd-http-address"));
  o.nsqd_http_addresses = {"127.0.0.1:4151"};
  EXPECT_TRUE(o.Validate().ok());
  o.allow_config_from_cidr = "nonsense";
  EXPECT_FALSE(o.Validate().ok());
  o.allow_config_from_cidr = "127.0.0.1/8";
  o.notification_http_endpoint = "ftp://x";
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace nsq::admin
