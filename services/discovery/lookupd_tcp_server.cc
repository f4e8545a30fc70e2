#include "services/discovery/lookupd_tcp_server.h"

#include <array>
#include <atomic>
#include <thread>

#include "common/net/host_port.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/write.hpp"
#include "spdlog/spdlog.h"

namespace nsq::discovery {

namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {

std::string FormatEndpoint(const tcp::endpoint& ep) {
  return nsq::net::JoinHostPort(ep.address().to_string(), ep.port());
}

}  // namespace

class Connection;

// Everything runs on the single I/O thread, except Start/Stop and the connection
// registry (guarded by mu_).
class LookupdTcpServer::Impl {
 public:
  Impl(Registry* registry, const LookupdInfo* info, std::string address)
      : registry_(registry), info_(info), address_(std::move(address)), acceptor_(ioc_) {}

  absl::Status Start();
  void Stop();
  int port() const { return port_; }

  void Add(uint64_t id, std::weak_ptr<Connection> c) {
    absl::MutexLock lock(&mu_);
    connections_.emplace(id, std::move(c));
  }
  void Remove(uint64_t id) {
    absl::MutexLock lock(&mu_);
    connections_.erase(id);
  }
  int64_t count() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int64_t>(connections_.size());
  }
  Registry* registry() const { return registry_; }
  const LookupdInfo* info() const { return info_; }

 private:
  void DoAccept();

  Registry* const registry_;
  const LookupdInfo* const info_;
  const std::string address_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  uint64_t next_id_ = 0;
  int port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

// One V1 connection: read, feed the session, write what it answers; close after a fatal
// error once the error is written.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, LookupdTcpServer::Impl* server, uint64_t id)
      : socket_(std::move(socket)),
        server_(server),
        id_(id),
        session_(server->registry(), server->info(), RemoteAddress()) {}
  ~Connection() { server_->Remove(id_); }

  void Start() {
    spdlog::info("TCP: new client({})", session_.remote_address());
    Read();
  }
  void Close() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  std::string RemoteAddress() {
    boost::system::error_code ec;
    tcp::endpoint ep = socket_.remote_endpoint(ec);
    return ec ? std::string("unknown") : FormatEndpoint(ep);
  }

  void Read() {
    socket_.async_read_some(net::buffer(buf_), [self = shared_from_this()](
                                                   boost::system::error_code ec, size_t n) {
      self->OnRead(ec, n);
    });
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    if (ec) {
      session_.Close();
      Close();
      return;
    }
    out_.clear();
    const bool keep_open = session_.Consume(absl::string_view(buf_.data(), n), &out_);
    if (out_.empty()) {
      if (keep_open) return Read();
      session_.Close();
      return Close();
    }
    net::async_write(socket_, net::buffer(out_),
                     [self = shared_from_this(), keep_open](boost::system::error_code ec, size_t) {
                       if (ec || !keep_open) {
                         self->session_.Close();
                         self->Close();
                         return;
                       }
                       self->Read();
                     });
  }

  tcp::socket socket_;
  LookupdTcpServer::Impl* const server_;
  const uint64_t id_;
  LookupdV1Session session_;
  std::array<char, 16 * 1024> buf_;
  std::string out_;
};

absl::Status LookupdTcpServer::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  const std::optional<nsq::net::HostPort> parsed = nsq::net::ParseHostPort(address_);
  if (!parsed) return absl::InvalidArgumentError(absl::StrCat("bad address '", address_, "'"));
  const std::string& host = parsed->host;
  const int port = parsed->port;
  boost::system::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, std::to_string(port),
                                  tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::UnavailableError(absl::StrCat("cannot resolve '", host, "': ", ec.message()));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.close();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address_, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  started_ = true;
  DoAccept();
  thread_ = std::thread([this] { ioc_.run(); });
  return absl::OkStatus();
}

void LookupdTcpServer::Impl::DoAccept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      const uint64_t id = next_id_++;
      auto c = std::make_shared<Connection>(std::move(socket), this, id);
      Add(id, c);
      c->Start();
    }
    DoAccept();
  });
}

void LookupdTcpServer::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  net::post(ioc_, [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    std::vector<std::shared_ptr<Connection>> open;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [id, weak] : connections_) {
        if (auto c = weak.lock()) open.push_back(std::move(c));
      }
    }
    for (auto& c : open) c->Close();
  });
  // Every handler now completes (with an error) and nothing new starts: run() returns.
  if (thread_.joinable()) thread_.join();
}

LookupdTcpServer::LookupdTcpServer(Registry* registry, const LookupdInfo* info,
                                   std::string address)
    : impl_(std::make_unique<Impl>(registry, info, std::move(address))) {}

LookupdTcpServer::~LookupdTcpServer() { Stop(); }

absl::Status LookupdTcpServer::Start() { return impl_->Start(); }
int LookupdTcpServer::port() const { return impl_->port(); }
void LookupdTcpServer::Stop() { impl_->Stop(); }
int64_t LookupdTcpServer::connection_count() const { return impl_->count(); }

}  // namespace nsq::discovery
