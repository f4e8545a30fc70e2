#pragma once

// nsqlookupd's HTTP API (nsq.md 2.4) over the registry, with its exact JSON: /ping,
// /info, /lookup, /topics, /channels, /nodes, /topic/create|delete|tombstone,
// /channel/create|delete.

#include <string>

#include "common/http/server.h"
#include "services/discovery/registry.h"

namespace nsq::discovery {

// Adds the handlers (and the JSON 404) to `server`. `registry` must outlive it.
void RegisterLookupdHttpHandlers(http::Server* server, Registry* registry,
                                 std::string version = "1.3.0");

// nsqlookupd's PeerInfo JSON object (for tests and tools).
std::string PeerInfoJson(const PeerInfo& peer);

}  // namespace nsq::discovery
