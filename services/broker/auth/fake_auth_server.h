#pragma once

// A local auth server for tests (common/http on 127.0.0.1:0) speaking nsqd's auth
// protocol: GET /auth?secret=...&remote_ip=...&tls=...&common_name=... answered with
// the reply set for the secret (403 for an unknown one). Replies can change between
// queries (a secret revoked, its permissions narrowed). Thread-safe.

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/http/server.h"

namespace nsq::auth::testing {

class FakeAuthServer {
 public:
  FakeAuthServer();
  ~FakeAuthServer();

  // "127.0.0.1:<port>", for --auth-http-address.
  std::string address() const;
  // The reply to `secret`: status and JSON body.
  void Set(const std::string& secret, int status, const std::string& body) ABSL_LOCKS_EXCLUDED(mu_);
  // A 200 reply: `ttl` seconds, identity `identity`, `authorizations` (a JSON array).
  void Allow(const std::string& secret, int ttl, const std::string& identity,
             const std::string& authorizations) ABSL_LOCKS_EXCLUDED(mu_);
  // 403 from now on.
  void Deny(const std::string& secret) ABSL_LOCKS_EXCLUDED(mu_);

  // While held, requests wait (at most 10 s) before being answered: a slow auth server.
  void Hold() ABSL_LOCKS_EXCLUDED(mu_);
  void Release() ABSL_LOCKS_EXCLUDED(mu_);
  // Requests received so far, answered or waiting.
  int requests() const ABSL_LOCKS_EXCLUDED(mu_);
  // The raw query string of the last request.
  std::string last_query() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Reply {
    int status = 403;
    std::string body;
  };
  http::Server server_;
  mutable absl::Mutex mu_;
  std::map<std::string, Reply> replies_ ABSL_GUARDED_BY(mu_);
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_query_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsq::auth::testing
