#pragma once

// Throwaway certificates for TLS tests, generated with OpenSSL at test time (EC P-256,
// valid for a day): a CA, a server certificate it signs for 127.0.0.1 and localhost,
// a client certificate it signs, and a self-signed client certificate it does not.

#include <string>

#include "absl/status/statusor.h"

namespace nsq::tls::testing {

struct TestCerts {
  std::string ca_file;
  std::string server_cert_file;
  std::string server_key_file;
  std::string client_cert_file;
  std::string client_key_file;
  std::string untrusted_cert_file;  // Self-signed: fails verification against ca_file.
  std::string untrusted_key_file;
};

// Writes the PEM files into `dir` (which must exist). Internal on an OpenSSL failure.
absl::StatusOr<TestCerts> WriteTestCerts(const std::string& dir);

}  // namespace nsq::tls::testing
