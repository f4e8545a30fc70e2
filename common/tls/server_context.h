#pragma once

// Builds the OpenSSL server context every TLS listener shares (the broker's V2 upgrade,
// HTTPS in common/http). Includes Boost.Asio's SSL header: include this from .cc files
// only, and carry ServerConfig (config.h) in headers.

#include <memory>

#include "absl/status/statusor.h"
#include "boost/asio/ssl/context.hpp"
#include "common/tls/config.h"

namespace nsq::tls {

// Loads the certificate chain and key, sets the minimum protocol version (below TLS 1.2
// also OpenSSL security level 0, so old clients can still connect, as Go's crypto/tls
// allows) and the client certificate policy. InvalidArgument naming the file that does
// not load. The context is thread-safe once built and must outlive its streams.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerContext(
    const ServerConfig& config);

// "TLS1.0" ... "TLS1.3" for an OpenSSL protocol version (SSL_version), as nsqd's /stats
// names them; "Unknown <n>" otherwise.
std::string VersionName(int openssl_version);

}  // namespace nsq::tls
