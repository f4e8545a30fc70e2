// Runs the real nsqd and nsqlookupd binaries with every flag of stock NSQ 1.3.0's
// --help (the list is checked in here: the stock binaries are not part of the build)
// and checks that each starts, serves, and stops cleanly on SIGTERM; and that a bad
// value gets nsqd's error and a non-zero exit.

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/tls/test_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace nsq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Runfile(const std::string& path) {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"), "/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcessRun {
  int exit_code = -1;  // -1: did not exit in time
  std::string output;  // stdout and stderr
};

// Starts `binary` with `args`, output to a file. When `ready` is non-empty, waits (bounded)
// for it in the output, then sends SIGTERM. Waits (bounded) for the exit.
ProcessRun RunBinary(const std::string& binary, const std::vector<std::string>& args,
              const std::string& ready) {
  static int n = 0;
  const std::string log = absl::StrCat(::testing::TempDir(), "/run", ++n, ".log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ProcessRun run;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    ADD_FAILURE() << "cannot start " << binary;
    return run;
  }
  posix_spawn_file_actions_destroy(&actions);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int status = 0;
  bool exited = false;
  bool signalled = ready.empty();
  while (absl::Now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    if (!signalled && ReadFile(log).find(ready) != std::string::npos) {
      kill(pid, SIGTERM);
      signalled = true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  run.output = ReadFile(log);
  return run;
}

std::string NewDir(const std::string& name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", name);
  mkdir(dir.c_str(), 0755);
  return dir;
}

// Every flag of stock nsqd 1.3.0's --help but --config and --version, each with a valid
// value; in both of Go's spellings (-name value and --name=value), alternating.
std::vector<std::string> StockNsqdArgs(const tls::testing::TestCerts& certs,
                                       const std::string& data_path) {
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"auth-http-address", "127.0.0.1:1"},
      {"auth-http-request-method", "post"},
      {"broadcast-address", "127.0.0.1"},
      {"broadcast-http-port", "4151"},
      {"broadcast-tcp-port", "4150"},
      {"data-path", data_path},
      {"deflate", "false"},
      {"e2e-processing-latency-percentile", "1.0,0.99"},
      {"e2e-processing-latency-window-time", "60s"},
      {"enable-experiment", "topology-aware-consumption"},
      {"http-address", "127.0.0.1:0"},
      {"http-client-connect-timeout", "3s"},
      {"http-client-request-timeout", "6s"},
      {"https-address", "127.0.0.1:0"},
      {"log-level", "info"},
      {"log-prefix", "[nsqd] "},
      {"lookupd-tcp-address", "127.0.0.1:1"},
      {"max-body-size", "6000000"},
      {"max-bytes-per-file", "1000000"},
      {"max-channel-consumers", "5"},
      {"max-deflate-level", "5"},
      {"max-heartbeat-interval", "30s"},
      {"max-msg-size", "2000000"},
      {"max-msg-timeout", "10m"},
      {"max-output-buffer-size", "100000"},
      {"max-output-buffer-timeout", "10s"},
      {"max-rdy-count", "100"},
      {"max-req-timeout", "30m"},
      {"mem-queue-size", "100"},
      {"min-output-buffer-timeout", "10ms"},
      {"msg-timeout", "30s"},
      {"node-id", "7"},
      {"output-buffer-timeout", "100ms"},
      {"queue-scan-selection-count", "10"},
      {"queue-scan-worker-pool-max", "2"},
      {"snappy", "false"},
      {"statsd-address", "127.0.0.1:1"},
      {"statsd-exclude-ephemeral", ""},
      {"statsd-interval", "10s"},
      {"statsd-mem-stats", "false"},
      {"statsd-prefix", "nsq.%s"},
      {"statsd-udp-packet-size", "1400"},
      {"sync-every", "100"},
      {"sync-timeout", "1s"},
      {"tcp-address", "127.0.0.1:0"},
      {"tls-cert", certs.server_cert_file},
      {"tls-client-auth-policy", "require-verify"},
      {"tls-key", certs.server_key_file},
      {"tls-min-version", "tls1.2"},
      {"tls-required", "tcp-https"},
      {"tls-root-ca-file", certs.ca_file},
      {"topology-region", "eu"},
      {"topology-zone", "eu-1"},
      {"verbose", ""},
      {"worker-id", ""},
  };
  std::vector<std::string> args = {"--grpc-address=127.0.0.1:0"};
  bool single = false;
  for (const auto& [name, value] : flags) {
    single = !single;
    if (value.empty()) {
      args.push_back((single ? "-" : "--") + name);
    } else if (single && value != "false") {  // a bool's value needs '=', as in Go
      args.push_back("-" + name);
      args.push_back(value);
    } else {
      args.push_back("--" + name + "=" + value);
    }
  }
  return args;
}

TEST(StockFlagsProcessTest, NsqdStartsWithEveryStockFlag) {
  const std::string dir = NewDir("nsqd_all");
  auto certs = tls::testing::WriteTestCerts(NewDir("certs"));
  ASSERT_TRUE(certs.ok()) << certs.status();
  ProcessRun run = RunBinary(Runfile("services/broker/nsqd"), StockNsqdArgs(*certs, dir),
                      "TCP: listening");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("HTTPS: listening"));
  // Each option with no effect here says so once at startup.
  EXPECT_THAT(run.output, HasSubstr("--verbose is deprecated and has no effect"));
  EXPECT_THAT(run.output, HasSubstr("--worker-id is deprecated and has no effect"));
  EXPECT_THAT(run.output, HasSubstr("--queue-scan-selection-count/--queue-scan-worker-pool-max have no effect"));
  EXPECT_THAT(run.output, Not(HasSubstr("not measured")));  // e2e percentiles are real now
  EXPECT_THAT(run.output, HasSubstr("does not prefer zone-local consumers"));
}

TEST(StockFlagsProcessTest, NsqdBadValuesExitNonZeroWithNsqdsError) {
  const std::string dir = NewDir("nsqd_bad");
  const std::vector<std::string> base = {"--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                                         "--tcp-address=127.0.0.1:0", "--data-path=" + dir};
  auto with = [&](const std::string& arg) {
    std::vector<std::string> args = base;
    args.push_back(arg);
    return args;
  };
  ProcessRun percentile = RunBinary(Runfile("services/broker/nsqd"),
                             with("--e2e-processing-latency-percentile=0.5,1.5"), "");
  EXPECT_NE(percentile.exit_code, 0);
  EXPECT_THAT(percentile.output, HasSubstr("invalid E2E processing latency percentile: 1.5"));
  ProcessRun worker = RunBinary(Runfile("services/broker/nsqd"), with("--worker-id=5"), "");
  EXPECT_NE(worker.exit_code, 0);
  EXPECT_THAT(worker.output, HasSubstr("worker-id"));
  ProcessRun interval = RunBinary(Runfile("services/broker/nsqd"),
                           with("--statsd-address=127.0.0.1:1"), "TCP: listening");
  EXPECT_EQ(interval.exit_code, 0) << interval.output;
}

TEST(StockFlagsProcessTest, NsqlookupdStartsWithEveryStockFlag) {
  const std::vector<std::string> args = {
      "--grpc-address=127.0.0.1:0",  "-broadcast-address",          "127.0.0.1",
      "--http-address=127.0.0.1:0",  "-inactive-producer-timeout",  "1m",
      "--log-level=info",            "-log-prefix",                 "[nsqlookupd] ",
      "--tcp-address=127.0.0.1:0",   "-tombstone-lifetime",         "10s",
      "--verbose"};
  ProcessRun run = RunBinary(Runfile("services/discovery/nsqlookupd"), args, "HTTP: listening");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("--verbose is deprecated and has no effect"));
}

// The gRPC TLS flags (ours, not stock): served with good files; a missing or mismatched
// file is one clear line and exit status 1, before any port opens.
TEST(StockFlagsProcessTest, GrpcTlsFlagsServeTlsAndBadFilesExitNonZero) {
  auto certs = tls::testing::WriteTestCerts(NewDir("grpc_tls_certs"));
  ASSERT_TRUE(certs.ok()) << certs.status();
  const std::vector<std::string> base = {"--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                                         "--tcp-address=127.0.0.1:0",
                                         "--data-path=" + NewDir("nsqd_grpc_tls")};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ProcessRun good = RunBinary(Runfile("services/broker/nsqd"),
                              with({"--grpc-tls-cert=" + certs->server_cert_file,
                                    "--grpc-tls-key=" + certs->server_key_file,
                                    "--grpc-tls-client-ca=" + certs->ca_file}),
                              "TCP: listening");
  EXPECT_EQ(good.exit_code, 0) << good.output;
  EXPECT_THAT(good.output, HasSubstr("(127.0.0.1:0, TLS)"));
  ProcessRun missing = RunBinary(Runfile("services/broker/nsqd"),
                                 with({"--grpc-tls-cert=/nonexistent/cert.pem",
                                       "--grpc-tls-key=" + certs->server_key_file}),
                                 "");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent/cert.pem"));
  ProcessRun reuse_nothing = RunBinary(Runfile("services/broker/nsqd"), with({"--grpc-tls"}), "");
  EXPECT_EQ(reuse_nothing.exit_code, 1) << reuse_nothing.output;
  EXPECT_THAT(reuse_nothing.output, HasSubstr("gRPC TLS needs a certificate"));
  ProcessRun lookupd = RunBinary(Runfile("services/discovery/nsqlookupd"),
                                 {"--grpc-address=127.0.0.1:0", "--http-address=127.0.0.1:0",
                                  "--tcp-address=127.0.0.1:0",
                                  "--grpc-tls-cert=" + certs->server_cert_file,
                                  "--grpc-tls-key=" + certs->client_key_file},
                                 "");
  EXPECT_EQ(lookupd.exit_code, 1) << lookupd.output;
  EXPECT_THAT(lookupd.output, HasSubstr("does not match"));
}

}  // namespace
}  // namespace nsq
