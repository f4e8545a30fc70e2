#include "services/broker/auth/auth_cache.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/auth/fake_auth_server.h"

namespace nsq::auth {
namespace {

using ::testing::HasSubstr;

constexpr char kPublishOrders[] =
    R"([{"permissions":["publish"],"topic":"^orders$","channels":[".*"]}])";

class AuthCacheTest : public ::testing::Test {
 protected:
  AuthCacheTest() {
    servers_.addresses = {server_.address()};
    servers_.request_timeout = absl::Seconds(5);
  }

  // Fetch, waiting (bounded by the request timeout) for the answer.
  AuthResult FetchAndWait(AuthCache& cache, const AuthRequest& request) {
    absl::Mutex mu;
    std::optional<AuthResult> result;
    cache.Fetch(request, [&](AuthResult r) {
      absl::MutexLock lock(&mu);
      result = std::move(r);
    });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](std::optional<AuthResult>* r) { return r->has_value(); }, &result));
    return *result;
  }

  static AuthRequest Request(const std::string& secret) {
    AuthRequest r;
    r.secret = secret;
    r.remote_ip = "127.0.0.1";
    return r;
  }

  testing::FakeAuthServer server_;
  AuthOptions servers_;
  FakeClock clock_;
};

TEST_F(AuthCacheTest, AnAnswerIsCachedUntilItsTtl) {
  server_.Allow("good", 60, "alice", kPublishOrders);
  AuthCache cache(servers_, &clock_);
  EXPECT_EQ(cache.Cached(Request("good")), nullptr);
  AuthResult r = FetchAndWait(cache, Request("good"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->identity, "alice");
  EXPECT_TRUE((*r)->IsAllowed("orders", ""));
  EXPECT_FALSE((*r)->IsAllowed("other", ""));
  EXPECT_THAT(server_.last_query(), HasSubstr("secret=good"));
  EXPECT_THAT(server_.last_query(), HasSubstr("remote_ip=127.0.0.1"));

  clock_.Advance(absl::Seconds(59));
  ASSERT_NE(cache.Cached(Request("good")), nullptr);
  EXPECT_EQ(server_.requests(), 1);
  clock_.Advance(absl::Seconds(1));  // the ttl ran out on the injected clock
  EXPECT_EQ(cache.Cached(Request("good")), nullptr);
}

TEST_F(AuthCacheTest, AnExpiredAnswerIsAskedAgainAndAFailureDropsIt) {
  server_.Allow("good", 60, "alice", kPublishOrders);
  AuthCache cache(servers_, &clock_);
  ASSERT_TRUE(FetchAndWait(cache, Request("good")).ok());
  clock_.Advance(absl::Seconds(61));
  server_.Deny("good");
  AuthResult again = FetchAndWait(cache, Request("good"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kPermissionDenied);  // the server's 403
  EXPECT_EQ(server_.requests(), 2);
  EXPECT_EQ(cache.Cached(Request("good")), nullptr);
}

TEST_F(AuthCacheTest, FailuresAreNotCached) {
  AuthCache cache(servers_, &clock_);
  EXPECT_FALSE(FetchAndWait(cache, Request("unknown")).ok());
  EXPECT_EQ(cache.Cached(Request("unknown")), nullptr);
  server_.Allow("unknown", 60, "late", kPublishOrders);
  EXPECT_TRUE(FetchAndWait(cache, Request("unknown")).ok());
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(AuthCacheTest, TheSameSecretFromAnotherAddressIsAskedSeparately) {
  server_.Allow("good", 60, "alice", kPublishOrders);
  AuthCache cache(servers_, &clock_);
  ASSERT_TRUE(FetchAndWait(cache, Request("good")).ok());
  AuthRequest other = Request("good");
  other.remote_ip = "10.0.0.9";
  EXPECT_EQ(cache.Cached(other), nullptr);
  ASSERT_TRUE(FetchAndWait(cache, other).ok());
  EXPECT_EQ(server_.requests(), 2);
}

TEST_F(AuthCacheTest, PastThePendingBoundAFetchIsRefusedAtOnce) {
  AuthCacheOptions options;
  options.max_pending = 0;
  AuthCache cache(servers_, &clock_, options);
  bool called = false;
  cache.Fetch(Request("x"), [&](AuthResult r) {
    called = true;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  });
  EXPECT_TRUE(called);  // on this thread, before Fetch returned
  EXPECT_EQ(server_.requests(), 0);
}

TEST_F(AuthCacheTest, TheCacheIsBounded) {
  AuthCacheOptions options;
  options.max_entries = 2;
  server_.Allow("a", 10, "a", kPublishOrders);
  server_.Allow("b", 20, "b", kPublishOrders);
  server_.Allow("c", 30, "c", kPublishOrders);
  AuthCache cache(servers_, &clock_, options);
  for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(FetchAndWait(cache, Request(s)).ok());
  EXPECT_EQ(cache.Cached(Request("a")), nullptr);  // the soonest to expire went
  EXPECT_NE(cache.Cached(Request("b")), nullptr);
  EXPECT_NE(cache.Cached(Request("c")), nullptr);
}

TEST_F(AuthCacheTest, StoppingAnswersEveryCaller) {
  servers_.addresses = {"127.0.0.1:1"};  // refuses connections: the query fails fast
  auto cache = std::make_unique<AuthCache>(servers_, &clock_);
  absl::Mutex mu;
  int answered = 0;
  for (int i = 0; i < 20; ++i) {
    cache->Fetch(Request(std::to_string(i)), [&](AuthResult r) {
      EXPECT_FALSE(r.ok());
      absl::MutexLock lock(&mu);
      ++answered;
    });
  }
  cache.reset();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(answered, 20);
}

}  // namespace
}  // namespace nsq::auth
