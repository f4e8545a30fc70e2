#include "common/http/client.h"

#include <chrono>
#include <cstdint>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/connect.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"

namespace nsq::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string h = address.substr(0, colon);
  std::string p = address.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  }
  uint32_t v = 0;
  if (p.empty() || !absl::SimpleAtoi(p, &v) || v == 0 || v > 65535) return false;
  *host = std::move(h);
  *port = std::move(p);
  return true;
}

}  // namespace

std::optional<std::string> ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(Sv(k), Sv(name))) return v;
  }
  return std::nullopt;
}

absl::StatusOr<ClientResponse> HttpRequest(
    std::string method, std::string host_port, std::string target, std::string body,
    std::vector<std::pair<std::string, std::string>> headers, absl::Duration timeout) {
  std::string host;
  std::string port;
  if (!SplitHostPort(host_port, &host, &port)) {
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
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    const auto endpoints = resolver.resolve(host, port, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot resolve \"", host, "\": ", ec.message()));
    }

    beast::tcp_stream stream(ioc);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    if (verb == bhttp::verb::head) parser.skip(true);

    beast::error_code connect_ec;
    beast::error_code read_ec;
    bool read_done = false;
    // One deadline for the whole exchange: tcp_stream closes the socket when it passes.
    stream.expires_after(absl::ToChronoNanoseconds(timeout));
    stream.async_connect(endpoints, [&](beast::error_code cec, const tcp::endpoint&) {
      if (cec) {
        connect_ec = cec;
        return;
      }
      // Read and write at once; a write error (peer answered early and closed) is
      // ignored in favour of whatever the read gets.
      bhttp::async_write(stream, req, [](beast::error_code, size_t) {});
      bhttp::async_read(stream, buffer, parser, [&](beast::error_code rec, size_t) {
        read_ec = rec;
        read_done = true;
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);  // Cancels a write still in flight.
      });
    });
    ioc.run();

    if (connect_ec) {
      if (connect_ec == beast::error::timeout) {
        return absl::DeadlineExceededError(
            absl::StrCat("connect to ", host_port, ": timed out"));
      }
      return absl::UnavailableError(
          absl::StrCat("connect to ", host_port, ": ", connect_ec.message()));
    }
    if (!read_done || read_ec == beast::error::timeout) {
      return absl::DeadlineExceededError(absl::StrCat(method, " http://", host_port, target,
                                                      ": timed out waiting for response"));
    }
    if (read_ec) {
      const bool parse_error =
          read_ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
          read_ec != bhttp::error::end_of_stream && read_ec != bhttp::error::partial_message;
      const std::string message = absl::StrCat(method, " http://", host_port, target, ": ",
                                               read_ec.message());
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
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("http request failed: ", e.what()));
  }
}

}  // namespace nsq::http
