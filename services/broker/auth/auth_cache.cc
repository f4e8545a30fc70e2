#include "services/broker/auth/auth_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace nsq::auth {

AuthCache::AuthCache(AuthOptions servers, const Clock* clock, AuthCacheOptions options)
    : servers_(std::move(servers)), clock_(clock), options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

AuthCache::~AuthCache() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
  // Whatever was still queued: its callers get an answer, never silence.
  absl::flat_hash_map<AuthRequest, std::vector<std::function<void(AuthResult)>>> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(waiting_);
    queue_.clear();
  }
  for (auto& [request, callers] : left) {
    for (auto& done : callers) done(absl::CancelledError("the broker is stopping"));
  }
}

std::shared_ptr<const AuthState> AuthCache::Cached(const AuthRequest& request) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(request);
  if (it == cache_.end()) return nullptr;
  if (now >= it->second->expires) return nullptr;
  return it->second;
}

void AuthCache::Fetch(const AuthRequest& request, std::function<void(AuthResult)> done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::CancelledError("the broker is stopping");
    } else if (auto it = waiting_.find(request); it != waiting_.end()) {
      it->second.push_back(std::move(done));  // joins the query already asked for
      return;
    } else if (waiting_.size() >= options_.max_pending) {
      refused = absl::ResourceExhaustedError(
          absl::StrCat("E_AUTH_FAILED ", options_.max_pending, " auth queries already pending"));
    } else {
      waiting_[request].push_back(std::move(done));
      queue_.push_back(request);
      return;
    }
  }
  done(refused);
}

int64_t AuthCache::queries() const {
  absl::MutexLock lock(&mu_);
  return queries_;
}

void AuthCache::InsertLocked(const AuthRequest& request, std::shared_ptr<const AuthState> state) {
  if (cache_.size() >= options_.max_entries && !cache_.contains(request)) {
    const absl::Time now = clock_->Now();
    absl::erase_if(cache_, [now](const auto& kv) { return now >= kv.second->expires; });
    if (cache_.size() >= options_.max_entries) {
      auto soonest = cache_.begin();
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->second->expires < soonest->second->expires) soonest = it;
      }
      cache_.erase(soonest);
    }
  }
  cache_[request] = std::move(state);
}

void AuthCache::Work() {
  for (;;) {
    AuthRequest request;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuthCache* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->stopping_ || !c->queue_.empty();
          },
          this));
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
      ++queries_;
    }
    absl::StatusOr<AuthState> answer = QueryAuthServers(
        servers_, request.common_name, request.remote_ip, request.secret, request.tls, clock_);
    AuthResult result = answer.ok() ? AuthResult(std::make_shared<const AuthState>(*std::move(answer)))
                                    : AuthResult(answer.status());
    std::vector<std::function<void(AuthResult)>> callers;
    {
      absl::MutexLock lock(&mu_);
      if (result.ok()) {
        InsertLocked(request, *result);
      } else {
        cache_.erase(request);
      }
      auto it = waiting_.find(request);
      if (it != waiting_.end()) {
        callers = std::move(it->second);
        waiting_.erase(it);
      }
    }
    for (auto& done : callers) done(result);
  }
}

}  // namespace nsq::auth
