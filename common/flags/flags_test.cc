#include "common/flags/flags.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::flags {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Writes `contents` to a fresh file under the test's temp dir and returns its path.
std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

// ---------------------------------------------------------------------------------------
// FlagSet.

struct Options {
  std::string tcp_address = "0.0.0.0:4150";
  int64_t mem_queue_size = 10000;
  int max_rdy_count = 2500;
  uint16_t port = 4151;
  double ratio = 0.5;
  bool verbose = false;
  bool tls = true;
  absl::Duration msg_timeout = absl::Seconds(60);
  std::vector<std::string> lookupd = {"127.0.0.1:4161"};
  std::string data_path;
};

class FlagSetTest : public ::testing::Test {
 protected:
  FlagSetTest() : fs_("nsqd") {
    fs_.AddString("tcp-address", &o_.tcp_address, "<addr>:<port> to listen on for TCP");
    fs_.AddInt64("mem-queue-size", &o_.mem_queue_size, "messages kept in memory");
    fs_.AddInt("max-rdy-count", &o_.max_rdy_count, "maximum RDY count");
    fs_.AddUint16("port", &o_.port, "a port");
    fs_.AddDouble("ratio", &o_.ratio, "a ratio");
    fs_.AddBool("verbose", &o_.verbose, "log more");
    fs_.AddBool("tls", &o_.tls, "use TLS");
    fs_.AddDuration("msg-timeout", &o_.msg_timeout, "message timeout");
    fs_.AddStringList("lookupd-tcp-address", &o_.lookupd, "nsqlookupd TCP address",
                      "nsqlookupd_tcp_addresses");
    fs_.AddString("data-path", &o_.data_path, "where to store data");
  }

  Options o_;
  FlagSet fs_;
};

TEST_F(FlagSetTest, NoArgumentsKeepsDefaults) {
  ASSERT_TRUE(fs_.Parse({}).ok());
  EXPECT_EQ(o_.tcp_address, "0.0.0.0:4150");
  EXPECT_EQ(o_.mem_queue_size, 10000);
  EXPECT_EQ(o_.msg_timeout, absl::Seconds(60));
  EXPECT_THAT(o_.lookupd, ElementsAre("127.0.0.1:4161"));
  EXPECT_FALSE(fs_.IsSet("mem-queue-size"));
  EXPECT_FALSE(fs_.HelpRequested());
}

TEST_F(FlagSetTest, AcceptsEqualsSpaceAndSingleDashForms) {
  ASSERT_TRUE(fs_.Parse({"--mem-queue-size=5", "--tcp-address", "127.0.0.1:1",
                         "-max-rdy-count=7", "-data-path", "/tmp/x", "--msg-timeout=1m30s",
                         "--port=80", "--ratio", "0.25"})
                  .ok());
  EXPECT_EQ(o_.mem_queue_size, 5);
  EXPECT_EQ(o_.tcp_address, "127.0.0.1:1");
  EXPECT_EQ(o_.max_rdy_count, 7);
  EXPECT_EQ(o_.data_path, "/tmp/x");
  EXPECT_EQ(o_.msg_timeout, absl::Seconds(90));
  EXPECT_EQ(o_.port, 80);
  EXPECT_DOUBLE_EQ(o_.ratio, 0.25);
  EXPECT_TRUE(fs_.IsSet("mem-queue-size"));
  EXPECT_FALSE(fs_.IsSet("verbose"));
}

TEST_F(FlagSetTest, BoolWithoutValueIsTrueAndExplicitValuesParse) {
  ASSERT_TRUE(fs_.Parse({"--verbose", "--tls=false"}).ok());
  EXPECT_TRUE(o_.verbose);
  EXPECT_FALSE(o_.tls);
  ASSERT_TRUE(fs_.Parse({"-verbose=0", "-tls=T"}).ok());
  EXPECT_FALSE(o_.verbose);
  EXPECT_TRUE(o_.tls);
}

TEST_F(FlagSetTest, BoolDoesNotConsumeNextArgument) {
  ASSERT_TRUE(fs_.Parse({"--verbose", "false"}).ok());
  EXPECT_TRUE(o_.verbose);
  EXPECT_THAT(fs_.positional(), ElementsAre("false"));
}

TEST(FlagSetBoolStyleStringTest, BareFlagTakesTheBareValueAndLeavesTheNextArgument) {
  std::string required = "false";
  FlagSet fs("nsqd");
  fs.AddBoolStyleString("tls-required", &required, "true", "require TLS");
  ASSERT_TRUE(fs.Parse({"--tls-required", "positional"}).ok());
  EXPECT_EQ(required, "true");
  EXPECT_TRUE(fs.IsSet("tls-required"));
  EXPECT_THAT(fs.positional(), ElementsAre("positional"));
}

TEST(FlagSetBoolStyleStringTest, AttachedValuesAreKeptAsGiven) {
  std::string required = "false";
  FlagSet fs("nsqd");
  fs.AddBoolStyleString("tls-required", &required, "true", "require TLS");
  ASSERT_TRUE(fs.Parse({"--tls-required=tcp-https"}).ok());
  EXPECT_EQ(required, "tcp-https");
}

TEST(FlagSetBoolStyleStringTest, ConfigFileAcceptsABooleanOrAString) {
  const std::string path = ::testing::TempDir() + "/bool_style.toml";
  for (const auto& [toml, want] : std::vector<std::pair<std::string, std::string>>{
           {"tls_required = true\n", "true"},
           {"tls_required = false\n", "false"},
           {"tls_required = \"tcp-https\"\n", "tcp-https"}}) {
    std::ofstream(path) << toml;
    std::string required = "unset";
    FlagSet fs("nsqd");
    fs.AddBoolStyleString("tls-required", &required, "true", "require TLS");
    ASSERT_TRUE(fs.Parse({"--config=" + path}).ok()) << toml;
    EXPECT_EQ(required, want) << toml;
  }
}

TEST_F(FlagSetTest, StringListIsRepeatableAndReplacesDefault) {
  ASSERT_TRUE(fs_.Parse({"--lookupd-tcp-address=a:1", "--lookupd-tcp-address", "b:2"}).ok());
  EXPECT_THAT(o_.lookupd, ElementsAre("a:1", "b:2"));
}

TEST_F(FlagSetTest, PositionalArgumentsStopFlagParsing) {
  ASSERT_TRUE(fs_.Parse({"--verbose", "file1", "--mem-queue-size=3"}).ok());
  EXPECT_THAT(fs_.positional(), ElementsAre("file1", "--mem-queue-size=3"));
  EXPECT_EQ(o_.mem_queue_size, 10000);
}

TEST_F(FlagSetTest, DoubleDashEndsFlags) {
  ASSERT_TRUE(fs_.Parse({"--port=1", "--", "--port=2", "-"}).ok());
  EXPECT_EQ(o_.port, 1);
  EXPECT_THAT(fs_.positional(), ElementsAre("--port=2", "-"));
}

TEST_F(FlagSetTest, ArgcArgvFormSkipsProgramName) {
  const char* argv[] = {"nsqd", "--mem-queue-size=9", "rest"};
  ASSERT_TRUE(fs_.Parse(3, argv).ok());
  EXPECT_EQ(o_.mem_queue_size, 9);
  EXPECT_THAT(fs_.positional(), ElementsAre("rest"));
}

TEST_F(FlagSetTest, HelpIsReportedDistinctlyAndLeavesValuesAlone) {
  for (const char* help : {"-h", "--help", "-help"}) {
    absl::Status s = fs_.Parse({"--mem-queue-size=1", help});
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << help;
    EXPECT_TRUE(fs_.HelpRequested()) << help;
    EXPECT_EQ(o_.mem_queue_size, 10000) << help;
  }
  ASSERT_TRUE(fs_.Parse({}).ok());
  EXPECT_FALSE(fs_.HelpRequested());
}

TEST_F(FlagSetTest, UnknownFlagIsAnErrorNamingIt) {
  absl::Status s = fs_.Parse({"--mem-queue-sise=1"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--mem-queue-sise"));
}

TEST_F(FlagSetTest, BadValuesAreErrorsNamingFlagAndValue) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const Case cases[] = {
      {{"--mem-queue-size=lots"}, "--mem-queue-size"},
      {{"--max-rdy-count=99999999999"}, "--max-rdy-count"},
      {{"--port=70000"}, "--port"},
      {{"--port=-1"}, "--port"},
      {{"--ratio=half"}, "--ratio"},
      {{"--verbose=yes"}, "--verbose"},
      {{"--msg-timeout=60"}, "--msg-timeout"},
      {{"--mem-queue-size="}, "--mem-queue-size"},
  };
  for (const Case& c : cases) {
    absl::Status s = fs_.Parse(c.args);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.args[0];
    EXPECT_THAT(s.message(), HasSubstr(c.flag)) << c.args[0];
  }
}

TEST_F(FlagSetTest, MissingValueIsAnError) {
  absl::Status s = fs_.Parse({"--tcp-address"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("needs an argument: --tcp-address"));
}

TEST_F(FlagSetTest, BadSyntaxIsAnError) {
  EXPECT_THAT(fs_.Parse({"---verbose"}).message(), HasSubstr("bad flag syntax"));
  EXPECT_THAT(fs_.Parse({"--=1"}).message(), HasSubstr("bad flag syntax"));
}

TEST_F(FlagSetTest, ConfigFileSetsValuesBelowFlags) {
  const std::string path = WriteTempFile("nsqd.toml", R"(
# An NSQ style config.
mem_queue_size = 42
tcp_address = "10.0.0.1:4150"
msg_timeout = "2m"
verbose = true
nsqlookupd_tcp_addresses = ["x:1", "y:2"]
ratio = 3
)");
  ASSERT_TRUE(fs_.Parse({"--tcp-address=127.0.0.1:9", "--config", path}).ok());
  EXPECT_EQ(fs_.config_file(), path);
  EXPECT_EQ(o_.mem_queue_size, 42);
  EXPECT_EQ(o_.tcp_address, "127.0.0.1:9");  // The flag wins, even though it came first.
  EXPECT_EQ(o_.msg_timeout, absl::Minutes(2));
  EXPECT_TRUE(o_.verbose);
  EXPECT_THAT(o_.lookupd, ElementsAre("x:1", "y:2"));
  EXPECT_DOUBLE_EQ(o_.ratio, 3.0);
  EXPECT_TRUE(fs_.IsSet("mem-queue-size"));
  EXPECT_THAT(fs_.UnknownConfigKeys(), IsEmpty());
}

TEST_F(FlagSetTest, ListFlagOnCommandLineReplacesConfigList) {
  const std::string path =
      WriteTempFile("list.toml", "nsqlookupd_tcp_addresses = [\"x:1\", \"y:2\"]\n");
  ASSERT_TRUE(fs_.Parse({"--config=" + path, "--lookupd-tcp-address=z:3"}).ok());
  EXPECT_THAT(o_.lookupd, ElementsAre("z:3"));
}

TEST_F(FlagSetTest, ConfigListKeepsNumbersAsText) {
  const std::string path =
      WriteTempFile("numlist.toml", "nsqlookupd_tcp_addresses = [0.99, 1.0, 2]\n");
  ASSERT_TRUE(fs_.Parse({"--config=" + path}).ok());
  EXPECT_THAT(o_.lookupd, ElementsAre("0.99", "1", "2"));
}

TEST_F(FlagSetTest, ConfigAcceptsIntegerMillisecondsAndNumericStrings) {
  const std::string path = WriteTempFile("numbers.toml", R"(
msg_timeout = 1500
mem_queue_size = "77"
port = 8080
)");
  ASSERT_TRUE(fs_.Parse({"-config=" + path}).ok());
  EXPECT_EQ(o_.msg_timeout, absl::Milliseconds(1500));
  EXPECT_EQ(o_.mem_queue_size, 77);
  EXPECT_EQ(o_.port, 8080);
}

TEST_F(FlagSetTest, UnknownConfigKeysAreReportedInFileOrderNotRejected) {
  const std::string path = WriteTempFile("unknown.toml", R"(
zzz_old_option = 1
mem_queue_size = 5
aaa_typo = "x"
)");
  ASSERT_TRUE(fs_.Parse({"--config=" + path}).ok());
  EXPECT_EQ(o_.mem_queue_size, 5);
  EXPECT_THAT(fs_.UnknownConfigKeys(), ElementsAre("zzz_old_option", "aaa_typo"));
}

TEST_F(FlagSetTest, WrongTomlTypeNamesKeyFlagAndLine) {
  const std::string path = WriteTempFile("types.toml", "verbose = true\nmem_queue_size = 1.5\n");
  absl::Status s = fs_.Parse({"--config=" + path});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("mem_queue_size"));
  EXPECT_THAT(s.message(), HasSubstr("--mem-queue-size"));
  EXPECT_THAT(s.message(), HasSubstr("line 2"));
  EXPECT_THAT(s.message(), HasSubstr("expected integer, got float"));

  const std::string list = WriteTempFile("list_types.toml", "nsqlookupd_tcp_addresses = [true]\n");
  EXPECT_THAT(fs_.Parse({"--config=" + list}).message(), HasSubstr("array of strings"));

  const std::string dur = WriteTempFile("dur.toml", "msg_timeout = \"forever\"\n");
  EXPECT_THAT(fs_.Parse({"--config=" + dur}).message(), HasSubstr("msg_timeout"));
}

TEST_F(FlagSetTest, MalformedConfigNamesFileAndLine) {
  const std::string path = WriteTempFile("bad.toml", "mem_queue_size = 1\n\nthis is not toml\n");
  absl::Status s = fs_.Parse({"--config=" + path});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("line 3"));
}

TEST_F(FlagSetTest, UnreadableConfigIsAnError) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/does-not-exist.toml");
  absl::Status s = fs_.Parse({"--config", path});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path));
}

TEST_F(FlagSetTest, CustomConfigKeyReplacesDerivedKey) {
  const std::string path = WriteTempFile("key.toml", "lookupd_tcp_address = [\"q:1\"]\n");
  ASSERT_TRUE(fs_.Parse({"--config=" + path}).ok());
  EXPECT_THAT(o_.lookupd, ElementsAre("127.0.0.1:4161"));
  EXPECT_THAT(fs_.UnknownConfigKeys(), ElementsAre("lookupd_tcp_address"));
}

TEST_F(FlagSetTest, UsageListsEveryFlagWithDefaultAndHelp) {
  const std::string usage = fs_.Usage();
  EXPECT_THAT(usage, HasSubstr("Usage of nsqd:"));
  EXPECT_THAT(usage, HasSubstr("--mem-queue-size int"));
  EXPECT_THAT(usage, HasSubstr("messages kept in memory (default 10000)"));
  EXPECT_THAT(usage, HasSubstr("(default \"0.0.0.0:4150\")"));
  EXPECT_THAT(usage, HasSubstr("message timeout (default 1m0s)"));
  EXPECT_THAT(usage, HasSubstr("--config string"));
  // Zero defaults are not shown, as in Go.
  EXPECT_THAT(usage, HasSubstr("log more\n"));
  // Defaults are those at registration time, not after parsing.
  ASSERT_TRUE(fs_.Parse({"--mem-queue-size=1"}).ok());
  EXPECT_EQ(fs_.Usage(), usage);
  // One line per flag plus header, --config and --help.
  EXPECT_EQ(std::count(usage.begin(), usage.end(), '\n'), 1 + 10 + 2);
}

TEST(FlagSetDeathTest, DuplicateRegistrationAborts) {
  int a = 0;
  int b = 0;
  EXPECT_DEATH(
      {
        FlagSet fs("x");
        fs.AddInt("n", &a, "");
        fs.AddInt("n", &b, "");
      },
      "registered twice");
}

}  // namespace
}  // namespace nsq::flags
