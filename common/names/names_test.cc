#include "common/names/names.h"

#include <string>

#include "gtest/gtest.h"

namespace nsq::names {
namespace {

TEST(NamesTest, AcceptsNsqNamesAndRejectsOthers) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName("orders.v1_A-b"));
  EXPECT_TRUE(IsValidName("tmp#ephemeral"));
  EXPECT_TRUE(IsValidName(std::string(64, 'x')));
  EXPECT_FALSE(IsValidName(std::string(65, 'x')));
  EXPECT_TRUE(IsValidName(std::string(54, 'x') + "#ephemeral"));
  EXPECT_FALSE(IsValidName(std::string(55, 'x') + "#ephemeral"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("#ephemeral"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("a#b"));
  EXPECT_FALSE(IsValidName("topic/x"));
  EXPECT_TRUE(IsEphemeralName("x#ephemeral"));
  EXPECT_FALSE(IsEphemeralName("x"));
}

}  // namespace
}  // namespace nsq::names
