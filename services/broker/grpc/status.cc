#include "services/broker/grpc/status.h"

#include <grpcpp/support/status.h>

#include "absl/strings/escaping.h"

namespace nsq::broker {

// (Debian's absl::string_view is its own type, not std::string_view.)
std::string Printable(absl::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return absl::CHexEscape(text);
  }
  return std::string(text);
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      Printable(status.message()));
}

}  // namespace nsq::broker
