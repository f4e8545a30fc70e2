#include "common/tls/server_context.h"

#include <openssl/ssl.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace nsq::tls {

namespace ssl = boost::asio::ssl;

namespace {

int OpenSslVersion(Version v) {
  switch (v) {
    case Version::kTls10: return TLS1_VERSION;
    case Version::kTls11: return TLS1_1_VERSION;
    case Version::kTls12: return TLS1_2_VERSION;
    case Version::kTls13: return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ssl::context>> MakeServerContext(const ServerConfig& config) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain_file(config.cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS certificate ", config.cert_file, ": ", ec.message()));
  }
  ctx->use_private_key_file(config.key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key ", config.key_file, ": ", ec.message()));
  }
  const int min = OpenSslVersion(config.min_version);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), min);
  if (min < TLS1_2_VERSION) SSL_CTX_set_security_level(ctx->native_handle(), 0);
  switch (config.client_auth) {
    case ClientAuth::kNone:
      break;
    case ClientAuth::kRequire:
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      ctx->set_verify_callback([](bool, ssl::verify_context&) { return true; });  // any cert
      break;
    case ClientAuth::kRequireVerify:
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      if (!config.root_ca_file.empty()) {
        ctx->load_verify_file(config.root_ca_file, ec);
        if (ec) {
          return absl::InvalidArgumentError(
              absl::StrCat("TLS root CA file ", config.root_ca_file, ": ", ec.message()));
        }
      } else {
        ctx->set_default_verify_paths(ec);
      }
      break;
  }
  return ctx;
}

std::string VersionName(int openssl_version) {
  switch (openssl_version) {
    case TLS1_VERSION: return "TLS1.0";
    case TLS1_1_VERSION: return "TLS1.1";
    case TLS1_2_VERSION: return "TLS1.2";
    case TLS1_3_VERSION: return "TLS1.3";
    default: return absl::StrCat("Unknown ", openssl_version);
  }
}

}  // namespace nsq::tls
