#pragma once

// What every nsq-cpp gRPC port serves besides its own service: grpc.health.v1.Health
// (the default health service) and server reflection; and the rule that a port is not
// shared (SO_REUSEPORT off). gRPC headers are forward-declared here.

#include "absl/status/status.h"

namespace grpc {
class ServerBuilder;
class Status;
}  // namespace grpc

namespace nsq::grpcutil {

// Turns SO_REUSEPORT off (gRPC enables it by default: a second server on the same port
// would start "successfully" and steal half the connections), enables the default health
// service and adds the reflection plugin to `builder`, which may already exist.
void AddStandardServices(grpc::ServerBuilder* builder);

// absl and gRPC status codes are numerically the same; the message is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace nsq::grpcutil
