#include "services/broker/legacy/v2_listener.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/net/host_port.h"
#include "common/tls/server_context.h"
#include "services/broker/legacy/tls_options.h"
#include "services/broker/legacy/v2_connection.h"

namespace nsq::legacy {
namespace {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
}  // namespace

absl::Status V2Server::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  if (absl::Status st = ValidateTlsOptions(options_.tls); !st.ok()) return st;
  if (options_.tls.enabled()) {
    auto ctx = tls::MakeServerContext(ToServerConfig(options_.tls));
    if (!ctx.ok()) return ctx.status();
    tls_ = *std::move(ctx);
  }
  const std::optional<net::HostPort> parsed = net::ParseHostPort(options_.address);
  if (!parsed) return absl::InvalidArgumentError(absl::StrCat("bad --tcp-address ", options_.address));
  const std::string& host = parsed->host;
  const int port = parsed->port;
  int threads = options_.threads;
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < threads; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*ios_.back()));
  }
  error_code ec;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), static_cast<uint16_t>(port));
  } else {
    tcp::resolver resolver(*ios_[0]);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", host, ": ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor_ = std::make_unique<tcp::acceptor>(*ios_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.address, ": ", ec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  started_ = true;
  Accept();
  for (auto& io : ios_) {
    threads_.emplace_back([ctx = io.get()] { ctx->run(); });
  }
  return absl::OkStatus();
}

void V2Server::Impl::Accept() {
  asio::io_context& io = *ios_[next_io_++ % ios_.size()];
  acceptor_->async_accept(io, [this, &io](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::shared_ptr<Connection> conn;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        const uint64_t id = next_id_++;
        conn = std::make_shared<Connection>(this, io, std::move(socket), id);
        connections_[id] = conn;
      }
      // Start on the connection's own thread.
      asio::post(io, [conn] { conn->Start(); });
    }
    Accept();
  });
}

void V2Server::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  asio::post(*ios_[0], [this] {
    error_code ec;
    acceptor_->close(ec);
  });
  for (auto& c : open) c->PostClose();
  open.clear();
  auth_pool_.join();
  for (auto& g : guards_) g.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    // Late durability answers are dropped from now on: their connections are closed.
    absl::MutexLock lock(&post_gate_->mu);
    post_gate_->open = false;
  }
  // The threads are gone: close here whatever never ran its close, so the engine keeps
  // no pointer to a dead sink.
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->Close();
}

std::vector<V2ClientInfo> V2Server::Impl::Clients() const {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  std::vector<V2ClientInfo> out;
  out.reserve(open.size());
  for (const auto& c : open) out.push_back(c->Snapshot());
  return out;
}

}  // namespace nsq::legacy
