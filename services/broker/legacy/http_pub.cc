#include "services/broker/legacy/http_pub.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/broker/auth/auth.h"
#include "services/broker/legacy/http_v1.h"

namespace nsq::legacy {
namespace {

int32_t ReadI32(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

// nsqd's readMPUB over an HTTP body: [4B count]([4B size][data])*count. The error code
// is the TCP one without "E_" (BAD_BODY, BAD_MESSAGE).
std::optional<std::string> ReadBinaryMpub(std::string_view body, int64_t max_msg,
                                          int64_t max_body,
                                          std::vector<std::string_view>* out) {
  if (body.size() < 4) return "BAD_BODY";
  const int32_t count = ReadI32(body, 0);
  if (count <= 0 || count > (max_body - 4) / 5) return "BAD_BODY";
  size_t pos = 4;
  for (int32_t i = 0; i < count; ++i) {
    if (body.size() - pos < 4) return "BAD_MESSAGE";
    const int32_t size = ReadI32(body, pos);
    if (size <= 0 || size > max_msg) return "BAD_MESSAGE";
    pos += 4;
    if (body.size() - pos < static_cast<size_t>(size)) return "BAD_MESSAGE";
    out->push_back(body.substr(pos, static_cast<size_t>(size)));
    pos += static_cast<size_t>(size);
  }
  return std::nullopt;
}

// The nsq-cpp addition: with auth on, publishing over HTTP needs a bearer secret.
std::optional<http::Response> CheckPublishAuth(const HttpApiOptions& options,
                                               const http::Request& req,
                                               const std::string& topic, const Clock* clock) {
  if (options.auth.addresses.empty()) return std::nullopt;
  std::optional<std::string> header = req.Header("Authorization");
  if (!header || !absl::StartsWith(*header, "Bearer ")) return V1Error(401, "AUTH_REQUIRED");
  const std::string secret = header->substr(7);
  std::string ip = req.remote_address;
  if (const size_t colon = ip.rfind(':'); colon != std::string::npos) ip = ip.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  absl::StatusOr<auth::AuthState> state = auth::QueryAuthServers(options.auth, "", ip, secret, false, clock);
  if (!state.ok()) return V1Error(403, "AUTH_FAILED");
  if (!state->IsAllowed(topic, "")) return V1Error(403, "UNAUTHORIZED");
  return std::nullopt;
}

// Publishes and replies OK once durable; nsqd answers every publish failure (its
// topic exiting) with 503 EXITING. A publish refused by a channel's max_depth is 503 too,
// with the reason ("E_PUB_FAILED channel t:c is full (max_depth N)").
void PublishAndReply(broker::Engine* engine, std::string_view topic,
                     absl::Span<const std::string_view> bodies, absl::Duration defer,
                     const http::Reply& reply) {
  engine->PublishAsync(topic, bodies, defer, nullptr,
                       [reply](absl::Status st) {
                         if (st.ok()) return reply(V1Text("OK"));
                         // Beyond NSQ: a channel at max_depth under reject_new.
                         if (absl::IsResourceExhausted(st)) {
                           return reply(V1Error(503, absl::StrCat("E_PUB_FAILED ", st.message())));
                         }
                         reply(V1Error(503, "EXITING"));
                       });
}

// The answer to a bad request, or nullopt once the publish has taken `reply`.
std::optional<http::Response> CheckedPub(broker::Engine* engine, const HttpApiOptions& options,
                                         const http::Request& req, const http::Reply& reply) {
  const int64_t max_msg = options.max_msg_size;
  if (std::optional<std::string> cl = req.Header("Content-Length")) {
    int64_t n = 0;
    if (absl::SimpleAtoi(*cl, &n) && n > max_msg) return V1Error(413, "MSG_TOO_BIG");
  }
  if (static_cast<int64_t>(req.body.size()) > max_msg) return V1Error(413, "MSG_TOO_BIG");
  if (req.body.empty()) return V1Error(400, "MSG_EMPTY");
  std::string topic;
  if (auto err = TopicFromQuery(engine, req, &topic)) return *err;
  absl::Duration defer = absl::ZeroDuration();
  if (std::optional<std::string> d = Param(req, "defer")) {
    std::optional<int64_t> ms = ParseGoInt(*d);
    if (!ms) return V1Error(400, "INVALID_DEFER");
    defer = absl::Milliseconds(*ms);
    if (defer < absl::ZeroDuration() || defer > options.max_req_timeout) {
      return V1Error(400, "INVALID_DEFER");
    }
  }
  if (auto err = CheckPublishAuth(options, req, topic, engine->clock())) return *err;
  const std::string_view body = req.body;
  PublishAndReply(engine, topic, absl::MakeConstSpan(&body, 1), defer, reply);
  return std::nullopt;
}

std::optional<http::Response> CheckedMpub(broker::Engine* engine, const HttpApiOptions& options,
                                          const http::Request& req, const http::Reply& reply) {
  const int64_t max_body = options.max_body_size;
  if (std::optional<std::string> cl = req.Header("Content-Length")) {
    int64_t n = 0;
    if (absl::SimpleAtoi(*cl, &n) && n > max_body) return V1Error(413, "BODY_TOO_BIG");
  }
  std::string topic;
  if (auto err = TopicFromQuery(engine, req, &topic)) return *err;
  // nsqd's doMPUB gets (creates) the topic before it reads the body, so a bad body still
  // leaves it; with auth on (our addition) only once the secret is checked, below.
  if (options.auth.addresses.empty()) engine->CreateTopic(topic).IgnoreError();
  bool binary = false;
  if (std::optional<std::string> b = Param(req, "binary")) {
    std::optional<bool> v = ParseGoBool(*b);
    binary = v.has_value() ? *v : true;
  }
  std::vector<std::string_view> bodies;
  const std::string_view all = req.body;
  if (binary) {
    if (auto code = ReadBinaryMpub(all, options.max_msg_size, max_body, &bodies)) {
      return V1Error(413, *code);
    }
  } else {
    if (static_cast<int64_t>(all.size()) > max_body) return V1Error(413, "BODY_TOO_BIG");
    size_t start = 0;
    while (start < all.size()) {
      size_t nl = all.find('\n', start);
      const size_t end = nl == std::string_view::npos ? all.size() : nl;
      const std::string_view block = all.substr(start, end - start);
      start = nl == std::string_view::npos ? all.size() : nl + 1;
      if (block.empty()) continue;  // nsqd skips empty lines
      if (static_cast<int64_t>(block.size()) > options.max_msg_size) {
        return V1Error(413, "MSG_TOO_BIG");
      }
      bodies.push_back(block);
    }
  }
  if (auto err = CheckPublishAuth(options, req, topic, engine->clock())) return *err;
  if (bodies.empty()) return V1Text("OK");
  PublishAndReply(engine, topic, bodies, absl::ZeroDuration(), reply);
  return std::nullopt;
}

}  // namespace

void HandlePub(broker::Engine* engine, const HttpApiOptions& options, const http::Request& req,
               http::Reply reply) {
  if (std::optional<http::Response> early = CheckedPub(engine, options, req, reply)) {
    reply(*std::move(early));
  }
}

void HandleMpub(broker::Engine* engine, const HttpApiOptions& options, const http::Request& req,
                http::Reply reply) {
  if (std::optional<http::Response> early = CheckedMpub(engine, options, req, reply)) {
    reply(*std::move(early));
  }
}

}  // namespace nsq::legacy
