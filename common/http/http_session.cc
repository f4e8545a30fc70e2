// The per-connection protocol of http::Server: TLS handshake, header and body reading
// within the limits, Expect: 100-continue, routing to the handler, keep-alive and
// HTTP/1.0, and the linger after an error response.

#include "common/http/http_session.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"

namespace nsq::http {
namespace {

namespace bhttp = boost::beast::http;

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

// The session whose handler runs on this thread: its reply is sent inline.
thread_local const void* t_in_handler = nullptr;

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

  void Start() override {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::Begin, this->shared_from_this()));
  }

  void Close() override {
    // Released when Close returns: the caller may hold no other reference.
    std::shared_ptr<HttpSession> keep = std::move(awaiting_reply_);
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

    // Nothing is read until the handler replies (now or from another thread later):
    // one request at a time, so answers go out in order and the unsent output of a
    // connection is one response. The session keeps itself alive meanwhile (the reply
    // holds a weak pointer only, so the last reference never goes on a foreign thread).
    awaiting_reply_ = this->shared_from_this();
    Reply reply = [weak = this->weak_from_this(), gate = server_->reply_gate(),
                   replied = std::make_shared<std::atomic<bool>>(false),
                   version = req.version, keep_alive, head](Response resp) {
      if (replied->exchange(true)) return;
      std::shared_ptr<HttpSession> self;
      auto answer = [version, keep_alive, head](std::shared_ptr<HttpSession> self,
                                                Response resp) {
        self->awaiting_reply_.reset();
        if (self->server_->stopping()) return self->Close();
        self->Send(std::move(resp), version, keep_alive, head);
      };
      // During the handler, on the connection's strand: answer right here.
      self = weak.lock();
      if (self && t_in_handler == self.get()) {
        return answer(std::move(self), std::move(resp));
      }
      self.reset();
      absl::MutexLock lock(&gate->mu);
      if (!gate->open) return;
      self = weak.lock();
      if (!self) return;
      auto executor = self->stream_.get_executor();
      // The reference moves into the io_context's queue.
      net::post(executor, [self = std::move(self), resp = std::move(resp), answer]() mutable {
        answer(std::move(self), std::move(resp));
      });
    };
    t_in_handler = this;
    try {
      (*server_->Lookup(req.path))(req, reply);
    } catch (...) {
      reply(TextResponse(500, "INTERNAL_ERROR"));  // ignored if it had replied
    }
    t_in_handler = nullptr;
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
    Tcp().expires_after(ToChrono(server_->options().write_timeout));
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
  std::shared_ptr<HttpSession> awaiting_reply_;  // set while a handler has not replied
  static constexpr size_t kDrainChunk = 16 * 1024;
  std::unique_ptr<char[]> drain_buffer_;  // Allocated only when lingering.
  size_t drained_ = 0;
};

}  // namespace

std::shared_ptr<Session> NewSession(Server::Impl* server, uint64_t id, tcp::socket socket) {
  if (ssl::context* tls = server->tls_context()) {
    return std::make_shared<HttpSession<TlsStream>>(server, id, std::move(socket), *tls);
  }
  return std::make_shared<HttpSession<PlainStream>>(server, id, std::move(socket));
}

}  // namespace nsq::http
