#pragma once

// The one mapping from engine errors (absl::Status) to gRPC statuses, and the text rule
// for strings that go into proto3 fields. gRPC headers stay in status.cc.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace nsq::broker {

// absl and gRPC status codes are numerically the same; the message is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Proto3 strings must be valid UTF-8; client ids, names and messages may hold any bytes,
// so text with a control or non-ASCII byte is C-escaped.
std::string Printable(absl::string_view text);

}  // namespace nsq::broker
