#pragma once

// What a TLS server needs to know, as plain data: no OpenSSL or Asio types, so headers
// such as common/http/server.h can carry it. MakeServerContext (server_context.h) turns
// it into an OpenSSL context.

#include <string>

namespace nsq::tls {

// Client certificates a server asks for.
enum class ClientAuth {
  kNone,           // Not requested.
  kRequire,        // Required, any certificate accepted (nsqd's "require").
  kRequireVerify,  // Required and verified against root_ca_file (nsqd's "require-verify").
};

enum class Version { kTls10, kTls11, kTls12, kTls13 };

struct ServerConfig {
  std::string cert_file;  // PEM certificate chain, leaf first.
  std::string key_file;   // PEM private key of the leaf.
  ClientAuth client_auth = ClientAuth::kNone;
  // CA certificates (PEM) that verify client certificates under kRequireVerify; empty
  // uses the system's default verify paths.
  std::string root_ca_file;
  Version min_version = Version::kTls12;
};

}  // namespace nsq::tls
