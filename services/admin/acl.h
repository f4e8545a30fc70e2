#pragma once

// Who may act: nsqadmin's --admin-user list read from the --acl-http-header header (set by
// an authenticating proxy), and who may read or change /config/:opt
// (--allow-config-from-cidr). Plain functions of the request; no I/O, thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nsq::admin {

class Acl {
 public:
  // No admin users: everyone may act (nsqadmin's default).
  Acl(std::vector<std::string> admin_users, std::string header);

  bool enabled() const { return !admin_users_.empty(); }
  const std::string& header() const { return header_; }
  // `user` is the header's value (nullopt when the header is absent).
  bool MayAct(const std::optional<std::string>& user) const;

 private:
  std::vector<std::string> admin_users_;
  std::string header_;
};

// An IPv4 or IPv6 network, e.g. "127.0.0.1/8", "::1/128".
class Cidr {
 public:
  static absl::StatusOr<Cidr> Parse(const std::string& text);
  // `ip` may carry a port ("127.0.0.1:5000", "[::1]:5000"); false when it does not parse.
  bool Contains(const std::string& ip) const;

 private:
  int family_ = 0;
  unsigned char addr_[16] = {0};
  int bits_ = 0;
};

// The host part of a peer address "ip:port" / "[v6]:port".
std::string HostOf(const std::string& remote_address);

}  // namespace nsq::admin
