#pragma once

// Auth server answers cached until their ttl, for front doors that check every call (gRPC):
// one query per distinct request at a time, on the cache's own worker threads, so no I/O
// or callback thread ever waits for the auth server.

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/time/clock.h"
#include "services/broker/auth/auth.h"

namespace nsq::auth {

// What the auth server is asked (nsqd's query: secret, common_name, remote_ip, tls), and so
// what an answer is cached under: the same secret from another address or certificate is
// asked again, as an auth server may answer those differently.
struct AuthRequest {
  std::string secret;
  std::string common_name;  // the client certificate's CN; "" without one
  std::string remote_ip;
  bool tls = false;

  bool operator==(const AuthRequest& o) const {
    return secret == o.secret && common_name == o.common_name && remote_ip == o.remote_ip &&
           tls == o.tls;
  }
  template <typename H>
  friend H AbslHashValue(H h, const AuthRequest& r) {
    return H::combine(std::move(h), r.secret, r.common_name, r.remote_ip, r.tls);
  }
};

struct AuthCacheOptions {
  // Cached answers; past it the expired ones go, then the ones closest to expiry.
  size_t max_entries = 10000;
  // Distinct requests waiting for (or in) a query; past it a new one fails at once with
  // ResourceExhausted rather than queueing without bound.
  size_t max_pending = 1024;
  int threads = 2;  // queries in parallel
};

using AuthResult = absl::StatusOr<std::shared_ptr<const AuthState>>;

// Thread-safe. The clock (the engine's) counts the ttl, so tests move a fake clock past it.
class AuthCache {
 public:
  AuthCache(AuthOptions servers, const Clock* clock, AuthCacheOptions options = {});
  // Answers every waiting caller with Cancelled and joins the workers (a query in
  // progress ends within the servers' request timeout).
  ~AuthCache();
  AuthCache(const AuthCache&) = delete;
  AuthCache& operator=(const AuthCache&) = delete;

  // The cached answer for `request` while it has not expired (clock < expires), or null.
  std::shared_ptr<const AuthState> Cached(const AuthRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Asks the auth servers for `request` on a worker (callers of the same request wait for
  // one query) and calls `done` there with the answer, which is cached until it expires,
  // or with the error (not cached; a stale answer for the request is dropped). `done` runs
  // on the calling thread, before Fetch returns, only when refused: ResourceExhausted past
  // max_pending, Cancelled once the cache is stopping.
  void Fetch(const AuthRequest& request, std::function<void(AuthResult)> done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Queries made so far (tests).
  int64_t queries() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work();
  void InsertLocked(const AuthRequest& request, std::shared_ptr<const AuthState> state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AuthOptions servers_;
  const Clock* const clock_;
  const AuthCacheOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<AuthRequest, std::shared_ptr<const AuthState>> cache_ ABSL_GUARDED_BY(mu_);
  // Waiting callers per request; a request is in queue_ (or being queried) while here.
  absl::flat_hash_map<AuthRequest, std::vector<std::function<void(AuthResult)>>> waiting_
      ABSL_GUARDED_BY(mu_);
  std::deque<AuthRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t queries_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> workers_;
};

}  // namespace nsq::auth
