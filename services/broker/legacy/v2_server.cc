#include "services/broker/legacy/v2_server.h"

#include <memory>
#include <utility>

#include "services/broker/legacy/v2_listener.h"

namespace nsq::legacy {

V2Server::V2Server(broker::Engine* engine, V2ServerOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(options))) {}
V2Server::~V2Server() { Stop(); }
absl::Status V2Server::Start() { return impl_->Start(); }
int V2Server::port() const { return impl_->port(); }
void V2Server::Stop() { impl_->Stop(); }
std::vector<V2ClientInfo> V2Server::Clients() const { return impl_->Clients(); }

}  // namespace nsq::legacy
