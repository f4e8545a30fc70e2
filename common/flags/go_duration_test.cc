#include "common/flags/go_duration.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::flags {
namespace {

using ::testing::HasSubstr;

TEST(ParseGoDurationTest, AcceptsGoSyntax) {
  struct Case {
    const char* text;
    absl::Duration want;
  };
  const Case cases[] = {
      {"0", absl::ZeroDuration()},
      {"60s", absl::Seconds(60)},
      {"1m30s", absl::Seconds(90)},
      {"250ms", absl::Milliseconds(250)},
      {"1h", absl::Hours(1)},
      {"100us", absl::Microseconds(100)},
      {"100\xC2\xB5s", absl::Microseconds(100)},
      {"100\xCE\xBCs", absl::Microseconds(100)},
      {"7ns", absl::Nanoseconds(7)},
      {"1.5h", absl::Minutes(90)},
      {".5s", absl::Milliseconds(500)},
      {"1.s", absl::Seconds(1)},
      {"-2s", absl::Seconds(-2)},
      {"+5m", absl::Minutes(5)},
      {"2h45m0.5s", absl::Hours(2) + absl::Minutes(45) + absl::Milliseconds(500)},
      {"9223372036854775807ns", absl::Nanoseconds(INT64_MAX)},
      {"-9223372036854775808ns", absl::Nanoseconds(INT64_MIN)},
  };
  for (const Case& c : cases) {
    absl::StatusOr<absl::Duration> got = ParseGoDuration(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseGoDurationTest, RejectsMalformedAndOverflowingInput) {
  for (const char* text : {"", "-", "1", "s", ".s", "1sec", "1d", "abc", "1m x", "--1s",
                           "9223372036854775808ns", "3000000h"}) {
    absl::StatusOr<absl::Duration> got = ParseGoDuration(text);
    EXPECT_FALSE(got.ok()) << '"' << text << "\" parsed as " << *got;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  EXPECT_THAT(ParseGoDuration("10").status().message(), HasSubstr("missing unit"));
  EXPECT_THAT(ParseGoDuration("10sec").status().message(), HasSubstr("unknown unit \"sec\""));
}

TEST(FormatGoDurationTest, MatchesGoDurationString) {
  EXPECT_EQ(FormatGoDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(60)), "1m0s");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(90)), "1m30s");
  EXPECT_EQ(FormatGoDuration(absl::Minutes(90)), "1h30m0s");
  EXPECT_EQ(FormatGoDuration(absl::Milliseconds(250)), "250ms");
  EXPECT_EQ(FormatGoDuration(absl::Microseconds(1500)), "1.5ms");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1500)), "1.5\xC2\xB5s");
  EXPECT_EQ(FormatGoDuration(absl::Nanoseconds(1)), "1ns");
  EXPECT_EQ(FormatGoDuration(absl::Seconds(-1)), "-1s");
  EXPECT_EQ(FormatGoDuration(absl::Hours(2) + absl::Minutes(45) + absl::Milliseconds(500)),
            "2h45m0.5s");
  EXPECT_EQ(FormatGoDuration(absl::InfiniteDuration()), "2562047h47m16.854775807s");
}

TEST(FormatGoDurationTest, RoundTripsThroughParse) {
  for (absl::Duration d : {absl::Nanoseconds(3), absl::Microseconds(17), absl::Seconds(5),
                           absl::Hours(100) + absl::Nanoseconds(1), -absl::Minutes(3)}) {
    absl::StatusOr<absl::Duration> back = ParseGoDuration(FormatGoDuration(d));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, d);
  }
}

}  // namespace
}  // namespace nsq::flags
