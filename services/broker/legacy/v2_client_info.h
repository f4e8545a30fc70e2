#pragma once

// What /stats shows of one V2 connection: V2Server::Clients() fills it, the /stats
// renderers read it.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace nsq::legacy {

// One V2 connection as /stats shows it.
struct V2ClientInfo {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  std::string remote_address;
  int32_t state = 0;
  int32_t sample_rate = 0;
  bool deflate = false;
  bool snappy = false;
  bool tls = false;
  std::string tls_version;       // "TLS1.2", ...
  std::string tls_cipher_suite;  // IANA name
  bool authed = false;
  std::string auth_identity;
  std::string auth_identity_url;
  std::string topology_zone;  // from IDENTIFY
  std::string topology_region;
  absl::Time connect_time;
  std::string topic;    // subscribed to, or ""
  std::string channel;
  std::vector<std::pair<std::string, uint64_t>> pub_counts;  // by topic name
};

}  // namespace nsq::legacy
