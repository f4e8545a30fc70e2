#include "common/process/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace nsq::process {
namespace {

// Every test blocks first, so a stray signal can never take the test binary down.
class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override { BlockShutdownSignals(); }
};

TEST_F(SignalsTest, BlocksShutdownSignalsInCallingThread) {
  sigset_t current;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &current), 0);
  EXPECT_EQ(sigismember(&current, SIGINT), 1);
  EXPECT_EQ(sigismember(&current, SIGTERM), 1);
  EXPECT_EQ(sigismember(&current, SIGHUP), 1);
  EXPECT_EQ(sigismember(&current, SIGQUIT), 0);
}

TEST_F(SignalsTest, RaisedSignalIsReturnedByWait) {
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(WaitForShutdownSignal(), SIGTERM);
}

TEST_F(SignalsTest, SignalSentToProcessFromLaterThreadReachesWaiter) {
  // The thread inherits the blocked mask, so the process-directed SIGINT stays pending
  // for the waiter instead of being delivered to (and killing) the sender thread.
  std::thread sender([] {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    EXPECT_EQ(sigismember(&current, SIGINT), 1);
    kill(getpid(), SIGINT);
  });
  sender.join();
  EXPECT_EQ(WaitForShutdownSignal(), SIGINT);
}

TEST_F(SignalsTest, WaitForReturnsSighup) {
  ASSERT_EQ(kill(getpid(), SIGHUP), 0);
  EXPECT_EQ(WaitForShutdownSignalFor(absl::Seconds(5)), SIGHUP);
}

TEST_F(SignalsTest, WaitForTimesOutWhenNothingPending) {
  const absl::Time start = absl::Now();
  EXPECT_EQ(WaitForShutdownSignalFor(absl::Milliseconds(20)), std::nullopt);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(SignalsTest, IgnoreSigpipeTurnsBrokenPipeIntoEpipe) {
  IgnoreSigpipe();
  struct sigaction current = {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &current), 0);
  EXPECT_EQ(current.sa_handler, SIG_IGN);

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  errno = 0;
  EXPECT_EQ(write(fds[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  close(fds[1]);
  EXPECT_EQ(raise(SIGPIPE), 0);  // Still alive.
}

}  // namespace
}  // namespace nsq::process
