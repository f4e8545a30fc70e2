#include "services/discovery/discovery_options.h"

#include <unistd.h>

#include "common/flags/flags.h"

namespace nsq::discovery {

void DiscoveryOptions::RegisterFlags(flags::FlagSet* f) {
  f->AddBool("version", &show_version, "print version string");
  f->AddBool("verbose", &verbose, "[deprecated] has no effect, use --log-level");
  f->AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  f->AddString("log-prefix", &log_prefix, "log message prefix");
  f->AddString("tcp-address", &tcp_address, "<addr>:<port> to listen on for TCP clients");
  f->AddString("http-address", &http_address, "<addr>:<port> to listen on for HTTP clients");
  f->AddString("grpc-address", &grpc_address, "<addr>:<port> to listen on for gRPC clients");
  f->AddString("grpc-tls-cert", &grpc_tls_cert, "path to the PEM certificate of the gRPC port (enables gRPC TLS)");
  f->AddString("grpc-tls-key", &grpc_tls_key, "path to the PEM private key of --grpc-tls-cert");
  f->AddString("grpc-tls-client-ca", &grpc_tls_client_ca, "path to a PEM CA file: gRPC clients must present a certificate it signed (mTLS)");
  f->AddString("broadcast-address", &broadcast_address, "address of this lookupd node, (default to the OS hostname)");
  f->AddDuration("inactive-producer-timeout", &inactive_producer_timeout, "duration of time a producer will remain in the active list since its last ping");
  f->AddDuration("tombstone-lifetime", &tombstone_lifetime, "duration of time a producer will remain tombstoned if registration remains");
}

absl::Status DiscoveryOptions::Validate() const {
  if (grpc_address.empty()) return absl::InvalidArgumentError("--grpc-address must not be empty");
  if (grpc_tls_cert.empty() != grpc_tls_key.empty()) {
    return absl::InvalidArgumentError("--grpc-tls-cert and --grpc-tls-key must be given together");
  }
  if (!grpc_tls_client_ca.empty() && grpc_tls_cert.empty()) {
    return absl::InvalidArgumentError("--grpc-tls-client-ca needs --grpc-tls-cert and --grpc-tls-key");
  }
  if (inactive_producer_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--inactive-producer-timeout must be > 0");
  }
  if (tombstone_lifetime < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--tombstone-lifetime must be >= 0");
  }
  if (sweep_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sweep interval must be > 0");
  }
  return absl::OkStatus();
}

grpcutil::ServerTlsOptions DiscoveryOptions::GrpcServerTls() const {
  grpcutil::ServerTlsOptions out;
  out.cert_file = grpc_tls_cert;
  out.key_file = grpc_tls_key;
  out.client_ca_file = grpc_tls_client_ca;
  return out;
}

void DiscoveryOptions::ResolveDefaults() {
  if (!broadcast_address.empty()) return;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  broadcast_address = host;
}

}  // namespace nsq::discovery
