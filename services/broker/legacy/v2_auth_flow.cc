// Connection's auth flow: AUTH asks the auth server (on the listener's auth worker, with
// input suspended meanwhile), and PUB/MPUB/DPUB/SUB check the authorizations, fetching
// them again once they expire.

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/broker/legacy/v2_connection.h"
#include "services/broker/legacy/v2_listener.h"
#include "spdlog/spdlog.h"

namespace nsq::legacy {
namespace {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
}  // namespace

void Connection::Auth(const DecodedCommand& c) {
  if (auth_ && !auth_->authorizations.empty()) return SendFatal("E_INVALID AUTH already set");
  if (opts_.auth.addresses.empty()) return SendFatal("E_AUTH_DISABLED AUTH disabled");
  secret_ = std::string(c.body);
  QueryAuth([this](absl::StatusOr<auth::AuthState> state) {
    if (!state.ok()) {
      spdlog::warn("PROTOCOL(V2): [{}] AUTH failed {}", remote_address_,
                   std::string(state.status().message()));
      return SendFatal("E_AUTH_FAILED AUTH failed");
    }
    SetAuth(*std::move(state));
    if (auth_->authorizations.empty()) {
      return SendFatal("E_UNAUTHORIZED AUTH no authorizations found");
    }
    SendResponse(AuthReplyJson(auth_->identity, auth_->identity_url,
                               static_cast<int64_t>(auth_->authorizations.size())));
    Resume();
  });
}

void Connection::SetAuth(auth::AuthState state) {
  auth_ = std::move(state);
  absl::MutexLock lock(&info_mu_);
  info_.authed = !auth_->authorizations.empty();
  info_.auth_identity = auth_->identity;
  info_.auth_identity_url = auth_->identity_url;
}

template <typename Done>
void Connection::QueryAuth(Done done) {
  suspended_ = true;
  auto self = shared_from_this();
  auth::AuthOptions servers = opts_.auth;
  const Clock* clock = server_->engine()->clock();
  asio::post(server_->auth_pool(), [self, servers = std::move(servers), clock, done = std::move(done),
                                    cn = common_name_, ip = remote_ip_, secret = secret_,
                                    tls = tls_done_]() mutable {
    absl::StatusOr<auth::AuthState> state = auth::QueryAuthServers(servers, cn, ip, secret, tls, clock);
    asio::post(self->io_, [self, done = std::move(done), state = std::move(state)]() mutable {
      if (self->closed_) return;
      done(std::move(state));
    });
  });
}

// nsqd's CheckAuth, for PUB/MPUB/DPUB/SUB. Expired authorizations are fetched again
// (suspending), and `c` is executed again afterwards.
Connection::AuthCheck Connection::CheckAuth(const char* cmd, std::string_view topic, std::string_view channel,
                    const DecodedCommand& c) {
  if (opts_.auth.addresses.empty()) return AuthCheck::kOk;
  if (!auth_ || auth_->authorizations.empty()) {
    SendFatal(absl::StrCat("E_AUTH_FIRST AUTH required before ", cmd));
    return AuthCheck::kFailed;
  }
  if (server_->engine()->clock()->Now() >= auth_->expires) {
    retry_cmd_ = c;  // views into in_, which stays put while suspended
    QueryAuth([this](absl::StatusOr<auth::AuthState> state) {
      if (!state.ok()) {
        spdlog::warn("PROTOCOL(V2): [{}] AUTH failed {}", remote_address_,
                     std::string(state.status().message()));
        return SendFatal("E_AUTH_FAILED AUTH failed");
      }
      SetAuth(*std::move(state));
      suspended_ = false;
      DecodedCommand retry = std::move(retry_cmd_);
      Execute(retry);
      if (!suspended_) Resume();
    });
    return AuthCheck::kSuspended;
  }
  if (!auth_->IsAllowed(topic, channel)) {
    SendFatal(absl::StrCat("E_UNAUTHORIZED AUTH failed for ", cmd, " on ", GoQuote(topic), " ",
                           GoQuote(channel)));
    return AuthCheck::kFailed;
  }
  return AuthCheck::kOk;
}

}  // namespace nsq::legacy
