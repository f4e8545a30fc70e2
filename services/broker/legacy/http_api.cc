#include "services/broker/legacy/http_api.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/flags/flags.h"
#include "common/http/server.h"
#include "common/names/names.h"
#include "nlohmann/json.hpp"
#include "services/broker/legacy/v2_protocol.h"

namespace nsq::legacy {
namespace {

using Json = nlohmann::ordered_json;
constexpr char kV1Header[] = "X-NSQ-Content-Type";
constexpr char kV1Value[] = "nsq; version=1.0";
constexpr char kJsonType[] = "application/json; charset=utf-8";

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

http::Response V1(int status, std::string body, std::string content_type) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  r.headers.emplace_back(kV1Header, kV1Value);
  return r;
}
http::Response V1Text(std::string body) { return V1(200, std::move(body), "text/plain; charset=utf-8"); }
http::Response V1Empty() { return V1(200, "", ""); }
http::Response V1Json(const Json& j) { return V1(200, Dump(j), kJsonType); }
http::Response V1Error(int status, std::string_view message) {
  return V1(status, absl::StrCat("{\"message\":", GoJsonString(message), "}"), kJsonType);
}

// nsqd's http_api.ReqParams.Get: the first value, or nullopt when the key is absent.
std::optional<std::string> Param(const http::Request& req, std::string_view name) {
  return req.QueryValue(name);
}

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return std::nullopt;
}

// Go's strconv.ParseInt(s, 10, 64).
std::optional<int64_t> ParseGoInt(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view digits = s;
  if (digits[0] == '+' || digits[0] == '-') digits.remove_prefix(1);
  if (digits.empty()) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  int64_t v = 0;
  if (!absl::SimpleAtoi(std::string(s[0] == '+' ? s.substr(1) : s), &v)) return std::nullopt;
  return v;
}

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

std::string GoDuration(absl::Duration d) { return flags::FormatGoDuration(d); }

std::string Printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < static_cast<int>(sizeof(buf))) return std::string(buf, n > 0 ? n : 0);
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  return big;
}

class HttpApi {
 public:
  HttpApi(broker::Engine* engine, const V2Server* v2, HttpApiOptions options)
      : engine_(engine), v2_(v2), options_(std::move(options)), config_(options_.config) {}

  // Every handler holds `self`, so the API lives as long as the server's routes.
  static void Register(http::Server* server, const std::shared_ptr<HttpApi>& self) {
    auto route = [server, self](const std::string& path, const char* method,
                                http::Response (HttpApi::*fn)(const http::Request&)) {
      server->Handle(path, [self, method, fn](const http::Request& req) {
        if (self->options_.tls_required) return self->TlsRequired();
        if (req.method != method) {
          http::Response r = V1Error(405, "METHOD_NOT_ALLOWED");
          r.headers.emplace_back("Allow", absl::StrCat(method, ", OPTIONS"));
          return r;
        }
        return ((*self).*fn)(req);
      });
    };
    route("/ping", "GET", &HttpApi::Ping);
    route("/info", "GET", &HttpApi::Info);
    route("/pub", "POST", &HttpApi::Pub);
    route("/mpub", "POST", &HttpApi::Mpub);
    route("/stats", "GET", &HttpApi::Stats);
    route("/topic/create", "POST", &HttpApi::TopicCreate);
    route("/topic/delete", "POST", &HttpApi::TopicDelete);
    route("/topic/empty", "POST", &HttpApi::TopicEmpty);
    route("/topic/pause", "POST", &HttpApi::TopicPause);
    route("/topic/unpause", "POST", &HttpApi::TopicPause);
    route("/channel/create", "POST", &HttpApi::ChannelCreate);
    route("/channel/delete", "POST", &HttpApi::ChannelDelete);
    route("/channel/empty", "POST", &HttpApi::ChannelEmpty);
    route("/channel/pause", "POST", &HttpApi::ChannelPause);
    route("/channel/unpause", "POST", &HttpApi::ChannelPause);
    server->HandlePrefix("/config/", [self](const http::Request& req) {
      if (self->options_.tls_required) return self->TlsRequired();
      if (req.method != "GET" && req.method != "PUT") {
        http::Response r = V1Error(405, "METHOD_NOT_ALLOWED");
        r.headers.emplace_back("Allow", "GET, PUT, OPTIONS");
        return r;
      }
      return self->Config(req);
    });
    server->SetNotFound([self](const http::Request&) {
      if (self->options_.tls_required) return self->TlsRequired();
      return V1Error(404, "NOT_FOUND");
    });
  }

 private:
  http::Response TlsRequired() {
    const int port = options_.https_port ? options_.https_port() : 0;
    return V1(403, absl::StrCat("{\"message\": \"TLS_REQUIRED\", \"https_port\": ", port, "}"),
              kJsonType);
  }

  // /ping is plain text without the V1 header, as nsqd's.
  http::Response Ping(const http::Request&) {
    http::Response r;
    const absl::Status health = engine_->Health();
    if (health.ok()) {
      r.body = "OK";
    } else {
      r.status = 500;
      r.body = absl::StrCat("NOK - ", std::string(health.message()));
    }
    return r;
  }

  http::Response Info(const http::Request&) {
    Json j;
    j["version"] = kNsqdVersion;
    j["broadcast_address"] = options_.broadcast_address;
    j["hostname"] = options_.hostname;
    j["http_port"] = options_.http_port ? options_.http_port() : -1;
    j["tcp_port"] = options_.tcp_port ? options_.tcp_port() : -1;
    j["start_time"] = absl::ToUnixSeconds(options_.start_time);
    j["max_heartbeat_interval"] = absl::ToInt64Nanoseconds(options_.max_heartbeat_interval);
    j["max_output_buffer_size"] = options_.max_output_buffer_size;
    j["max_output_buffer_timeout"] = absl::ToInt64Nanoseconds(options_.max_output_buffer_timeout);
    j["max_deflate_level"] = options_.max_deflate_level;
    j["topology_zone"] = "";
    j["topology_region"] = "";
    return V1Json(j);
  }

  // nsqd's getTopicFromQuery (which also creates the topic).
  std::optional<http::Response> TopicFromQuery(const http::Request& req, std::string* topic,
                                               bool create = true) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    std::optional<std::string> t = Param(req, "topic");
    if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*t)) return V1Error(400, "INVALID_TOPIC");
    *topic = *t;
    if (create) {
      absl::Status st = engine_->CreateTopic(*t);
      if (!st.ok()) return V1Error(503, "EXITING");
    }
    return std::nullopt;
  }

  // The nsq-cpp addition: with auth on, publishing over HTTP needs a bearer secret.
  std::optional<http::Response> CheckPublishAuth(const http::Request& req, const std::string& topic) {
    if (options_.auth.addresses.empty()) return std::nullopt;
    std::optional<std::string> header = req.Header("Authorization");
    if (!header || !absl::StartsWith(*header, "Bearer ")) return V1Error(401, "AUTH_REQUIRED");
    const std::string secret = header->substr(7);
    std::string ip = req.remote_address;
    if (const size_t colon = ip.rfind(':'); colon != std::string::npos) ip = ip.substr(0, colon);
    if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    absl::StatusOr<AuthState> state = QueryAuthServers(options_.auth, "", ip, secret, false);
    if (!state.ok()) return V1Error(403, "AUTH_FAILED");
    if (!state->IsAllowed(topic, "")) return V1Error(403, "UNAUTHORIZED");
    return std::nullopt;
  }

  http::Response Pub(const http::Request& req) {
    const int64_t max_msg = options_.max_msg_size;
    if (std::optional<std::string> cl = req.Header("Content-Length")) {
      int64_t n = 0;
      if (absl::SimpleAtoi(*cl, &n) && n > max_msg) return V1Error(413, "MSG_TOO_BIG");
    }
    if (static_cast<int64_t>(req.body.size()) > max_msg) return V1Error(413, "MSG_TOO_BIG");
    if (req.body.empty()) return V1Error(400, "MSG_EMPTY");
    std::string topic;
    if (auto err = TopicFromQuery(req, &topic)) return *err;
    absl::Duration defer = absl::ZeroDuration();
    if (std::optional<std::string> d = Param(req, "defer")) {
      std::optional<int64_t> ms = ParseGoInt(*d);
      if (!ms) return V1Error(400, "INVALID_DEFER");
      defer = absl::Milliseconds(*ms);
      if (defer < absl::ZeroDuration() || defer > options_.max_req_timeout) {
        return V1Error(400, "INVALID_DEFER");
      }
    }
    if (auto err = CheckPublishAuth(req, topic)) return *err;
    const std::string_view body = req.body;
    absl::Status st = engine_->Publish(topic, absl::MakeConstSpan(&body, 1), defer);
    if (!st.ok()) return V1Error(503, "EXITING");
    return V1Text("OK");
  }

  http::Response Mpub(const http::Request& req) {
    const int64_t max_body = options_.max_body_size;
    if (std::optional<std::string> cl = req.Header("Content-Length")) {
      int64_t n = 0;
      if (absl::SimpleAtoi(*cl, &n) && n > max_body) return V1Error(413, "BODY_TOO_BIG");
    }
    std::string topic;
    if (auto err = TopicFromQuery(req, &topic)) return *err;
    bool binary = false;
    if (std::optional<std::string> b = Param(req, "binary")) {
      std::optional<bool> v = ParseGoBool(*b);
      binary = v.has_value() ? *v : true;
    }
    std::vector<std::string_view> bodies;
    const std::string_view all = req.body;
    if (binary) {
      if (auto code = ReadBinaryMpub(all, options_.max_msg_size, max_body, &bodies)) {
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
        if (static_cast<int64_t>(block.size()) > options_.max_msg_size) {
          return V1Error(413, "MSG_TOO_BIG");
        }
        bodies.push_back(block);
      }
    }
    if (auto err = CheckPublishAuth(req, topic)) return *err;
    if (!bodies.empty()) {
      absl::Status st = engine_->Publish(topic, bodies);
      if (!st.ok()) return V1Error(503, "EXITING");
    }
    return V1Text("OK");
  }

  // --- topics and channels ---

  // For empty/pause: topic must be named, valid (empty only) and exist.
  http::Response TopicEmpty(const http::Request& req) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    std::optional<std::string> t = Param(req, "topic");
    if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*t)) return V1Error(400, "INVALID_TOPIC");
    if (!engine_->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
    absl::Status st = engine_->EmptyTopic(*t);
    if (absl::IsNotFound(st)) return V1Error(404, "TOPIC_NOT_FOUND");
    if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
    return V1Empty();
  }

  http::Response TopicCreate(const http::Request& req) {
    std::string topic;
    if (auto err = TopicFromQuery(req, &topic)) return *err;
    return V1Empty();
  }

  http::Response TopicDelete(const http::Request& req) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    std::optional<std::string> t = Param(req, "topic");
    if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*t) || !engine_->DeleteTopic(*t).ok()) {
      return V1Error(404, "TOPIC_NOT_FOUND");
    }
    return V1Empty();
  }

  http::Response TopicPause(const http::Request& req) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    std::optional<std::string> t = Param(req, "topic");
    if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*t) || !engine_->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
    const bool pause = !absl::StrContains(req.path, "unpause");
    absl::Status st = engine_->SetTopicPaused(*t, pause);
    if (absl::IsNotFound(st)) return V1Error(404, "TOPIC_NOT_FOUND");
    if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
    return V1Empty();
  }

  // nsqd's getExistingTopicFromQuery + GetTopicChannelArgs.
  std::optional<http::Response> TopicChannel(const http::Request& req, std::string* topic,
                                             std::string* channel) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    std::optional<std::string> t = Param(req, "topic");
    if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*t)) return V1Error(400, "INVALID_ARG_TOPIC");
    std::optional<std::string> c = Param(req, "channel");
    if (!c) return V1Error(400, "MISSING_ARG_CHANNEL");
    if (!names::IsValidName(*c)) return V1Error(400, "INVALID_ARG_CHANNEL");
    if (!engine_->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
    *topic = *t;
    *channel = *c;
    return std::nullopt;
  }

  http::Response ChannelNotFoundOr500(const absl::Status& st) {
    if (st.ok()) return V1Empty();
    if (absl::IsNotFound(st)) {
      return V1Error(404, st.message() == "TOPIC_NOT_FOUND" ? "TOPIC_NOT_FOUND" : "CHANNEL_NOT_FOUND");
    }
    return V1Error(500, "INTERNAL_ERROR");
  }

  http::Response ChannelCreate(const http::Request& req) {
    std::string topic, channel;
    if (auto err = TopicChannel(req, &topic, &channel)) return *err;
    absl::Status st = engine_->CreateChannel(topic, channel);
    if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
    return V1Empty();
  }

  http::Response ChannelDelete(const http::Request& req) {
    std::string topic, channel;
    if (auto err = TopicChannel(req, &topic, &channel)) return *err;
    absl::Status st = engine_->DeleteChannel(topic, channel);
    if (!st.ok()) return V1Error(404, st.message() == "TOPIC_NOT_FOUND" ? "TOPIC_NOT_FOUND" : "CHANNEL_NOT_FOUND");
    return V1Empty();
  }

  http::Response ChannelEmpty(const http::Request& req) {
    std::string topic, channel;
    if (auto err = TopicChannel(req, &topic, &channel)) return *err;
    return ChannelNotFoundOr500(engine_->EmptyChannel(topic, channel));
  }

  http::Response ChannelPause(const http::Request& req) {
    std::string topic, channel;
    if (auto err = TopicChannel(req, &topic, &channel)) return *err;
    const bool pause = !absl::StrContains(req.path, "unpause");
    return ChannelNotFoundOr500(engine_->SetChannelPaused(topic, channel, pause));
  }

  // --- /config/:opt ---

  http::Response Config(const http::Request& req) {
    const std::string opt = req.path.substr(std::string("/config/").size());
    absl::MutexLock lock(&config_mu_);
    if (req.method == "PUT") {
      if (req.body.empty() || static_cast<int64_t>(req.body.size()) > options_.max_msg_size) {
        return V1Error(413, "INVALID_VALUE");
      }
      if (opt == "nsqlookupd_tcp_addresses") {
        Json v = Json::parse(req.body, nullptr, false);
        if (v.is_discarded() || !(v.is_array() || v.is_null())) return V1Error(400, "INVALID_VALUE");
        std::vector<std::string> addresses;
        for (const Json& a : v) {
          if (!a.is_string()) return V1Error(400, "INVALID_VALUE");
          addresses.push_back(a.get<std::string>());
        }
        Json out = Json::array();
        for (const auto& a : addresses) out.push_back(a);
        config_[opt] = Dump(out);
        if (options_.set_lookupd_addresses) options_.set_lookupd_addresses(addresses);
      } else if (opt == "log_level") {
        const std::string level = absl::AsciiStrToLower(req.body);
        if (!options_.set_log_level || !options_.set_log_level(level)) {
          return V1Error(400, "INVALID_VALUE");
        }
        config_[opt] = GoJsonString(level);
      } else {
        return V1Error(400, "INVALID_OPTION");
      }
    }
    auto it = config_.find(opt);
    if (it == config_.end()) return V1Error(400, "INVALID_OPTION");
    return V1(200, it->second, kJsonType);
  }

  // --- /stats ---

  struct StatsData {
    bool found = true;  // a topic filter that matched nothing gives nulls
    std::vector<broker::TopicStats> topics;
    std::map<std::string, V2ClientInfo> v2_by_address;
    std::vector<V2ClientInfo> producers;
  };

  static Json E2e() {
    Json e;
    e["count"] = 0;
    e["percentiles"] = nullptr;
    return e;
  }

  Json ClientJson(const V2ClientInfo* v2, const broker::ConsumerStats* c,
                  const std::string& topic_filter) const {
    Json j;
    const broker::ConsumerInfo* info = c ? &c->info : nullptr;
    j["client_id"] = v2 ? v2->client_id : info->client_id;
    j["hostname"] = v2 ? v2->hostname : info->hostname;
    j["version"] = v2 ? "V2" : info->protocol;
    j["remote_address"] = v2 ? v2->remote_address : info->remote_address;
    j["state"] = v2 ? v2->state : 3;
    j["ready_count"] = c ? c->ready_count : 0;
    j["in_flight_count"] = c ? c->in_flight_count : 0;
    j["message_count"] = c ? c->message_count : 0;
    j["finish_count"] = c ? c->finish_count : 0;
    j["requeue_count"] = c ? c->requeue_count : 0;
    j["connect_ts"] = absl::ToUnixSeconds(v2 ? v2->connect_time : c->connect_time);
    j["sample_rate"] = v2 ? v2->sample_rate : 0;
    j["deflate"] = v2 ? v2->deflate : false;
    j["snappy"] = v2 ? v2->snappy : false;
    j["user_agent"] = v2 ? v2->user_agent : info->user_agent;
    if (v2 && v2->authed) {
      j["authed"] = true;
      if (!v2->auth_identity.empty()) j["auth_identity"] = v2->auth_identity;
      if (!v2->auth_identity_url.empty()) j["auth_identity_url"] = v2->auth_identity_url;
    }
    if (v2 && !v2->pub_counts.empty()) {
      Json counts = Json::array();
      for (const auto& [topic, count] : v2->pub_counts) {
        if (!topic_filter.empty() && topic != topic_filter) continue;
        Json pc;
        pc["topic"] = topic;
        pc["count"] = count;
        counts.push_back(pc);
      }
      if (!counts.empty()) j["pub_counts"] = counts;
    }
    j["topology_zone"] = "";
    j["topology_region"] = "";
    j["tls"] = v2 ? v2->tls : false;
    j["tls_cipher_suite"] = v2 ? v2->tls_cipher_suite : "";
    j["tls_version"] = v2 ? v2->tls_version : "";
    j["tls_negotiated_protocol"] = "";
    j["tls_negotiated_protocol_is_mutual"] = false;
    return j;
  }

  std::string ClientText(const V2ClientInfo* v2, const broker::ConsumerStats* c,
                         absl::Time now) const {
    const std::string remote = v2 ? v2->remote_address : c->info.remote_address;
    const std::string port = remote.substr(remote.rfind(':') + 1);
    const std::string id = absl::StrCat(v2 ? v2->hostname : c->info.hostname, ":", port, " ",
                                        v2 ? v2->user_agent : c->info.user_agent);
    const absl::Time connected = v2 ? v2->connect_time : c->connect_time;
    const std::string duration = GoDuration(absl::Trunc(now - connected, absl::Seconds(1)));
    const std::string version = v2 ? "V2" : c->info.protocol;
    if (c == nullptr) {
      uint64_t total = 0;
      std::vector<std::string> topics;
      for (const auto& [topic, count] : v2->pub_counts) {
        total += count;
        topics.push_back(absl::StrCat(topic, "=", count));
      }
      return Printf("[%s %-21s] msgs: %-8llu topics: %s connected: %s", version.c_str(), id.c_str(),
                    static_cast<unsigned long long>(total), absl::StrJoin(topics, ",").c_str(),
                    duration.c_str());
    }
    return Printf(
        "[%s %-21s] state: %d inflt: %-4lld rdy: %-4lld fin: %-8llu re-q: %-8llu msgs: %-8llu "
        "connected: %s",
        version.c_str(), id.c_str(), v2 ? v2->state : 3, static_cast<long long>(c->in_flight_count),
        static_cast<long long>(c->ready_count), static_cast<unsigned long long>(c->finish_count),
        static_cast<unsigned long long>(c->requeue_count),
        static_cast<unsigned long long>(c->message_count), duration.c_str());
  }

  http::Response Stats(const http::Request& req) {
    if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
    const std::string format = Param(req, "format").value_or("");
    const std::string topic = Param(req, "topic").value_or("");
    const std::string channel = Param(req, "channel").value_or("");
    auto flag = [&](const char* name) {
      const std::string v = Param(req, name).value_or("");
      if (v == "false" || v == "0") return false;
      return true;  // "true", "1" and anything else
    };
    const bool include_clients = flag("include_clients");
    const bool include_mem = flag("include_mem");

    broker::StatsFilter filter;
    filter.topic = topic;
    filter.include_consumers = include_clients;
    absl::StatusOr<std::vector<broker::TopicStats>> got = engine_->GetStats(filter);
    const bool found = got.ok();
    std::vector<broker::TopicStats> topics = found ? *std::move(got) : std::vector<broker::TopicStats>{};
    std::sort(topics.begin(), topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (broker::TopicStats& t : topics) {
      if (!channel.empty()) {
        t.channels.erase(std::remove_if(t.channels.begin(), t.channels.end(),
                                        [&](const auto& c) { return c.name != channel; }),
                         t.channels.end());
      }
      std::sort(t.channels.begin(), t.channels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    }
    if (!channel.empty()) {
      // nsqd skips topics without that channel.
      topics.erase(std::remove_if(topics.begin(), topics.end(),
                                  [](const auto& t) { return t.channels.empty(); }),
                   topics.end());
    }
    std::map<std::string, V2ClientInfo> v2_by_address;
    std::vector<V2ClientInfo> producers;
    if (v2_ != nullptr && include_clients && found) {
      for (V2ClientInfo& c : v2_->Clients()) {
        if (!c.pub_counts.empty()) {
          if (topic.empty() || std::any_of(c.pub_counts.begin(), c.pub_counts.end(),
                                           [&](const auto& p) { return p.first == topic; })) {
            producers.push_back(c);
          }
        }
        v2_by_address[c.remote_address] = std::move(c);
      }
      std::sort(producers.begin(), producers.end(),
                [](const auto& a, const auto& b) { return a.connect_time < b.connect_time; });
    }
    auto v2_for = [&](const broker::ConsumerStats& c) -> const V2ClientInfo* {
      if (c.info.protocol != "V2") return nullptr;
      auto it = v2_by_address.find(c.info.remote_address);
      return it == v2_by_address.end() ? nullptr : &it->second;
    };
    absl::Status health = engine_->Health();
    const std::string health_text = health.ok() ? "OK" : absl::StrCat("NOK - ", std::string(health.message()));

    if (format != "json") {
      return V1(200, StatsText(topics, producers, v2_for, health_text, include_mem),
                "text/plain; charset=utf-8");
    }
    Json j;
    j["version"] = kNsqdVersion;
    j["health"] = health_text;
    j["start_time"] = absl::ToUnixSeconds(options_.start_time);
    if (!found) {
      j["topics"] = nullptr;
    } else {
      Json ts = Json::array();
      for (const broker::TopicStats& t : topics) {
        Json tj;
        tj["topic_name"] = t.name;
        Json cs = Json::array();
        for (const broker::ChannelStats& c : t.channels) {
          Json cj;
          cj["channel_name"] = c.name;
          cj["depth"] = c.depth;
          cj["backend_depth"] = c.backend_depth;
          cj["in_flight_count"] = c.in_flight_count;
          cj["deferred_count"] = c.deferred_count;
          cj["message_count"] = c.message_count;
          cj["requeue_count"] = c.requeue_count;
          cj["timeout_count"] = c.timeout_count;
          cj["client_count"] = c.consumer_count;
          if (include_clients) {
            Json clients = Json::array();
            for (const broker::ConsumerStats& cons : c.consumers) {
              clients.push_back(ClientJson(v2_for(cons), &cons, topic));
            }
            cj["clients"] = clients;
          } else {
            cj["clients"] = nullptr;
          }
          cj["paused"] = c.paused;
          cj["e2e_processing_latency"] = E2e();
          cs.push_back(cj);
        }
        tj["channels"] = cs;
        tj["depth"] = t.depth;
        tj["backend_depth"] = t.backend_depth;
        tj["message_count"] = t.message_count;
        tj["message_bytes"] = t.message_bytes;
        tj["paused"] = t.paused;
        tj["e2e_processing_latency"] = E2e();
        ts.push_back(tj);
      }
      j["topics"] = ts;
    }
    if (include_mem) j["memory"] = MemoryJson();
    if (producers.empty()) {
      j["producers"] = nullptr;
    } else {
      Json ps = Json::array();
      for (const V2ClientInfo& p : producers) ps.push_back(ClientJson(&p, nullptr, topic));
      j["producers"] = ps;
    }
    return V1Json(j);
  }

  // Go runtime figures have no equivalent here; the shape is kept for parsers.
  static Json MemoryJson() {
    Json m;
    for (const char* k : {"heap_objects", "heap_idle_bytes", "heap_in_use_bytes",
                          "heap_released_bytes", "gc_pause_usec_100", "gc_pause_usec_99",
                          "gc_pause_usec_95", "next_gc_bytes", "gc_total_runs"}) {
      m[k] = 0;
    }
    return m;
  }

  template <typename V2For>
  std::string StatsText(const std::vector<broker::TopicStats>& topics,
                        const std::vector<V2ClientInfo>& producers, V2For v2_for,
                        const std::string& health, bool include_mem) const {
    const absl::Time now = absl::Now();
    std::string w;
    absl::StrAppend(&w, "nsqd v", kNsqdVersion, " (built w/nsq-cpp)\n");
    std::string start = absl::FormatTime(absl::RFC3339_sec, options_.start_time, absl::LocalTimeZone());
    if (absl::EndsWith(start, "+00:00")) start = start.substr(0, start.size() - 6) + "Z";  // as Go
    absl::StrAppend(&w, "start_time ", start, "\n");
    absl::StrAppend(&w, "uptime ", GoDuration(now - options_.start_time), "\n");
    absl::StrAppend(&w, "\nHealth: ", health, "\n");
    if (include_mem) {
      absl::StrAppend(&w, "\nMemory:\n");
      for (const char* k : {"heap_objects", "heap_idle_bytes", "heap_in_use_bytes",
                            "heap_released_bytes", "gc_pause_usec_100", "gc_pause_usec_99",
                            "gc_pause_usec_95", "next_gc_bytes", "gc_total_runs"}) {
        w += Printf("   %-25s\t%d\n", k, 0);
      }
    }
    if (topics.empty()) {
      w += "\nTopics: None\n";
    } else {
      w += "\nTopics:";
    }
    for (const broker::TopicStats& t : topics) {
      w += Printf("\n%s[%-15s] depth: %-5lld be-depth: %-5lld msgs: %-8llu e2e%%: %s\n",
                  t.paused ? "*P " : "   ", t.name.c_str(), static_cast<long long>(t.depth),
                  static_cast<long long>(t.backend_depth),
                  static_cast<unsigned long long>(t.message_count), "");
      for (const broker::ChannelStats& c : t.channels) {
        w += Printf(
            "%s[%-25s] depth: %-5lld be-depth: %-5lld inflt: %-4lld def: %-4lld re-q: %-5llu "
            "timeout: %-5llu msgs: %-8llu e2e%%: %s\n",
            c.paused ? "   *P " : "      ", c.name.c_str(), static_cast<long long>(c.depth),
            static_cast<long long>(c.backend_depth), static_cast<long long>(c.in_flight_count),
            static_cast<long long>(c.deferred_count), static_cast<unsigned long long>(c.requeue_count),
            static_cast<unsigned long long>(c.timeout_count),
            static_cast<unsigned long long>(c.message_count), "");
        for (const broker::ConsumerStats& cons : c.consumers) {
          absl::StrAppend(&w, "        ", ClientText(v2_for(cons), &cons, now), "\n");
        }
      }
    }
    if (producers.empty()) {
      w += "\nProducers: None\n";
    } else {
      w += "\nProducers:\n";
      for (const V2ClientInfo& p : producers) {
        absl::StrAppend(&w, "   ", ClientText(&p, nullptr, now), "\n");
      }
    }
    return w;
  }

  broker::Engine* const engine_;
  const V2Server* const v2_;
  const HttpApiOptions options_;
  absl::Mutex config_mu_;
  std::map<std::string, std::string> config_ ABSL_GUARDED_BY(config_mu_);
};

}  // namespace

void RegisterHttpApi(http::Server* server, broker::Engine* engine, const V2Server* v2,
                     HttpApiOptions options) {
  HttpApi::Register(server, std::make_shared<HttpApi>(engine, v2, std::move(options)));
}

}  // namespace nsq::legacy
