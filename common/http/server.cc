#include "common/http/server.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/strand.hpp"
#include "common/http/http_session.h"
#include "common/http/server_impl.h"
#include "common/net/host_port.h"
#include "common/tls/server_context.h"

namespace nsq::http {
namespace {

// Debian's abseil has its own absl::string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

Response NotFound(const Request&) { return TextResponse(404, "NOT_FOUND"); }

}  // namespace

std::optional<std::string> Request::QueryValue(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Request::QueryValues(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [k, v] : query) {
    if (k == name) values.push_back(v);
  }
  return values;
}

std::optional<std::string> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(Sv(k), Sv(name))) return v;
  }
  return std::nullopt;
}

Server::Impl::Impl(Options options)
    : options_(std::move(options)),
      not_found_(Wrap(NotFound)),
      acceptor_(ioc_),
      accept_retry_timer_(ioc_) {}

absl::Status Server::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("http server already started");
  if (options_.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http server needs at least 1 thread, got ", options_.threads));
  }
  if (options_.tls.has_value() && !tls_context_) {
    auto ctx = tls::MakeServerContext(*options_.tls);
    if (!ctx.ok()) return ctx.status();
    tls_context_ = *std::move(ctx);
  }
  const std::optional<nsq::net::HostPort> parsed = nsq::net::ParseHostPort(options_.address);
  if (!parsed) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid listen address \"", options_.address, "\" (want host:port)"));
  }
  const std::string& host = parsed->host;
  const uint16_t port = parsed->port;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(net::ip::address_v4::any(), port);
  } else {
    beast::error_code ec;
    const net::ip::address ip = net::ip::make_address(host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(ip, port);
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec || results.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid listen address \"", options_.address, "\": cannot resolve \"", host,
            "\": ", ec ? ec.message() : "no addresses"));
      }
      endpoint = results.begin()->endpoint();
      for (const auto& entry : results) {  // Prefer IPv4, as "localhost" usually means.
        if (entry.endpoint().address().is_v4()) {
          endpoint = entry.endpoint();
          break;
        }
      }
    }
  }

  beast::error_code ec;
  auto fail = [&](std::string_view what) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(absl::StrCat("http server cannot listen on ",
                                               options_.address, ": ", Sv(what), ": ",
                                               ec.message()));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("setsockopt");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const tcp::endpoint bound = acceptor_.local_endpoint(ec);
  if (ec) return fail("getsockname");
  bound_port_ = bound.port();
  bound_address_ = FormatEndpoint(bound);

  started_ = true;
  DoAccept();
  threads_.reserve(static_cast<size_t>(options_.threads));
  for (int i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] {
      auto guard = net::make_work_guard(ioc_);
      for (;;) {
        try {
          ioc_.run();  // Returns once Stop() stops ioc_.
          return;
        } catch (const std::exception& e) {  // Keep serving; never let it escape.
          std::fprintf(stderr, "nsq::http::Server: exception in I/O thread: %s\n", e.what());
        }
      }
    });
  }
  return absl::OkStatus();
}

void Server::Impl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Impl::OnAccept, this));
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || stopping() || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors or similar: back off instead of spinning on the error.
    accept_retry_timer_.expires_after(std::chrono::milliseconds(50));
    accept_retry_timer_.async_wait([this](beast::error_code timer_ec) {
      if (!timer_ec && !stopping()) DoAccept();
    });
    return;
  }
  const uint64_t id = next_session_id_++;
  std::shared_ptr<Session> session = NewSession(this, id, std::move(socket));
  Register(id, session);
  session->Start();
  DoAccept();
}

void Server::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  for (const std::thread& t : threads_) {
    if (t.get_id() == std::this_thread::get_id()) {
      std::fprintf(stderr, "nsq::http::Server::Stop called from a handler\n");
      std::abort();
    }
  }
  stopping_.store(true, std::memory_order_release);
  {
    absl::MutexLock lock(&reply_gate_->mu);
    reply_gate_->open = false;  // later answers of async handlers are dropped
  }
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // No I/O thread runs any more, so the sockets can be closed from here.
  beast::error_code ec;
  acceptor_.close(ec);
  accept_retry_timer_.cancel();
  std::vector<std::shared_ptr<Session>> open;
  {
    absl::MutexLock lock(&sessions_mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (auto& session : open) session->Close();
  open.clear();
  // Run what is already queued (including a connection accepted but not yet handed to
  // OnAccept, and the aborted operations of the sockets just closed): every handler sees
  // stopping() and only closes, so this ends quickly and calls no user handler.
  ioc_.restart();
  ioc_.poll();
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Server::~Server() = default;
void Server::Handle(std::string path, Handler handler) {
  impl_->Handle(std::move(path), std::move(handler));
}
void Server::HandleAsync(std::string path, AsyncHandler handler) {
  impl_->HandleAsync(std::move(path), std::move(handler));
}
void Server::HandlePrefix(std::string prefix, Handler handler) {
  impl_->HandlePrefix(std::move(prefix), std::move(handler));
}
void Server::SetNotFound(Handler handler) { impl_->SetNotFound(std::move(handler)); }
absl::Status Server::Start() { return impl_->Start(); }
int Server::port() const { return impl_->port(); }
std::string Server::address() const { return impl_->address(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace nsq::http
