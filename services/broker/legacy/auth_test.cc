// AUTH against a fake auth server (common/http on 127.0.0.1:0) speaking nsqd's auth
// protocol, and the authorizations enforced on PUB/SUB and on HTTP publishing.

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/legacy/gateway_test_util.h"

namespace nsq::legacy {
namespace {

using ::testing::HasSubstr;
using testing::Command;
using testing::Gateway;
using testing::GatewayConfig;

// Answers /auth: secret "good" gets publish on ^allowed and subscribe on everything,
// "none" gets no authorizations, anything else 403.
class FakeAuthServer {
 public:
  explicit FakeAuthServer(int ttl = 3600) : server_({.address = "127.0.0.1:0"}) {
    server_.Handle("/auth", [this, ttl](const http::Request& req) {
      absl::MutexLock lock(&mu_);
      ++requests_;
      last_method_ = req.method;
      last_query_ = req.raw_query;
      last_body_ = req.body;
      last_accept_ = req.Header("Accept").value_or("");
      std::string secret = req.QueryValue("secret").value_or("");
      if (req.method == "POST") secret = req.body.find("\"good\"") != std::string::npos ? "good" : "";
      http::Response r;
      r.content_type = "application/json";
      if (secret == "good") {
        r.body = absl::StrCat(
            "{\"ttl\":", ttl, ",\"identity\":\"alice\",\"identity_url\":\"https://id/alice\","
            "\"authorizations\":[{\"permissions\":[\"publish\"],\"topic\":\"^allowed\",\"channels\":[\".*\"]},"
            "{\"permissions\":[\"subscribe\"],\"topic\":\".*\",\"channels\":[\"^ch$\"]}]}");
      } else if (req.QueryValue("secret").value_or("") == "none") {
        r.body = "{\"ttl\":60,\"identity\":\"nobody\",\"authorizations\":[]}";
      } else {
        r.status = 403;
        r.body = "{\"message\":\"NOT_AUTHORIZED\"}";
      }
      return r;
    });
    if (!server_.Start().ok()) std::abort();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", server_.port()); }
  int requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  std::string last_query() {
    absl::MutexLock lock(&mu_);
    return last_query_;
  }
  std::string last_body() {
    absl::MutexLock lock(&mu_);
    return last_body_;
  }
  std::string last_accept() {
    absl::MutexLock lock(&mu_);
    return last_accept_;
  }

 private:
  http::Server server_;
  absl::Mutex mu_;
  int requests_ = 0;
  std::string last_method_, last_query_, last_body_, last_accept_;
};

GatewayConfig AuthConfig(const FakeAuthServer& auth, const std::string& method = "get") {
  GatewayConfig config;
  config.v2.auth.addresses = {auth.address()};
  config.v2.auth.method = method;
  config.http.auth = config.v2.auth;
  return config;
}

TEST(AuthTest, AuthWithoutAnAuthServerIsDisabled) {
  Gateway gw;
  auto c = gw.Connect();
  c->Send(Command("AUTH", "secret"));
  EXPECT_EQ(c->ReadText(), "1 E_AUTH_DISABLED AUTH disabled");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(AuthTest, IdentifySaysAuthIsRequiredAndPubBeforeAuthFails) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  EXPECT_THAT(c->Identify("{\"feature_negotiation\":true}"), HasSubstr("\"auth_required\":true"));
  c->Send(Command("PUB allowed", "x"));
  EXPECT_EQ(c->ReadText(), "1 E_AUTH_FIRST AUTH required before PUB");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(AuthTest, AuthRepliesWithIdentityAndQueriesTheServerLikeNsqd) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "good"));
  EXPECT_EQ(c->ReadText(),
            "0 {\"identity\":\"alice\",\"identity_url\":\"https://id/alice\",\"permission_count\":2}");
  EXPECT_EQ(auth.last_query(), "common_name=&remote_ip=127.0.0.1&secret=good&tls=false");
  EXPECT_EQ(auth.last_accept(), "application/vnd.nsq; version=1.0");
  EXPECT_TRUE(gw.v2().Clients()[0].authed);
  EXPECT_EQ(gw.v2().Clients()[0].auth_identity, "alice");
}

TEST(AuthTest, PostMethodSendsTheQueryAsJsonArrays) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth, "post"));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "good"));
  EXPECT_THAT(c->ReadText(), HasSubstr("\"identity\":\"alice\""));
  EXPECT_EQ(auth.last_body(),
            "{\"common_name\":[\"\"],\"remote_ip\":[\"127.0.0.1\"],\"secret\":[\"good\"],\"tls\":[\"false\"]}");
}

TEST(AuthTest, AuthorizationsAreEnforcedOnPubAndSub) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "good"));
  ASSERT_THAT(c->ReadText(), HasSubstr("alice"));
  EXPECT_EQ(c->Pub("allowed_topic", "x"), "0 OK");
  c->Send(Command("PUB other", "x"));
  EXPECT_EQ(c->ReadText(), "1 E_UNAUTHORIZED AUTH failed for PUB on \"other\" \"\"");
  EXPECT_TRUE(c->WaitClosed());

  auto s = gw.Connect();
  s->Send(Command("AUTH", "good"));
  ASSERT_THAT(s->ReadText(), HasSubstr("alice"));
  s->Send(Command("SUB t nope"));
  EXPECT_EQ(s->ReadText(), "1 E_UNAUTHORIZED AUTH failed for SUB on \"t\" \"nope\"");

  auto ok = gw.Connect();
  ok->Send(Command("AUTH", "good"));
  ASSERT_THAT(ok->ReadText(), HasSubstr("alice"));
  ok->Send(Command("SUB t ch"));
  EXPECT_EQ(ok->ReadText(), "0 OK");
}

TEST(AuthTest, RejectedSecretFailsAuth) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "bad"));
  EXPECT_EQ(c->ReadText(), "1 E_AUTH_FAILED AUTH failed");
  EXPECT_TRUE(c->WaitClosed());
}

TEST(AuthTest, NoAuthorizationsIsUnauthorized) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "none"));
  EXPECT_EQ(c->ReadText(), "1 E_UNAUTHORIZED AUTH no authorizations found");
}

TEST(AuthTest, SecondAuthIsRefused) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "good"));
  ASSERT_THAT(c->ReadText(), HasSubstr("alice"));
  c->Send(Command("AUTH", "good"));
  EXPECT_EQ(c->ReadText(), "1 E_INVALID AUTH already set");
}

TEST(AuthTest, ExpiredAuthorizationsAreFetchedAgain) {
  FakeAuthServer auth(/*ttl=*/1);
  Gateway gw(AuthConfig(auth));
  auto c = gw.Connect();
  c->Send(Command("AUTH", "good"));
  ASSERT_THAT(c->ReadText(), HasSubstr("alice"));
  EXPECT_EQ(c->Pub("allowed", "1"), "0 OK");
  EXPECT_EQ(auth.requests(), 1);
  gw.Advance(absl::Seconds(1));  // the 1 s ttl runs out on the engine's clock
  EXPECT_EQ(c->Pub("allowed", "2"), "0 OK");
  EXPECT_EQ(auth.requests(), 2);
}

TEST(AuthTest, HttpPublishNeedsABearerSecretWhenAuthIsOn) {
  FakeAuthServer auth;
  Gateway gw(AuthConfig(auth));
  auto none = gw.Http("POST", "/pub?topic=allowed", "x");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, "{\"message\":\"AUTH_REQUIRED\"}");
  auto good = gw.Http("POST", "/pub?topic=allowed", "x", {{"Authorization", "Bearer good"}});
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->status, 200);
  auto denied = gw.Http("POST", "/mpub?topic=other", "x", {{"Authorization", "Bearer good"}});
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(denied->body, "{\"message\":\"UNAUTHORIZED\"}");
  auto bad = gw.Http("POST", "/pub?topic=allowed", "x", {{"Authorization", "Bearer bad"}});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 403);
}

}  // namespace
}  // namespace nsq::legacy
