#include "services/admin/acl.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nsq::admin {

Acl::Acl(std::vector<std::string> admin_users, std::string header)
    : admin_users_(std::move(admin_users)), header_(std::move(header)) {}

bool Acl::MayAct(const std::optional<std::string>& user) const {
  if (admin_users_.empty()) return true;
  if (!user || user->empty()) return false;
  return std::find(admin_users_.begin(), admin_users_.end(), *user) != admin_users_.end();
}

std::string HostOf(const std::string& remote_address) {
  if (!remote_address.empty() && remote_address[0] == '[') {
    size_t end = remote_address.find(']');
    return end == std::string::npos ? remote_address : remote_address.substr(1, end - 1);
  }
  size_t colon = remote_address.rfind(':');
  if (colon == std::string::npos || remote_address.find(':') != colon) return remote_address;
  return remote_address.substr(0, colon);
}

absl::StatusOr<Cidr> Cidr::Parse(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", text));
  std::string ip = text.substr(0, slash);
  int bits = 0;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &bits)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", text));
  }
  Cidr c;
  if (inet_pton(AF_INET, ip.c_str(), c.addr_) == 1) {
    c.family_ = AF_INET;
    if (bits < 0 || bits > 32) return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", text));
  } else if (inet_pton(AF_INET6, ip.c_str(), c.addr_) == 1) {
    c.family_ = AF_INET6;
    if (bits < 0 || bits > 128) return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", text));
  } else {
    return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", text));
  }
  c.bits_ = bits;
  return c;
}

bool Cidr::Contains(const std::string& address) const {
  std::string ip = HostOf(address);
  unsigned char a[16] = {0};
  int family = 0;
  if (inet_pton(AF_INET, ip.c_str(), a) == 1) {
    family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), a) == 1) {
    family = AF_INET6;
    // An IPv4-mapped address (::ffff:a.b.c.d) is matched as IPv4.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family_ == AF_INET && std::memcmp(a, kMapped, 12) == 0) {
      std::memmove(a, a + 12, 4);
      family = AF_INET;
    }
  } else {
    return false;
  }
  if (family != family_) return false;
  int full = bits_ / 8, rest = bits_ % 8;
  if (std::memcmp(a, addr_, full) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (addr_[full] & mask);
}

}  // namespace nsq::admin
