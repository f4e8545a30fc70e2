#pragma once

// One HTTP/1.1 connection of http::Server (plain or TLS): private to //common/http.

#include <cstdint>
#include <memory>

#include "common/http/server_impl.h"

namespace nsq::http {

// A connection on `socket`, over TLS when server->tls_context() is set. Not started:
// the caller registers it, then calls Start().
std::shared_ptr<Session> NewSession(Server::Impl* server, uint64_t id, tcp::socket socket);

}  // namespace nsq::http
