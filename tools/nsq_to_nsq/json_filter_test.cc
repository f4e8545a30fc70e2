#include "tools/nsq_to_nsq/json_filter.h"

#include "gtest/gtest.h"

namespace nsq::tools {
namespace {

TEST(JsonFilterTest, WithoutOptionsTheBodyPassesUnparsed) {
  JsonFilter f;
  EXPECT_EQ(f.Apply("not json"), "not json");
}

TEST(JsonFilterTest, RequiredFieldAndValueDropOthers) {
  JsonFilter f;
  f.require_field = "kind";
  EXPECT_EQ(f.Apply(R"({"kind":"a","x":1})"), R"({"kind":"a","x":1})");
  EXPECT_EQ(f.Apply(R"({"x":1})"), std::nullopt);
  EXPECT_EQ(f.Apply("not json"), std::nullopt);
  f.require_value = "a";
  EXPECT_TRUE(f.Apply(R"({"kind":"a"})").has_value());
  EXPECT_FALSE(f.Apply(R"({"kind":"b"})").has_value());
  f.require_value = "3";
  EXPECT_TRUE(f.Apply(R"({"kind":3})").has_value());
}

TEST(JsonFilterTest, WhitelistKeepsOnlyThoseFields) {
  JsonFilter f;
  f.whitelist = {"a", "c"};
  EXPECT_EQ(f.Apply(R"({"a":1,"b":2,"c":{"d":3}})"), R"({"a":1,"c":{"d":3}})");
  EXPECT_EQ(f.Apply(R"({"b":2})"), "{}");
}

}  // namespace
}  // namespace nsq::tools
