#include "common/http/client.h"

#include <chrono>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <openssl/ssl.h>

#include "common/net/host_port.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/ssl.hpp"

namespace nsq::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::optional<std::string> ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(Sv(k), Sv(name))) return v;
  }
  return std::nullopt;
}

namespace {

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One exchange over a fresh `stream`: connect (and, for TLS, handshake), then write the
// request while reading the response, all under one deadline.
template <class Stream>
absl::StatusOr<ClientResponse> Exchange(net::io_context& ioc, Stream& stream,
                                        const std::string& method,
                                        const std::string& host_port,
                                        const std::string& host, const std::string& port,
                                        const std::string& target,
                                        bhttp::request<bhttp::string_body>& req,
                                        absl::Duration timeout) {
  constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  const char* scheme = kTls ? " https://" : " http://";
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot resolve \"", host, "\": ", ec.message()));
  }
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (req.method() == bhttp::verb::head) parser.skip(true);

  beast::error_code connect_ec;
  beast::error_code handshake_ec;
  beast::error_code read_ec;
  bool read_done = false;
  auto exchange = [&] {
    // Read and write at once; a write error (peer answered early and closed) is
    // ignored in favour of whatever the read gets.
    bhttp::async_write(stream, req, [](beast::error_code, size_t) {});
    bhttp::async_read(stream, buffer, parser, [&](beast::error_code rec, size_t) {
      read_ec = rec;
      read_done = true;
      beast::error_code ignored;
      tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      tcp_stream.socket().close(ignored);  // Cancels a write still in flight.
    });
  };
  // One deadline for the whole exchange: tcp_stream closes the socket when it passes.
  tcp_stream.expires_after(absl::ToChronoNanoseconds(timeout));
  tcp_stream.async_connect(endpoints, [&](beast::error_code cec, const tcp::endpoint&) {
    if (cec) {
      connect_ec = cec;
      return;
    }
    if constexpr (kTls) {
      stream.async_handshake(ssl::stream_base::client, [&](beast::error_code hec) {
        if (hec) {
          handshake_ec = hec;
          return;
        }
        exchange();
      });
    } else {
      exchange();
    }
  });
  ioc.run();

  if (connect_ec) {
    if (connect_ec == beast::error::timeout) {
      return absl::DeadlineExceededError(absl::StrCat("connect to ", host_port, ": timed out"));
    }
    return absl::UnavailableError(
        absl::StrCat("connect to ", host_port, ": ", connect_ec.message()));
  }
  if (handshake_ec) {
    if (handshake_ec == beast::error::timeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("TLS handshake with ", host_port, ": timed out"));
    }
    return absl::UnavailableError(
        absl::StrCat("TLS handshake with ", host_port, ": ", handshake_ec.message()));
  }
  if (!read_done || read_ec == beast::error::timeout) {
    return absl::DeadlineExceededError(absl::StrCat(method, scheme, host_port, target,
                                                    ": timed out waiting for response"));
  }
  if (read_ec) {
    const bool parse_error =
        read_ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
        read_ec != bhttp::error::end_of_stream && read_ec != bhttp::error::partial_message;
    const std::string message =
        absl::StrCat(method, scheme, host_port, target, ": ", read_ec.message());
    if (parse_error) return absl::InternalError(message);
    return absl::UnavailableError(message);
  }

  auto& res = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(res.body());
  return out;
}

absl::StatusOr<ClientResponse> Request(
    const ClientTls* tls, std::string method, std::string host_port, std::string target,
    std::string body, std::vector<std::pair<std::string, std::string>> headers,
    absl::Duration timeout) {
  // A client needs somewhere to go: a host and a non-zero port.
  const std::optional<nsq::net::HostPort> parsed = nsq::net::ParseHostPort(host_port);
  std::string host = parsed ? parsed->host : "";
  const std::string port = parsed ? std::to_string(parsed->port) : "";
  if (!parsed || host.empty() || parsed->port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid address \"", host_port, "\" (want host:port)"));
  }
  if (method.empty() || method.find_first_of(" \r\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid method \"", method, "\""));
  }
  if (target.empty() || target.find_first_of(" \r\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid target \"", target, "\""));
  }
  try {
    bhttp::request<bhttp::string_body> req;
    const bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) {
      req.method_string(method);
    } else {
      req.method(verb);
    }
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_port);
    req.set(bhttp::field::user_agent, "nsq-cpp");
    for (const auto& [name, value] : headers) req.insert(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    req.keep_alive(false);

    net::io_context ioc;
    if (tls == nullptr) {
      beast::tcp_stream stream(ioc);
      return Exchange(ioc, stream, method, host_port, host, port, target, req, timeout);
    }
    ssl::context ctx(ssl::context::tls_client);
    beast::error_code ec;
    if (!tls->ca_file.empty()) {
      ctx.load_verify_file(tls->ca_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("CA file ", tls->ca_file, ": ", ec.message()));
      }
      ctx.set_verify_mode(ssl::verify_peer);
    } else {
      ctx.set_verify_mode(ssl::verify_none);
    }
    if (!tls->cert_file.empty()) {
      ctx.use_certificate_chain_file(tls->cert_file, ec);
      if (!ec) ctx.use_private_key_file(tls->key_file, ssl::context::pem, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("client certificate ", tls->cert_file, ": ", ec.message()));
      }
    }
    TlsStream stream(ioc, ctx);
    if (!tls->ca_file.empty()) {
      stream.set_verify_callback(ssl::host_name_verification(host));
    }
    beast::error_code ip_ec;
    net::ip::make_address(host, ip_ec);
    if (ip_ec) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());  // SNI
    return Exchange(ioc, stream, method, host_port, host, port, target, req, timeout);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("http request failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<ClientResponse> HttpRequest(
    std::string method, std::string host_port, std::string target, std::string body,
    std::vector<std::pair<std::string, std::string>> headers, absl::Duration timeout) {
  return Request(nullptr, std::move(method), std::move(host_port), std::move(target),
                 std::move(body), std::move(headers), timeout);
}

absl::StatusOr<ClientResponse> HttpsRequest(
    const ClientTls& tls, std::string method, std::string host_port, std::string target,
    std::string body, std::vector<std::pair<std::string, std::string>> headers,
    absl::Duration timeout) {
  return Request(&tls, std::move(method), std::move(host_port), std::move(target),
                 std::move(body), std::move(headers), timeout);
}

}  // namespace nsq::http
