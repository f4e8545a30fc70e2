#include "client/lookupd.h"

#include "gtest/gtest.h"

namespace nsq::client {
namespace {

TEST(LookupdTest, ParsesThePlainV1Reply) {
  auto p = ParseLookupdProducers(
      R"({"channels":["c"],"producers":[{"remote_address":"127.0.0.1:5","hostname":"h",)"
      R"("broadcast_address":"10.0.0.1","tcp_port":4150,"http_port":4151,"version":"1.3.0"}]})");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].TcpAddress(), "10.0.0.1:4150");
  EXPECT_EQ((*p)[0].HttpAddress(), "10.0.0.1:4151");
}

TEST(LookupdTest, ParsesTheLegacyEnvelope) {
  auto p = ParseLookupdProducers(
      R"({"status_code":200,"status_txt":"OK","data":{"producers":[{"broadcast_address":"::1","tcp_port":1}]}})");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].TcpAddress(), "[::1]:1");
  auto t = ParseLookupdTopics(R"({"status_code":200,"status_txt":"OK","data":{"topics":["a","b"]}})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (std::vector<std::string>{"a", "b"}));
}

TEST(LookupdTest, AnEmptyBodyHasNoProducersAndGarbageIsAnError) {
  auto p = ParseLookupdProducers("");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->empty());
  EXPECT_FALSE(ParseLookupdProducers("not json").ok());
  EXPECT_FALSE(ParseLookupdProducers(R"({"producers":3})").ok());
}

TEST(LookupdTest, SplitsAddressesAndUrls) {
  std::string hp, path;
  ASSERT_TRUE(SplitLookupdAddress("127.0.0.1:4161", "/lookup", &hp, &path).ok());
  EXPECT_EQ(hp, "127.0.0.1:4161");
  EXPECT_EQ(path, "/lookup");
  ASSERT_TRUE(SplitLookupdAddress("http://127.0.0.1:4161/custom?x=1", "/lookup", &hp, &path).ok());
  EXPECT_EQ(path, "/custom?x=1");
  EXPECT_FALSE(SplitLookupdAddress("nohost", "/lookup", &hp, &path).ok());
  EXPECT_FALSE(SplitLookupdAddress("https://a:1", "/lookup", &hp, &path).ok());
}

}  // namespace
}  // namespace nsq::client
