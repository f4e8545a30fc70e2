#pragma once

// Authorization of nsq.v1.Broker calls with nsqd's auth server model (--auth-http-address,
// services/broker/auth): the secret comes as call metadata "authorization: Bearer
// <secret>", its identity's authorizations (cached until their ttl) decide. The rule of
// each RPC is in README.md ("Authorization").

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/time/clock.h"
#include "services/broker/auth/auth.h"
#include "services/broker/auth/auth_cache.h"

namespace grpc {
class CallbackServerContext;
}

namespace nsq::broker {

// What a call needs of its secret's authorizations.
struct Access {
  enum class Need {
    kAuthenticated,  // any identity with authorizations (read-only calls: stats, policies)
    kPublish,        // publish on `topic`
    kSubscribe,      // subscribe on `topic` and `channel`
  };
  Need need = Need::kAuthenticated;
  std::string topic;
  std::string channel;

  static Access Authenticated() { return Access{}; }
  static Access Publish(std::string topic) { return Access{Need::kPublish, std::move(topic), ""}; }
  static Access Subscribe(std::string topic, std::string channel) {
    return Access{Need::kSubscribe, std::move(topic), std::move(channel)};
  }
};

// Thread-safe. Off (every call allowed, nothing asked) without auth server addresses.
class CallAuthorizer {
 public:
  // `clock` (the engine's) counts the ttl; `tls`: the port serves TLS (told to the auth
  // server as nsqd's `tls` parameter).
  CallAuthorizer(auth::AuthOptions servers, const Clock* clock, bool tls);

  bool enabled() const { return cache_ != nullptr; }

  // The answer for `context`'s call when it needs no query: UNAUTHENTICATED without a
  // secret, or the check of a cached, unexpired identity. Otherwise nullopt, with
  // `*request` filled for CheckLater.
  std::optional<absl::Status> CheckNow(grpc::CallbackServerContext* context, const Access& access,
                                       auth::AuthRequest* request) const;

  // Asks the auth server about `request` and calls `done` with the check of `access`: on
  // an auth worker thread, or on this one when the query is refused (too many pending).
  // UNAUTHENTICATED when the server rejects the secret (or cannot be asked, or the
  // identity has no authorizations), PERMISSION_DENIED when the identity may not do
  // `access`.
  void CheckLater(auth::AuthRequest request, Access access,
                  std::function<void(absl::Status)> done) const;

  // The status of `access` for an identity (no I/O).
  static absl::Status Evaluate(const auth::AuthState& state, const Access& access);

 private:
  std::unique_ptr<auth::AuthCache> cache_;
  const bool tls_;
};

}  // namespace nsq::broker
