#pragma once

// Queries to any nsqlookupd's HTTP API (ours or stock): /lookup, /topics, /nodes
// (nsq.md 5.5): the Accept header for the plain v1 reply, and the legacy
// {"status_code", "data"} envelope understood too. Blocking; used from the consumer's
// discovery thread and from the tools.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace nsq::client {

struct LookupdProducer {
  std::string broadcast_address;
  std::string hostname;
  int tcp_port = 0;
  int http_port = 0;
  int grpc_port = 0;  // ours only
  std::string version;

  std::string TcpAddress() const;   // broadcast_address:tcp_port
  std::string HttpAddress() const;  // broadcast_address:http_port
};

// `lookupd` is "host:port" or "http://host:port[/path]"; the path defaults to the
// endpoint's.
absl::StatusOr<std::vector<LookupdProducer>> LookupdLookup(std::string_view lookupd, std::string_view topic,
                                                         absl::Duration timeout);
absl::StatusOr<std::vector<std::string>> LookupdTopics(std::string_view lookupd, absl::Duration timeout);
absl::StatusOr<std::vector<LookupdProducer>> LookupdNodes(std::string_view lookupd, absl::Duration timeout);

// Parses a /lookup or /nodes body (the producers array), plain or enveloped. Exposed for
// tests.
absl::StatusOr<std::vector<LookupdProducer>> ParseLookupdProducers(std::string_view body);
absl::StatusOr<std::vector<std::string>> ParseLookupdTopics(std::string_view body);

// Splits "host:port" / "http://host:port/path" into host:port and path (default
// `default_path`). InvalidArgument when malformed or https.
absl::Status SplitLookupdAddress(std::string_view lookupd, std::string_view default_path, std::string* host_port,
                                 std::string* path);

}  // namespace nsq::client
