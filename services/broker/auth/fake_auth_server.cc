#include "services/broker/auth/fake_auth_server.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace nsq::auth::testing {

FakeAuthServer::FakeAuthServer() : server_({.address = "127.0.0.1:0"}) {
  server_.Handle("/auth", [this](const http::Request& req) {
    const std::string secret = req.QueryValue("secret").value_or("");
    http::Response r;
    r.content_type = "application/json";
    absl::MutexLock lock(&mu_);
    ++requests_;
    last_query_ = req.raw_query;
    mu_.AwaitWithTimeout(absl::Condition(+[](bool* held) { return !*held; }, &held_), absl::Seconds(10));
    auto it = replies_.find(secret);
    if (it == replies_.end()) {
      r.status = 403;
      r.body = "{\"message\":\"NOT_AUTHORIZED\"}";
    } else {
      r.status = it->second.status;
      r.body = it->second.body;
    }
    return r;
  });
  if (!server_.Start().ok()) std::abort();
}

FakeAuthServer::~FakeAuthServer() { server_.Stop(); }

std::string FakeAuthServer::address() const { return absl::StrCat("127.0.0.1:", server_.port()); }

void FakeAuthServer::Set(const std::string& secret, int status, const std::string& body) {
  absl::MutexLock lock(&mu_);
  replies_[secret] = Reply{status, body};
}

void FakeAuthServer::Allow(const std::string& secret, int ttl, const std::string& identity,
                           const std::string& authorizations) {
  Set(secret, 200,
      absl::StrCat("{\"ttl\":", ttl, ",\"identity\":\"", identity,
                   "\",\"identity_url\":\"\",\"authorizations\":", authorizations, "}"));
}

void FakeAuthServer::Deny(const std::string& secret) {
  absl::MutexLock lock(&mu_);
  replies_.erase(secret);
}

void FakeAuthServer::Hold() {
  absl::MutexLock lock(&mu_);
  held_ = true;
}

void FakeAuthServer::Release() {
  absl::MutexLock lock(&mu_);
  held_ = false;
}

int FakeAuthServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

std::string FakeAuthServer::last_query() const {
  absl::MutexLock lock(&mu_);
  return last_query_;
}

}  // namespace nsq::auth::testing
