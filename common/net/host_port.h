#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nsq::net {

struct HostPort {
  std::string host;  // without brackets; empty = every interface (":4150")
  uint16_t port = 0;
};

// Parses "host:port", "[v6]:port" or ":port" (a decimal port, 0-65535). Nothing for a
// malformed address, an unbracketed IPv6 host included.
std::optional<HostPort> ParseHostPort(std::string_view address);

// "host:port", with brackets around an IPv6 host: the inverse of ParseHostPort.
std::string JoinHostPort(std::string_view host, uint16_t port);

}  // namespace nsq::net
