#include "services/broker/legacy/tls_options.h"

#include "absl/strings/str_cat.h"

namespace nsq::legacy {

absl::Status ValidateTlsOptions(const TlsOptions& tls) {
  if (!tls.enabled()) {
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
    }
    if (tls.required != TlsRequired::kNo || !tls.client_auth_policy.empty()) {
      return absl::InvalidArgumentError(
          "cannot require TLS client connections without TLS key and cert");
    }
    return absl::OkStatus();
  }
  if (!tls.client_auth_policy.empty() && tls.client_auth_policy != "require" &&
      tls.client_auth_policy != "require-verify") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-client-auth-policy must be require or require-verify, not ",
                     tls.client_auth_policy));
  }
  if (tls.min_version != "tls1.0" && tls.min_version != "tls1.1" &&
      tls.min_version != "tls1.2" && tls.min_version != "tls1.3") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-min-version must be tls1.0, tls1.1, tls1.2 or tls1.3, not ",
                     tls.min_version));
  }
  return absl::OkStatus();
}

tls::ServerConfig ToServerConfig(const TlsOptions& options) {
  tls::ServerConfig config;
  config.cert_file = options.cert_file;
  config.key_file = options.key_file;
  config.root_ca_file = options.root_ca_file;
  config.client_auth = options.client_auth_policy == "require"          ? tls::ClientAuth::kRequire
                       : options.client_auth_policy == "require-verify" ? tls::ClientAuth::kRequireVerify
                                                                         : tls::ClientAuth::kNone;
  config.min_version = options.min_version == "tls1.1"   ? tls::Version::kTls11
                       : options.min_version == "tls1.2" ? tls::Version::kTls12
                       : options.min_version == "tls1.3" ? tls::Version::kTls13
                                                         : tls::Version::kTls10;
  return config;
}

}  // namespace nsq::legacy
