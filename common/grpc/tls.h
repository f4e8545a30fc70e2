#pragma once

// TLS on gRPC, shared by every nsq-cpp gRPC server and client: server credentials from
// certificate files (optionally requiring client certificates: mTLS), and client channels
// from options (CA, client certificate, server-name override, and the auth secret sent
// as call metadata). Files are read and checked with OpenSSL here, so a bad file is a
// clear startup error instead of a failed handshake later. gRPC types are forward-declared.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace grpc {
class Channel;
class ChannelArguments;
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace nsq::flags {
class FlagSet;
}

namespace nsq::grpcutil {

// The metadata key of the auth secret on every gRPC call: "authorization: Bearer <secret>",
// as the broker's HTTP API takes it.
inline constexpr char kAuthMetadataKey[] = "authorization";
inline constexpr char kAuthBearerPrefix[] = "Bearer ";

// A gRPC port's TLS. Off when cert_file and key_file are both empty.
struct ServerTlsOptions {
  std::string cert_file;  // PEM certificate chain, leaf first
  std::string key_file;   // PEM private key of the leaf
  // Non-empty: clients must present a certificate signed by a CA in this PEM file (mTLS);
  // a client without one fails the handshake.
  std::string client_ca_file;
  // Clients must present a certificate, which is not verified (nsqd's
  // --tls-client-auth-policy=require). Ignored when client_ca_file is set.
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

// Checks the files of enabled options (both of cert and key given, each readable PEM, the
// key matching the certificate, the CA file holding a certificate). InvalidArgument naming
// the file and what is wrong with it. OK for disabled options.
absl::Status ValidateServerTls(const ServerTlsOptions& options);

// SSL server credentials from enabled options, or insecure ones when disabled; the
// ValidateServerTls errors otherwise.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsOptions& options);

// How a client reaches a gRPC server: TLS (on when `tls` is set or any file or the server
// name is given) and the auth secret.
struct ClientOptions {
  bool tls = false;          // TLS with the system's roots (implied by the fields below)
  std::string ca_file;       // PEM CA certificates that verify the server ("" = system roots)
  std::string cert_file;     // client certificate chain (PEM), for a server that asks (mTLS)
  std::string key_file;      // its private key
  std::string server_name;   // name checked in the server's certificate instead of the host
  std::string auth_secret;   // sent as "authorization: Bearer <secret>" on every call; "" = none

  bool UseTls() const {
    return tls || !ca_file.empty() || !cert_file.empty() || !key_file.empty() ||
           !server_name.empty();
  }
};

// Registers <prefix>tls, <prefix>tls-ca, <prefix>tls-cert, <prefix>tls-key,
// <prefix>tls-server-name and, with `auth_secret`, <prefix>auth-secret on `flags`, bound to
// `options`. With prefix "grpc-": --grpc-tls, --grpc-tls-ca, --grpc-tls-cert,
// --grpc-tls-key, --grpc-tls-server-name, --grpc-auth-secret.
void RegisterClientFlags(flags::FlagSet* flags, ClientOptions* options,
                         const std::string& prefix = "grpc-", bool auth_secret = true);

// Checks the files of TLS options (cert and key together, readable PEM, matching).
// InvalidArgument naming the file. OK without TLS.
absl::Status ValidateClientOptions(const ClientOptions& options);

// SSL channel credentials (CA, client certificate) or insecure ones without TLS; the
// ValidateClientOptions errors otherwise. Thread-safe to share among channels.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientOptions& options);

// A channel to `address` with `credentials` (from MakeChannelCredentials of the same
// options) and `args`, plus the options' server-name override and, with an auth secret, an
// interceptor that adds it to every call's metadata.
std::shared_ptr<grpc::Channel> CreateChannel(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    const ClientOptions& options, const grpc::ChannelArguments& args);

// Both steps at once (the files are read on every call).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ClientOptions& options,
                                                           const grpc::ChannelArguments& args);
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ClientOptions& options);

// The secret of an "authorization" metadata value: what follows "Bearer ", or "" when the
// value has another form.
std::string_view SecretFromAuthMetadata(std::string_view value);

}  // namespace nsq::grpcutil
