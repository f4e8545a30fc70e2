#pragma once

// Whether a TCP "host:port" accepts connections: the tools check every address they are
// given at start, as NSQ's tools fail at once on a broker they cannot reach.

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace nsq::client {

// OK when a TCP connection to `address` opens within `timeout` (then closed at once);
// InvalidArgument for a malformed address, Unavailable otherwise.
absl::Status CheckReachable(const std::string& address, absl::Duration timeout);

}  // namespace nsq::client
