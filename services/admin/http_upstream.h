#pragma once

// Upstreams over NSQ's HTTP APIs: an nsqd's /stats, /topic/* and /channel/* (a stock nsqd,
// or any broker discovery lists without a gRPC port) and an nsqlookupd's /nodes, /topics,
// /channels, /topic/* and /channel/*. Requests send nsqadmin's Accept header; a 403
// TLS_REQUIRED answer naming an https_port is retried over HTTPS with `tls`, as nsqadmin does.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/http/client.h"
#include "services/admin/upstream.h"

namespace nsq::admin {

struct HttpUpstreamOptions {
  absl::Duration request_timeout = absl::Seconds(5);
  http::ClientTls tls;  // for the HTTPS retry
};

std::unique_ptr<BrokerClient> NewHttpBrokerClient(const std::string& http_address,
                                                  HttpUpstreamOptions options);
std::unique_ptr<DiscoveryClient> NewLookupdHttpClient(const std::string& http_address,
                                                      HttpUpstreamOptions options);

// Parsers, separate for tests. Accept both the V1 envelope and the pre-1.0 wrapped form
// ({"status_code":200,"data":{...}}).
absl::StatusOr<NodeStats> ParseNsqdStats(const std::string& body);
absl::StatusOr<std::vector<Producer>> ParseLookupdNodes(const std::string& body,
                                                        const std::string& lookupd);

}  // namespace nsq::admin
