#pragma once

// The broker's --tls-* options, shared by the V2 upgrade and the HTTPS listener: their
// startup checks (nsqd's) and the common/tls server settings they stand for.

#include <string>

#include "absl/status/status.h"
#include "common/tls/config.h"

namespace nsq::legacy {

// --tls-required: false, true, or tcp-https (TCP must upgrade, plain HTTP still served).
enum class TlsRequired { kNo, kYes, kTcpHttps };

struct TlsOptions {
  std::string cert_file;           // --tls-cert (PEM chain)
  std::string key_file;            // --tls-key
  std::string root_ca_file;        // --tls-root-ca-file: verifies client certificates
  std::string client_auth_policy;  // --tls-client-auth-policy: "", require, require-verify
  TlsRequired required = TlsRequired::kNo;
  std::string min_version = "tls1.0";  // tls1.0, tls1.1, tls1.2, tls1.3

  bool enabled() const { return !cert_file.empty() && !key_file.empty(); }
};

// Checks the TLS options as nsqd does at startup. The files are loaded (and checked) by
// tls::MakeServerContext.
absl::Status ValidateTlsOptions(const TlsOptions& tls);

// The listener settings of valid options, shared by the V2 upgrade and HTTPS.
tls::ServerConfig ToServerConfig(const TlsOptions& options);

}  // namespace nsq::legacy
