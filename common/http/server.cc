#include "common/http/server.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <thread>
#include <type_traits>

#include "common/net/host_port.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "common/tls/server_context.h"

namespace nsq::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

// Debian's abseil has its own absl::string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
absl::string_view BeastSv(beast::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr uint32_t kHeaderLimit = 64 * 1024;
// After an error response the peer may still be sending (e.g. an oversized body). Reading
// and discarding a little of it for a short while before closing lets the peer read our
// response instead of getting a reset first.
constexpr size_t kMaxLingerBytes = 1024 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  return nsq::net::JoinHostPort(ep.address().to_string(), ep.port());
}

Response TextResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

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

// What the registry of open connections needs from one: Stop() closes them through it.
class Session {
 public:
  virtual ~Session() = default;
  virtual void Close() = 0;
};

// Owns the routing table, the listener, the I/O threads and the registry of open
// connections. Routes are guarded by `routes_mu_`; the registry by `sessions_mu_`; the
// lifecycle fields are touched only by the owner thread (Start/Stop) and, for the
// acceptor, by the accept handler, which never runs concurrently with Start/Stop's use.
class Server::Impl {
 public:
  explicit Impl(Options options)
      : options_(std::move(options)),
        not_found_(std::make_shared<const Handler>(NotFound)),
        acceptor_(ioc_),
        accept_retry_timer_(ioc_) {}

  ~Impl() { Stop(); }

  void Handle(std::string path, Handler handler) {
    absl::MutexLock lock(&routes_mu_);
    exact_[std::move(path)] = std::make_shared<const Handler>(std::move(handler));
  }

  void HandlePrefix(std::string prefix, Handler handler) {
    absl::MutexLock lock(&routes_mu_);
    prefix_[std::move(prefix)] = std::make_shared<const Handler>(std::move(handler));
  }

  void SetNotFound(Handler handler) {
    absl::MutexLock lock(&routes_mu_);
    not_found_ = std::make_shared<const Handler>(std::move(handler));
  }

  std::shared_ptr<const Handler> Lookup(const std::string& path) const {
    absl::ReaderMutexLock lock(&routes_mu_);
    if (auto it = exact_.find(path); it != exact_.end()) return it->second;
    // std::map is sorted, so walking backwards from upper_bound meets longer matching
    // prefixes of `path` before shorter ones.
    for (auto it = prefix_.upper_bound(path); it != prefix_.begin();) {
      --it;
      if (absl::StartsWith(path, it->first)) return it->second;
    }
    return not_found_;
  }

  absl::Status Start();
  void Stop();

  void Register(uint64_t id, std::weak_ptr<Session> session) {
    absl::MutexLock lock(&sessions_mu_);
    sessions_.emplace(id, std::move(session));
  }

  void Unregister(uint64_t id) {
    absl::MutexLock lock(&sessions_mu_);
    sessions_.erase(id);
  }

  const Options& options() const { return options_; }
  // Set by Stop(); completion handlers that see it close their connection and return.
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  int port() const { return bound_port_; }
  const std::string& address() const { return bound_address_; }
  // Set by Start() when Options::tls is; then every connection is TLS.
  ssl::context* tls_context() const { return tls_context_.get(); }

 private:
  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);

  const Options options_;

  mutable absl::Mutex routes_mu_;
  std::map<std::string, std::shared_ptr<const Handler>> exact_ ABSL_GUARDED_BY(routes_mu_);
  std::map<std::string, std::shared_ptr<const Handler>> prefix_ ABSL_GUARDED_BY(routes_mu_);
  std::shared_ptr<const Handler> not_found_ ABSL_GUARDED_BY(routes_mu_);

  // Declared before ioc_: sessions still referenced by queued handlers are destroyed
  // with ioc_ and unregister themselves.
  absl::Mutex sessions_mu_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Session>> sessions_
      ABSL_GUARDED_BY(sessions_mu_);

  std::unique_ptr<ssl::context> tls_context_;  // Outlives the sessions (declared before ioc_).
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_timer_;
  uint64_t next_session_id_ = 0;  // Accept handler only.
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  int bound_port_ = 0;
  std::string bound_address_;
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection over `Stream` (PlainStream or TlsStream). All its handlers run on its
// strand; Close() is called by Stop() only after every I/O thread has been joined.
template <class Stream>
class HttpSession : public Session, public std::enable_shared_from_this<HttpSession<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `stream_args` follow the socket into Stream's constructor (the TLS context).
  template <class... StreamArgs>
  HttpSession(Server::Impl* server, uint64_t id, tcp::socket&& socket,
              StreamArgs&... stream_args)
      : stream_(std::move(socket), stream_args...), server_(server), id_(id) {
    beast::error_code ec;
    const tcp::endpoint remote = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_address_ = FormatEndpoint(remote);
  }

  ~HttpSession() override { server_->Unregister(id_); }

  void Start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::Begin, this->shared_from_this()));
  }

  void Close() override {
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    Tcp().socket().close(ec);
  }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    if constexpr (kTls) {
      if (server_->stopping()) return Close();
      Tcp().expires_after(ToChrono(server_->options().io_timeout));
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&HttpSession::OnHandshake, this->shared_from_this()));
    } else {
      ReadHeader();
    }
  }

  // A failed handshake (plaintext, no or a bad client certificate) gets no answer.
  void OnHandshake(beast::error_code ec) {
    if (ec || server_->stopping()) return Close();
    ReadHeader();
  }

  void ReadHeader() {
    if (server_->stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(static_cast<uint64_t>(server_->options().max_body_bytes));
    Tcp().expires_after(ToChrono(server_->options().io_timeout));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&HttpSession::OnHeader, this->shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t /*bytes*/) {
    if (server_->stopping()) return Close();
    if (ec) return OnReadError(ec);
    const auto& req = parser_->get();
    if (req.version() >= 11 &&
        absl::EqualsIgnoreCase(BeastSv(req[bhttp::field::expect]), "100-continue") &&
        !parser_->is_done()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       beast::bind_front_handler(&HttpSession::OnContinueSent,
                                                 this->shared_from_this()));
      return;
    }
    ReadBody();
  }

  void OnContinueSent(beast::error_code ec, size_t /*bytes*/) {
    if (ec || server_->stopping()) return Close();
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&HttpSession::OnBody, this->shared_from_this()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == net::error::operation_aborted) return;
    if (ec == bhttp::error::body_limit) {
      return SendErrorAndClose(413, "BODY_TOO_BIG");
    }
    if (ec == bhttp::error::header_limit) {
      return SendErrorAndClose(431, "HEADER_TOO_LARGE");
    }
    // A peer that closed, timed out or reset mid-request is not answered.
    static const boost::system::error_category& kHttpCategory =
        bhttp::make_error_code(bhttp::error::bad_target).category();
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == beast::error::timeout || ec.category() != kHttpCategory) {
      return Close();
    }
    SendErrorAndClose(400, "BAD_REQUEST");
  }

  void OnBody(beast::error_code ec, size_t /*bytes*/) {
    if (server_->stopping()) return Close();
    if (ec) return OnReadError(ec);
    auto& breq = parser_->get();

    Request req;
    req.method = std::string(breq.method_string());
    req.target = std::string(breq.target());
    req.version = static_cast<int>(breq.version());
    req.remote_address = remote_address_;
    req.tls = kTls;
    for (const auto& field : breq) {
      req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    req.body = std::move(breq.body());

    std::string_view target = req.target;
    if (absl::StartsWith(Sv(target), "http://") || absl::StartsWith(Sv(target), "https://")) {
      // Absolute form: drop scheme and authority.
      const size_t slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || (target[0] != '/' && target != "*")) {
      return SendErrorAndClose(400, "BAD_REQUEST");
    }
    std::string_view raw_path = target;
    if (size_t q = target.find('?'); q != std::string_view::npos) {
      raw_path = target.substr(0, q);
      req.raw_query = std::string(target.substr(q + 1));
    }
    absl::StatusOr<std::string> path = PercentDecode(raw_path, /*plus_as_space=*/false);
    if (!path.ok()) return SendErrorAndClose(400, "BAD_REQUEST");
    req.path = std::move(*path);
    req.query_status = ParseQuery(req.raw_query, &req.query);

    const bool keep_alive = breq.keep_alive();
    const bool head = breq.method() == bhttp::verb::head;
    parser_.reset();

    Response resp;
    try {
      resp = (*server_->Lookup(req.path))(req);
    } catch (...) {
      resp = TextResponse(500, "INTERNAL_ERROR");
    }
    Send(std::move(resp), req.version, keep_alive, head);
  }

  void SendErrorAndClose(int status, std::string body) {
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    parser_.reset();
    Send(TextResponse(status, std::move(body)), static_cast<int>(version),
         /*keep_alive=*/false, /*head=*/false);
  }

  void Send(Response resp, int version, bool keep_alive, bool head) {
    // 1xx is not a final response; anything outside HTTP's range is a handler bug.
    if (resp.status < 200 || resp.status > 999) resp = TextResponse(500, "INTERNAL_ERROR");
    std::unique_ptr<bhttp::response<bhttp::string_body>> res;
    try {
      res = BuildResponse(std::move(resp), version, keep_alive, head);
    } catch (...) {  // Beast rejects some fields by throwing.
      res = BuildResponse(TextResponse(500, "INTERNAL_ERROR"), version, keep_alive, head);
    }
    res_ = std::move(res);
    Tcp().expires_after(ToChrono(server_->options().io_timeout));
    bhttp::async_write(stream_, *res_,
                       beast::bind_front_handler(&HttpSession::OnWrite, this->shared_from_this(),
                                                 !keep_alive));
  }

  std::unique_ptr<bhttp::response<bhttp::string_body>> BuildResponse(Response resp,
                                                                     int version,
                                                                     bool keep_alive,
                                                                     bool head) {
    auto res = std::make_unique<bhttp::response<bhttp::string_body>>();
    res->version(version == 10 ? 10 : 11);
    res->result(static_cast<unsigned>(resp.status));
    if (!server_->options().server_name.empty()) {
      res->set(bhttp::field::server, server_->options().server_name);
    }
    if (!resp.content_type.empty()) res->set(bhttp::field::content_type, resp.content_type);
    for (const auto& [name, value] : resp.headers) {
      // Framing is ours; a handler cannot override it.
      if (absl::EqualsIgnoreCase(Sv(name), "content-length") ||
          absl::EqualsIgnoreCase(Sv(name), "transfer-encoding") ||
          absl::EqualsIgnoreCase(Sv(name), "connection")) {
        continue;
      }
      // A CR or LF would let a handler that echoes input split the response.
      if (name.empty() || name.find_first_of("\r\n:") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        continue;
      }
      res->insert(name, value);
    }
    // These statuses must not carry a body (Beast throws if they do).
    if (resp.status == 204 || resp.status == 304) resp.body.clear();
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    if (head) res->body().clear();  // Keeps the Content-Length of the GET response.
    return res;
  }

  void OnWrite(bool close, beast::error_code ec, size_t /*bytes*/) {
    res_.reset();
    if (ec || server_->stopping()) return Close();
    if (close) return LingeringClose();
    ReadHeader();
  }

  void LingeringClose() {
    if constexpr (kTls) {
      // close_notify, then wait (briefly) for the peer's, reading past what it still sends.
      Tcp().expires_after(kLingerTime);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        self->Close();
      });
      return;
    }
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    Tcp().expires_after(kLingerTime);
    Drain();
  }

  void Drain() {
    if (!drain_buffer_) drain_buffer_ = std::make_unique<char[]>(kDrainChunk);
    Tcp().async_read_some(
        net::buffer(drain_buffer_.get(), kDrainChunk),
        beast::bind_front_handler(&HttpSession::OnDrain, this->shared_from_this()));
  }

  void OnDrain(beast::error_code ec, size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ >= kMaxLingerBytes || server_->stopping()) return Close();
    Drain();
  }

  Stream stream_;
  Server::Impl* const server_;
  const uint64_t id_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::unique_ptr<bhttp::response<bhttp::string_body>> res_;
  static constexpr size_t kDrainChunk = 16 * 1024;
  std::unique_ptr<char[]> drain_buffer_;  // Allocated only when lingering.
  size_t drained_ = 0;
};

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
  if (tls_context_) {
    auto session =
        std::make_shared<HttpSession<TlsStream>>(this, id, std::move(socket), *tls_context_);
    Register(id, session);
    session->Start();
  } else {
    auto session = std::make_shared<HttpSession<PlainStream>>(this, id, std::move(socket));
    Register(id, session);
    session->Start();
  }
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
void Server::HandlePrefix(std::string prefix, Handler handler) {
  impl_->HandlePrefix(std::move(prefix), std::move(handler));
}
void Server::SetNotFound(Handler handler) { impl_->SetNotFound(std::move(handler)); }
absl::Status Server::Start() { return impl_->Start(); }
int Server::port() const { return impl_->port(); }
std::string Server::address() const { return impl_->address(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace nsq::http
