#include "common/json/go_json.h"

#include "gtest/gtest.h"

namespace nsq::json {
namespace {

std::string Encode(const std::string& s) {
  std::string out;
  AppendGoJsonString(&out, s);
  return out;
}

TEST(GoJsonTest, EscapesLikeGo) {
  EXPECT_EQ(Encode("plain"), "\"plain\"");
  EXPECT_EQ(Encode("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Encode("\n\r\t\x01"), "\"\\n\\r\\t\\u0001\"");
  EXPECT_EQ(Encode("<a>&"), "\"\\u003ca\\u003e\\u0026\"");
  EXPECT_EQ(Encode("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Encode("bad\xff"), "\"bad\\ufffd\"");
  EXPECT_EQ(Encode("\xe2\x80\xa8"), "\"\\u2028\"");
}

TEST(GoJsonTest, WritesCompactNestedValues) {
  GoJsonWriter w;
  w.BeginObject()
      .Key("a").Int(1)
      .Key("b").StringArray({"x", "y"})
      .Key("c").BeginArray().BeginObject().Key("d").Bool(true).EndObject().EndArray()
      .Key("e").StringArray({})
      .EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":["x","y"],"c":[{"d":true}],"e":[]})");
}

TEST(GoJsonTest, WritesUnsignedAndNullValues) {
  GoJsonWriter w;
  w.BeginObject()
      .Key("big").Uint(18446744073709551615u)
      .Key("min").Int(-9223372036854775807 - 1)
      .Key("nil").Null()
      .Key("list").BeginArray().Null().Uint(0).EndArray()
      .EndObject();
  EXPECT_EQ(w.str(),
            R"({"big":18446744073709551615,"min":-9223372036854775808,"nil":null,"list":[null,0]})");
}

TEST(GoJsonTest, WritesFloatsAsGoDoes) {
  GoJsonWriter w;
  w.BeginArray().Float(1.0).Float(0.99).Float(1234567).Float(0).Float(-2.5).Float(1e21).Float(1e-7)
      .Float(0.000001).EndArray();
  EXPECT_EQ(w.str(), "[1,0.99,1234567,0,-2.5,1e+21,1e-7,0.000001]");
}

TEST(GoJsonTest, ScalarAtTopLevelIsAWholeValue) {
  EXPECT_EQ(GoJsonWriter().String("a<b").Release(), "\"a\\u003cb\"");
  EXPECT_EQ(GoJsonWriter().Int(42).Release(), "42");
  EXPECT_EQ(GoJsonWriter().StringArray({"x"}).Release(), R"(["x"])");
}

}  // namespace
}  // namespace nsq::json
