#include "common/logging/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace nsq::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Captures what is written to file descriptor 2 between construction and Finish().
class StderrCapture {
 public:
  StderrCapture() : path_(absl::StrCat(::testing::TempDir(), "/stderr_capture.txt")) {
    std::fflush(stderr);
    saved_fd_ = dup(2);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() { Restore(); }

  std::string Finish() {
    Restore();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void Restore() {
    if (saved_fd_ < 0) return;
    std::fflush(stderr);
    dup2(saved_fd_, 2);
    close(saved_fd_);
    saved_fd_ = -1;
  }

  std::string path_;
  int saved_fd_ = -1;
};

TEST(LoggingTest, WritesNsqFormattedLinesToStderr) {
  ASSERT_TRUE(InitLogging("info", "[nsqd] ").ok());
  StderrCapture capture;
  spdlog::info("hello {}", 42);
  const std::string out = capture.Finish();
  const std::regex line(
      R"(\[nsqd\] \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} INFO: hello 42\n)");
  EXPECT_TRUE(std::regex_match(out, line)) << out;
}

TEST(LoggingTest, UsesNsqLevelNames) {
  ASSERT_TRUE(InitLogging("debug", "").ok());
  StderrCapture capture;
  spdlog::debug("d");
  spdlog::warn("w");
  spdlog::error("e");
  spdlog::critical("c");
  const std::string out = capture.Finish();
  EXPECT_THAT(out, HasSubstr(" DEBUG: d\n"));
  EXPECT_THAT(out, HasSubstr(" WARNING: w\n"));
  EXPECT_THAT(out, HasSubstr(" ERROR: e\n"));
  EXPECT_THAT(out, HasSubstr(" FATAL: c\n"));
}

TEST(LoggingTest, LevelFiltersLowerSeverities) {
  ASSERT_TRUE(InitLogging("WARN", "[x] ").ok());
  StderrCapture capture;
  spdlog::debug("debug-line");
  spdlog::info("info-line");
  spdlog::warn("warn-line");
  const std::string out = capture.Finish();
  EXPECT_THAT(out, Not(HasSubstr("debug-line")));
  EXPECT_THAT(out, Not(HasSubstr("info-line")));
  EXPECT_THAT(out, HasSubstr("WARNING: warn-line"));
}

TEST(LoggingTest, FatalLevelKeepsOnlyCritical) {
  ASSERT_TRUE(InitLogging("fatal", "").ok());
  StderrCapture capture;
  spdlog::error("error-line");
  spdlog::critical("fatal-line");
  const std::string out = capture.Finish();
  EXPECT_THAT(out, Not(HasSubstr("error-line")));
  EXPECT_THAT(out, HasSubstr("FATAL: fatal-line"));
}

TEST(LoggingTest, InvalidLevelIsRejectedAndLoggerKept) {
  ASSERT_TRUE(InitLogging("info", "[keep] ").ok());
  absl::Status s = InitLogging("verbose", "[new] ");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("invalid log level"));
  EXPECT_EQ(SetLogLevel("loud").code(), absl::StatusCode::kInvalidArgument);
  StderrCapture capture;
  spdlog::info("still here");
  EXPECT_THAT(capture.Finish(), HasSubstr("[keep] "));
}

TEST(LoggingTest, SetLogLevelChangesFilteringAtRunTime) {
  ASSERT_TRUE(InitLogging("error", "").ok());
  ASSERT_TRUE(SetLogLevel("debug").ok());
  StderrCapture capture;
  spdlog::debug("now-visible");
  EXPECT_THAT(capture.Finish(), HasSubstr("DEBUG: now-visible"));
}

TEST(LoggingTest, PercentInPrefixIsLiteral) {
  ASSERT_TRUE(InitLogging("info", "[100%v] ").ok());
  StderrCapture capture;
  spdlog::info("msg");
  EXPECT_THAT(capture.Finish(), ::testing::StartsWith("[100%v] "));
}

}  // namespace
}  // namespace nsq::logging
