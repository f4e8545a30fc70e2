#pragma once

// What every tool shares: NSQ's address flags (--nsqd-tcp-address / --lookupd-http-address
// for NSQ's protocol, --broker-address / --discovery-address for our gRPC API; exactly one
// kind), the gRPC client flags (--grpc-tls, --grpc-tls-ca, --grpc-tls-cert, --grpc-tls-key,
// --grpc-tls-server-name, --grpc-auth-secret; common/grpc), --consumer-opt /
// --producer-opt, parsing with one-line errors (exit status 1), and the tool's main loop
// around SIGINT/SIGTERM/SIGHUP.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/flags/flags.h"
#include "common/grpc/tls.h"
#include "common/names/names.h"

namespace nsq::tools {

// Where a consuming tool finds its brokers.
struct SourceFlags {
  std::vector<std::string> nsqd_tcp_addresses;
  std::vector<std::string> lookupd_http_addresses;
  std::vector<std::string> broker_addresses;
  std::vector<std::string> discovery_addresses;
  std::vector<std::string> consumer_opts;
  grpcutil::ClientOptions grpc_options;  // --grpc-tls-*, --grpc-auth-secret: toward brokers and discovery

  void Register(flags::FlagSet* fs);
  // Exactly one kind of address, every one well-formed and reachable (each checked with a
  // TCP connection), every --consumer-opt valid; InvalidArgument naming the flag.
  absl::Status Validate() const;
  // Fills the addresses and applies the --consumer-opt values over `config`.
  absl::Status Apply(client::ConsumerOptions* o) const;
  // The topics discovery knows (lookupd /topics, or gRPC ListTopics), for --topic-pattern.
  absl::StatusOr<std::vector<std::string>> ListTopics() const;
  bool has_discovery() const { return !lookupd_http_addresses.empty() || !discovery_addresses.empty(); }
};

// Where a publishing tool sends.
struct DestinationFlags {
  std::vector<std::string> nsqd_tcp_addresses;
  std::vector<std::string> broker_addresses;
  std::vector<std::string> producer_opts;
  grpcutil::ClientOptions grpc_options;  // <prefix>grpc-tls-*, <prefix>grpc-auth-secret

  // `prefix` "" registers --nsqd-tcp-address / --broker-address / --grpc-tls-ca ...;
  // "destination-" the nsq_to_nsq names (--destination-grpc-tls-ca ...).
  void Register(flags::FlagSet* fs, const std::string& prefix = "");
  absl::Status Validate(const std::string& prefix = "") const;
  absl::Status Apply(client::ProducerOptions* o) const;
};

// Copies the gRPC client flags into a client config (before the --*-opt values, which win).
void ApplyGrpcFlags(const grpcutil::ClientOptions& grpc, client::Config* config);

// Parses argv. nullopt: go on; otherwise the exit code (0 after --help, 1 after printing
// "<tool>: <error>" to stderr).
std::optional<int> ParseFlags(flags::FlagSet& fs, int argc, char** argv, const std::string& tool);

// Prints "<tool>: <message>" to stderr and returns 1.
int Fail(const std::string& tool, const absl::Status& st);

// A valid NSQ topic or channel name: common/names' rule, the broker's own.
using ::nsq::names::IsValidName;

// InvalidArgument "--<flag> <value> is not a valid <kind> name" unless `value` is one.
absl::Status CheckName(const std::string& flag, const std::string& value, const std::string& kind);
// InvalidArgument "--topic required" when empty, else CheckName of each.
absl::Status CheckTopics(const std::vector<std::string>& topics);

// The random ephemeral channel nsq_tail uses by default: tail<6 digits>#ephemeral.
std::string RandomTailChannel();

}  // namespace nsq::tools
