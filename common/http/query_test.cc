#include "common/http/query.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(PercentDecodeTest, DecodesEscapesAndOptionallyPlus) {
  EXPECT_EQ(*PercentDecode("a%20b%2Fc%e2%82%AC", false), "a b/c\xe2\x82\xac");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("", true), "");
  EXPECT_EQ(*PercentDecode("%00", true), std::string(1, '\0'));
}

TEST(PercentDecodeTest, RejectsBadEscapes) {
  for (const char* bad : {"%", "%4", "%zz", "a%g0", "%%41"}) {
    absl::StatusOr<std::string> got = PercentDecode(bad, true);
    EXPECT_FALSE(got.ok()) << bad;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ParseQueryTest, DecodesPairsInOrderKeepingRepeats) {
  QueryParams q;
  ASSERT_TRUE(ParseQuery("topic=test&channel=ch+1&topic=%74wo&empty=&flag", &q).ok());
  EXPECT_THAT(q, ElementsAre(Pair("topic", "test"), Pair("channel", "ch 1"),
                             Pair("topic", "two"), Pair("empty", ""), Pair("flag", "")));
}

TEST(ParseQueryTest, SkipsEmptyComponentsAndSplitsOnFirstEquals) {
  QueryParams q;
  ASSERT_TRUE(ParseQuery("&&a=b=c&&", &q).ok());
  EXPECT_THAT(q, ElementsAre(Pair("a", "b=c")));
  QueryParams none;
  ASSERT_TRUE(ParseQuery("", &none).ok());
  EXPECT_THAT(none, IsEmpty());
}

TEST(ParseQueryTest, BadEscapeIsAnErrorButValidPairsRemain) {
  QueryParams q;
  absl::Status s = ParseQuery("a=1&b=%zz&c=3", &q);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("%zz"));
  EXPECT_THAT(q, ElementsAre(Pair("a", "1"), Pair("c", "3")));
}

TEST(ParseQueryTest, SemicolonIsRejectedLikeGo) {
  QueryParams q;
  EXPECT_FALSE(ParseQuery("a=1;b=2&c=3", &q).ok());
  EXPECT_THAT(q, ElementsAre(Pair("c", "3")));
}

TEST(ParseQueryTest, AppendsToExistingPairs) {
  QueryParams q = {{"x", "0"}};
  ASSERT_TRUE(ParseQuery("y=1", &q).ok());
  EXPECT_THAT(q, ElementsAre(Pair("x", "0"), Pair("y", "1")));
}

}  // namespace
}  // namespace nsq::http
