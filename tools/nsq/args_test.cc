#include "tools/nsq/args.h"

#include <string>
#include <vector>

#include "common/flags/flags.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::tools::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Parsed {
  absl::Status status;
  std::vector<std::string> positional;
  int64_t count = 0;
  bool json = false;
  std::string address = "default";
};

Parsed ParseArgs(const std::vector<std::string>& args) {
  Parsed p;
  flags::FlagSet fs("nsq test");
  fs.AddInt64("count", &p.count, "");
  fs.AddBool("json", &p.json, "");
  fs.AddString("address", &p.address, "");
  p.status = ParseInterleaved(&fs, args, &p.positional);
  return p;
}

TEST(ParseInterleavedTest, FlagsMayComeBeforeBetweenAndAfterArguments) {
  Parsed p = ParseArgs({"--count", "5", "orders", "--json", "billing", "--address=h:1"});
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.positional, ElementsAre("orders", "billing"));
  EXPECT_EQ(p.count, 5);
  EXPECT_TRUE(p.json);
  EXPECT_EQ(p.address, "h:1");
}

TEST(ParseInterleavedTest, AFlagsValueIsNotAnArgument) {
  Parsed p = ParseArgs({"orders", "--address", "billing"});
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.positional, ElementsAre("orders"));
  EXPECT_EQ(p.address, "billing");
}

TEST(ParseInterleavedTest, DoubleDashEndsTheFlags) {
  Parsed p = ParseArgs({"orders", "--", "--json", "-1", "--"});
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.positional, ElementsAre("orders", "--json", "-1", "--"));
  EXPECT_FALSE(p.json);
}

TEST(ParseInterleavedTest, ALoneDashIsAnArgument) {
  Parsed p = ParseArgs({"orders", "-"});
  ASSERT_TRUE(p.status.ok()) << p.status;
  EXPECT_THAT(p.positional, ElementsAre("orders", "-"));
}

TEST(ParseInterleavedTest, AnUnknownFlagAfterAnArgumentIsAnError) {
  Parsed p = ParseArgs({"orders", "--nope"});
  EXPECT_EQ(p.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status.message()), ::testing::HasSubstr("--nope"));
}

TEST(ParseInterleavedTest, HelpAnywhereIsReported) {
  Parsed p = ParseArgs({"orders", "--help"});
  EXPECT_EQ(p.status.code(), absl::StatusCode::kCancelled);
}

TEST(ParseInterleavedTest, NoArgumentsIsNoPositional) {
  Parsed p = ParseArgs({});
  ASSERT_TRUE(p.status.ok());
  EXPECT_THAT(p.positional, IsEmpty());
}

}  // namespace
}  // namespace nsq::tools::cli
