#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/grpc/tls.h"

namespace nsq::flags {
class FlagSet;
}

namespace nsq::discovery {

// Every option of the discovery service (our nsqlookupd), with nsqlookupd's flag names
// and config keys (nsq.md 2.1). Defaults are nsqlookupd's, except that listeners bind
// 127.0.0.1.
struct DiscoveryOptions {
  // Process.
  std::string log_level = "info";            // debug, info, warn, error, fatal
  std::string log_prefix = "[nsqlookupd] ";  // prepended to every log line
  bool show_version = false;                 // --version
  bool verbose = false;                      // nsqlookupd's deprecated --verbose: no effect

  // Listeners.
  std::string tcp_address = "127.0.0.1:4160";   // lookupd TCP protocol V1 ("" = off)
  std::string http_address = "127.0.0.1:4161";  // lookupd HTTP API, /metrics ("" = off)
  std::string grpc_address = "127.0.0.1:4162";  // nsq.v1.Discovery, health, reflection
  std::string broadcast_address;  // told to brokers in reply to IDENTIFY; "" = hostname

  // gRPC TLS (not nsqlookupd flags; nsqlookupd has no TLS): on when a certificate is given.
  std::string grpc_tls_cert;        // PEM certificate chain of the gRPC port
  std::string grpc_tls_key;         // its PEM private key
  std::string grpc_tls_client_ca;   // mTLS: clients (brokers, consumers, admin) need a certificate this CA signed

  // Registrations.
  absl::Duration inactive_producer_timeout = absl::Seconds(300);  // silence before a producer goes
  absl::Duration tombstone_lifetime = absl::Seconds(45);  // how long a tombstone hides a producer

  // Not a flag: how often time-driven work runs (expiring silent producers, Watch
  // updates for tombstones running out). Tests shorten it.
  absl::Duration sweep_interval = absl::Seconds(1);

  void RegisterFlags(flags::FlagSet* flags);
  absl::Status Validate() const;
  // The gRPC port's TLS from the flags above (disabled: plaintext).
  grpcutil::ServerTlsOptions GrpcServerTls() const;
  // Fills broadcast_address from the hostname when it was not given.
  void ResolveDefaults();
};

}  // namespace nsq::discovery
