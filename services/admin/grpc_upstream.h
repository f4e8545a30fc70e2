#pragma once

// Upstreams over gRPC: nsq.v1.Broker (GetStats and the admin RPCs) and nsq.v1.Discovery.
// Each call has a deadline of `timeout`; channels use TLS and send the auth secret as
// --grpc-tls-* and --grpc-auth-secret say (common/grpc), plaintext by default.

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/grpc/tls.h"
#include "services/admin/upstream.h"

namespace grpc {
class ChannelCredentials;
}

namespace nsq::admin {

struct GrpcUpstreamOptions {
  absl::Duration timeout = absl::Seconds(5);  // per call
  grpcutil::ClientOptions client;             // TLS and auth secret
  // From grpcutil::MakeChannelCredentials(client), loaded once and shared by every
  // upstream; null = plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

// `address` is "host:port" of the gRPC port.
std::unique_ptr<BrokerClient> NewGrpcBrokerClient(const std::string& address,
                                                  const GrpcUpstreamOptions& options);
std::unique_ptr<DiscoveryClient> NewGrpcDiscoveryClient(const std::string& address,
                                                        const GrpcUpstreamOptions& options);

}  // namespace nsq::admin
