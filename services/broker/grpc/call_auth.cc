#include "services/broker/grpc/call_auth.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc/tls.h"
#include "services/broker/grpc/status.h"

namespace nsq::broker {
namespace {

// "ipv4:127.0.0.1:5555" -> "127.0.0.1"; "ipv6:[::1]:5555" -> "::1".
std::string RemoteIp(const std::string& peer) {
  std::string_view p = peer;
  for (std::string_view prefix : {"ipv4:", "ipv6:", "unix:"}) {
    if (p.substr(0, prefix.size()) == prefix) {
      p.remove_prefix(prefix.size());
      break;
    }
  }
  if (!p.empty() && p.front() == '[') {
    const size_t close = p.find(']');
    if (close != std::string_view::npos) return std::string(p.substr(1, close - 1));
  }
  const size_t colon = p.rfind(':');
  if (colon != std::string_view::npos) p = p.substr(0, colon);
  return std::string(p);
}

std::string Quote(std::string_view s) {
  return absl::StrCat("\"", Printable(absl::string_view(s.data(), s.size())), "\"");
}

}  // namespace

CallAuthorizer::CallAuthorizer(auth::AuthOptions servers, const Clock* clock, bool tls) : tls_(tls) {
  if (!servers.addresses.empty()) {
    cache_ = std::make_unique<auth::AuthCache>(std::move(servers), clock);
  }
}

std::optional<absl::Status> CallAuthorizer::CheckNow(grpc::CallbackServerContext* context,
                                                     const Access& access,
                                                     auth::AuthRequest* request) const {
  if (cache_ == nullptr) return absl::OkStatus();
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(grpcutil::kAuthMetadataKey);
  std::string_view secret;
  if (it != metadata.end()) {
    secret = grpcutil::SecretFromAuthMetadata(std::string_view(it->second.data(), it->second.size()));
  }
  if (secret.empty()) {
    return absl::UnauthenticatedError(
        "E_AUTH_REQUIRED this broker needs an auth secret: send metadata 'authorization: Bearer <secret>'");
  }
  request->secret = std::string(secret);
  request->remote_ip = RemoteIp(context->peer());
  request->tls = tls_;
  request->common_name.clear();
  if (std::shared_ptr<const grpc::AuthContext> ctx = context->auth_context()) {
    for (const grpc::string_ref& cn : ctx->FindPropertyValues("x509_common_name")) {
      request->common_name.assign(cn.data(), cn.size());
    }
  }
  if (std::shared_ptr<const auth::AuthState> state = cache_->Cached(*request)) {
    return Evaluate(*state, access);
  }
  return std::nullopt;
}

void CallAuthorizer::CheckLater(auth::AuthRequest request, Access access,
                                std::function<void(absl::Status)> done) const {
  cache_->Fetch(request, [access = std::move(access), done = std::move(done)](auth::AuthResult r) {
    if (r.ok()) return done(Evaluate(**r, access));
    const absl::Status& st = r.status();
    if (absl::IsResourceExhausted(st)) return done(st);
    if (absl::IsCancelled(st)) return done(absl::UnavailableError(st.message()));
    done(absl::UnauthenticatedError(absl::StrCat("E_AUTH_FAILED auth failed: ", st.message())));
  });
}

absl::Status CallAuthorizer::Evaluate(const auth::AuthState& state, const Access& access) {
  if (state.authorizations.empty()) {
    return absl::UnauthenticatedError("E_UNAUTHORIZED AUTH no authorizations found");
  }
  switch (access.need) {
    case Access::Need::kAuthenticated:
      return absl::OkStatus();
    case Access::Need::kPublish:
      if (state.IsAllowed(access.topic, "")) return absl::OkStatus();
      return absl::PermissionDeniedError(absl::StrCat("E_UNAUTHORIZED identity ", Quote(state.identity),
                                                      " may not publish to topic ", Quote(access.topic)));
    case Access::Need::kSubscribe:
      // nsqd's check needs a channel; the regexes are unanchored.
      if (!access.channel.empty() && state.IsAllowed(access.topic, access.channel)) {
        return absl::OkStatus();
      }
      return absl::PermissionDeniedError(
          absl::StrCat("E_UNAUTHORIZED identity ", Quote(state.identity), " may not subscribe to ",
                       Quote(access.topic), " ", Quote(access.channel)));
  }
  return absl::InternalError("unknown access");
}

}  // namespace nsq::broker
