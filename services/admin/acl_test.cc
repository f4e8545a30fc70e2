#include "services/admin/acl.h"

#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

TEST(AclTest, WithoutAdminUsersEveryoneMayAct) {
  Acl acl({}, "X-Forwarded-User");
  EXPECT_FALSE(acl.enabled());
  EXPECT_TRUE(acl.MayAct(std::nullopt));
  EXPECT_TRUE(acl.MayAct(std::string("anyone")));
}

TEST(AclTest, OnlyListedUsersMayActWhenSet) {
  Acl acl({"alice", "bob"}, "X-Forwarded-User");
  EXPECT_TRUE(acl.enabled());
  EXPECT_TRUE(acl.MayAct(std::string("alice")));
  EXPECT_TRUE(acl.MayAct(std::string("bob")));
  EXPECT_FALSE(acl.MayAct(std::string("mallory")));
  EXPECT_FALSE(acl.MayAct(std::string("Alice")));
  EXPECT_FALSE(acl.MayAct(std::string("")));
  EXPECT_FALSE(acl.MayAct(std::nullopt));
}

TEST(CidrTest, ContainsIpv4AndIpv6WithPorts) {
  auto c = Cidr::Parse("127.0.0.1/8");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Contains("127.0.0.1:5000"));
  EXPECT_TRUE(c->Contains("127.255.1.2:1"));
  EXPECT_TRUE(c->Contains("[::ffff:127.0.0.1]:80"));
  EXPECT_FALSE(c->Contains("128.0.0.1:5000"));
  EXPECT_FALSE(c->Contains("10.0.0.1"));
  EXPECT_FALSE(c->Contains("[::1]:80"));
  EXPECT_FALSE(c->Contains("garbage"));
  auto six = Cidr::Parse("fd00::/8");
  ASSERT_TRUE(six.ok());
  EXPECT_TRUE(six->Contains("[fd12::1]:4171"));
  EXPECT_FALSE(six->Contains("[fe80::1]:4171"));
  auto exact = Cidr::Parse("10.1.2.3/32");
  EXPECT_TRUE(exact->Contains("10.1.2.3:1"));
  EXPECT_FALSE(exact->Contains("10.1.2.4:1"));
  auto odd = Cidr::Parse("10.1.2.0/23");
  EXPECT_TRUE(odd->Contains("10.1.3.200:1"));
  EXPECT_FALSE(odd->Contains("10.1.4.1:1"));
}

TEST(CidrTest, RejectsMalformed) {
  EXPECT_FALSE(Cidr::Parse("127.0.0.1").ok());
  EXPECT_FALSE(Cidr::Parse("127.0.0.1/33").ok());
  EXPECT_FALSE(Cidr::Parse("host/8").ok());
  EXPECT_FALSE(Cidr::Parse("::1/129").ok());
  EXPECT_FALSE(Cidr::Parse("1.2.3.4/x").ok());
}

TEST(HostOfTest, StripsPorts) {
  EXPECT_EQ(HostOf("1.2.3.4:5"), "1.2.3.4");
  EXPECT_EQ(HostOf("[::1]:5"), "::1");
  EXPECT_EQ(HostOf("::1"), "::1");
  EXPECT_EQ(HostOf("1.2.3.4"), "1.2.3.4");
}

}  // namespace
}  // namespace nsq::admin
