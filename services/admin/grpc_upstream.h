#pragma once

// Upstreams over gRPC: nsq.v1.Broker (GetStats and the admin RPCs) and nsq.v1.Discovery.
// Each call has a deadline of `timeout`; channels are plaintext (loopback and private
// networks; TLS toward gRPC upstreams is not built yet).

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/admin/upstream.h"

namespace nsq::admin {

// `address` is "host:port" of the gRPC port.
std::unique_ptr<BrokerClient> NewGrpcBrokerClient(const std::string& address,
                                                  absl::Duration timeout);
std::unique_ptr<DiscoveryClient> NewGrpcDiscoveryClient(const std::string& address,
                                                        absl::Duration timeout);

}  // namespace nsq::admin
