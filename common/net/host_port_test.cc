#include "common/net/host_port.h"

#include "gtest/gtest.h"

namespace nsq::net {
namespace {

TEST(HostPortTest, ParsesHostPortForms) {
  auto a = ParseHostPort("127.0.0.1:4150");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 4150);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = ParseHostPort(":65535");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, "");
  EXPECT_EQ(c->port, 65535);
  EXPECT_EQ(ParseHostPort("example.org:80")->host, "example.org");
}

TEST(HostPortTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "4150", "host:", "host:65536", "host:12a", "host:+1", "::1:80",
                          "[::1:80", "host:123456"}) {
    EXPECT_FALSE(ParseHostPort(bad).has_value()) << bad;
  }
}

TEST(HostPortTest, JoinBracketsIpv6AndRoundTrips) {
  EXPECT_EQ(JoinHostPort("127.0.0.1", 4151), "127.0.0.1:4151");
  EXPECT_EQ(JoinHostPort("::1", 80), "[::1]:80");
  auto back = ParseHostPort(JoinHostPort("fe80::1", 4160));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->host, "fe80::1");
  EXPECT_EQ(back->port, 4160);
}

}  // namespace
}  // namespace nsq::net
