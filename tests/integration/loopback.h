#pragma once

// Shared by the in-process integration tests that start real servers: options for a
// broker and a discovery server on 127.0.0.1 ephemeral ports, and a bounded wait.

#include <unistd.h>

#include <atomic>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/broker/broker_options.h"
#include "services/discovery/discovery_options.h"

namespace nsq::testing_loopback {

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

// A broker on ephemeral loopback ports (no HTTPS), node 1, its own data path named after
// `name`, warnings only.
inline broker::BrokerOptions LoopbackBroker(std::string_view name) {
  static std::atomic<int> n{0};
  broker::BrokerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.http_address = "127.0.0.1:0";
  o.tcp_address = "127.0.0.1:0";
  o.https_address = "";
  o.broadcast_address = "127.0.0.1";
  o.data_path = absl::StrCat(::testing::TempDir(), "/", std::string(name), "-", getpid(), "-", ++n);
  o.node_id = 1;
  o.log_level = "warn";
  return o;
}

// A discovery server on ephemeral loopback ports.
inline discovery::DiscoveryOptions LoopbackDiscovery() {
  discovery::DiscoveryOptions d;
  d.tcp_address = "127.0.0.1:0";
  d.http_address = "127.0.0.1:0";
  d.grpc_address = "127.0.0.1:0";
  d.broadcast_address = "127.0.0.1";
  return d;
}

}  // namespace nsq::testing_loopback
