#include "services/admin/http_upstream.h"

#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace nsq::admin {
namespace {

using Json = nlohmann::json;

std::string StatusText(int code) {
  switch (code) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

// The JSON value of `body`, unwrapping the pre-1.0 {"status_code","data"} envelope.
absl::StatusOr<Json> ParseBody(const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InternalError("malformed JSON from upstream");
  if (j.is_object() && j.contains("status_code") && j.contains("data")) return j["data"];
  return j;
}

template <typename T>
T Get(const Json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const Json::exception&) {
    return fallback;
  }
}

std::vector<std::string> StringList(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

class HttpUpstream {
 public:
  HttpUpstream(std::string address, HttpUpstreamOptions options)
      : address_(std::move(address)), options_(std::move(options)) {}

  const std::string& address() const { return address_; }

  // The body of a 200 answer, else an error naming the address and the answer
  // (nsqadmin's "got response 404 Not Found ..." text).
  absl::StatusOr<std::string> Call(const std::string& method, const std::string& target) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Accept", "application/vnd.nsq; version=1.0"}};
    auto resp = http::HttpRequest(method, address_, target, "", headers, options_.request_timeout);
    if (!resp.ok()) {
      return absl::UnavailableError(resp.status().message());
    }
    if (resp->status == 403) {
      Json j = Json::parse(resp->body, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.value("message", "") == "TLS_REQUIRED" &&
          j.contains("https_port") && j["https_port"].is_number_integer()) {
        std::string host = address_.substr(0, address_.rfind(':'));
        resp = http::HttpsRequest(options_.tls, method,
                                  absl::StrCat(host, ":", j["https_port"].get<int>()), target, "",
                                  headers, options_.request_timeout);
        if (!resp.ok()) {
          return absl::UnavailableError(resp.status().message());
        }
      }
    }
    if (resp->status != 200) {
      absl::StatusCode code = resp->status == 404 ? absl::StatusCode::kNotFound
                              : resp->status == 400 ? absl::StatusCode::kInvalidArgument
                                                    : absl::StatusCode::kUnavailable;
      std::string quoted;
      Json::string_t b = resp->body;
      quoted = Json(b).dump();
      return absl::Status(code, absl::StrCat("got response ", resp->status, " ",
                                             StatusText(resp->status), " ", quoted));
    }
    return std::move(resp->body);
  }

 private:
  const std::string address_;
  const HttpUpstreamOptions options_;
};

// Query-escapes a value (names are validated upstream; this keeps '#ephemeral' intact).
std::string Q(const std::string& v) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class HttpBroker : public BrokerClient {
 public:
  HttpBroker(std::string address, HttpUpstreamOptions options)
      : up_(std::move(address), std::move(options)) {}

  absl::StatusOr<NodeStats> GetStats(bool include_clients) override {
    auto body = up_.Call("GET", absl::StrCat("/stats?format=json&include_mem=false",
                                            include_clients ? "" : "&include_clients=false"));
    if (!body.ok()) return body.status();
    auto stats = ParseNsqdStats(*body);
    if (!stats.ok()) {
      return stats.status();
    }
    return stats;
  }

  absl::Status Act(Action action, const std::string& topic, const std::string& channel) override {
    std::string target = channel.empty()
        ? absl::StrCat("/topic/", ActionName(action), "?topic=", Q(topic))
        : absl::StrCat("/channel/", ActionName(action), "?topic=", Q(topic), "&channel=", Q(channel));
    return up_.Call("POST", target).status();
  }

 private:
  HttpUpstream up_;
};

class LookupdHttp : public DiscoveryClient {
 public:
  LookupdHttp(std::string address, HttpUpstreamOptions options)
      : up_(std::move(address), std::move(options)) {}

  std::string name() const override { return up_.address(); }

  absl::StatusOr<std::vector<Producer>> ListNodes() override {
    auto body = up_.Call("GET", "/nodes");
    if (!body.ok()) return body.status();
    return ParseLookupdNodes(*body, up_.address());
  }

  absl::StatusOr<std::vector<std::string>> ListTopics() override {
    auto body = up_.Call("GET", "/topics");
    if (!body.ok()) return body.status();
    auto j = ParseBody(*body);
    if (!j.ok()) return j.status();
    return StringList(*j, "topics");
  }

  absl::StatusOr<std::vector<std::string>> ListChannels(const std::string& topic) override {
    auto body = up_.Call("GET", absl::StrCat("/channels?topic=", Q(topic)));
    if (!body.ok()) return body.status();
    auto j = ParseBody(*body);
    if (!j.ok()) return j.status();
    return StringList(*j, "channels");
  }

  absl::Status CreateTopic(const std::string& topic) override {
    return up_.Call("POST", absl::StrCat("/topic/create?topic=", Q(topic))).status();
  }
  absl::Status DeleteTopic(const std::string& topic) override {
    return up_.Call("POST", absl::StrCat("/topic/delete?topic=", Q(topic))).status();
  }
  absl::Status CreateChannel(const std::string& topic, const std::string& channel) override {
    return up_.Call("POST", absl::StrCat("/channel/create?topic=", Q(topic), "&channel=", Q(channel)))
        .status();
  }
  absl::Status DeleteChannel(const std::string& topic, const std::string& channel) override {
    return up_.Call("POST", absl::StrCat("/channel/delete?topic=", Q(topic), "&channel=", Q(channel)))
        .status();
  }
  absl::Status TombstoneTopicProducer(const std::string& topic, const std::string& node) override {
    return up_.Call("POST", absl::StrCat("/topic/tombstone?topic=", Q(topic), "&node=", Q(node)))
        .status();
  }

 private:
  HttpUpstream up_;
};

// nsqd's e2e_processing_latency: {"count":N,"percentiles":null | [{"quantile","value"}]}.
E2eInfo ParseE2e(const Json& owner) {
  E2eInfo e;
  auto it = owner.find("e2e_processing_latency");
  if (it == owner.end() || !it->is_object()) return e;
  e.count = Get<int64_t>(*it, "count", 0);
  auto ps = it->find("percentiles");
  if (ps == it->end() || !ps->is_array()) return e;
  for (const auto& p : *ps) {
    if (!p.is_object()) continue;
    e.percentiles.push_back({Get<double>(p, "quantile", 0), Get<double>(p, "value", 0)});
  }
  return e;
}

ClientInfo ParseClient(const Json& c) {
  ClientInfo k;
  k.client_id = Get<std::string>(c, "client_id", "");
  k.hostname = Get<std::string>(c, "hostname", "");
  k.user_agent = Get<std::string>(c, "user_agent", "");
  k.remote_address = Get<std::string>(c, "remote_address", "");
  k.protocol = Get<std::string>(c, "version", "V2");
  k.ready_count = Get<int64_t>(c, "ready_count", 0);
  k.in_flight_count = Get<int64_t>(c, "in_flight_count", 0);
  k.message_count = Get<int64_t>(c, "message_count", 0);
  k.finish_count = Get<int64_t>(c, "finish_count", 0);
  k.requeue_count = Get<int64_t>(c, "requeue_count", 0);
  k.connect_ts = Get<int64_t>(c, "connect_ts", 0);
  k.sample_rate = Get<int64_t>(c, "sample_rate", 0);
  k.tls = Get<bool>(c, "tls", false);
  k.tls_version = Get<std::string>(c, "tls_version", "");
  k.tls_cipher_suite = Get<std::string>(c, "tls_cipher_suite", "");
  k.snappy = Get<bool>(c, "snappy", false);
  k.deflate = Get<bool>(c, "deflate", false);
  k.authed = Get<bool>(c, "authed", false);
  k.auth_identity = Get<std::string>(c, "auth_identity", "");
  k.auth_identity_url = Get<std::string>(c, "auth_identity_url", "");
  k.topology_zone = Get<std::string>(c, "topology_zone", "");
  k.topology_region = Get<std::string>(c, "topology_region", "");
  return k;
}

}  // namespace

absl::StatusOr<NodeStats> ParseNsqdStats(const std::string& body) {
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (!j.is_object()) return absl::InternalError("stats: not a JSON object");
  NodeStats out;
  out.version = Get<std::string>(j, "version", "");
  out.health = Get<std::string>(j, "health", "");
  out.start_time = Get<int64_t>(j, "start_time", 0);
  auto topics = j.find("topics");
  if (topics != j.end() && topics->is_array()) {
    for (const auto& t : *topics) {
      if (!t.is_object()) continue;
      TopicInfo ti;
      ti.name = Get<std::string>(t, "topic_name", "");
      ti.depth = Get<int64_t>(t, "depth", 0);
      ti.backend_depth = Get<int64_t>(t, "backend_depth", 0);
      ti.message_count = Get<int64_t>(t, "message_count", 0);
      ti.message_bytes = Get<int64_t>(t, "message_bytes", 0);
      ti.paused = Get<bool>(t, "paused", false);
      ti.e2e = ParseE2e(t);
      auto channels = t.find("channels");
      if (channels != t.end() && channels->is_array()) {
        for (const auto& c : *channels) {
          if (!c.is_object()) continue;
          ChannelInfo ci;
          ci.name = Get<std::string>(c, "channel_name", "");
          ci.depth = Get<int64_t>(c, "depth", 0);
          ci.backend_depth = Get<int64_t>(c, "backend_depth", 0);
          ci.in_flight_count = Get<int64_t>(c, "in_flight_count", 0);
          ci.deferred_count = Get<int64_t>(c, "deferred_count", 0);
          ci.message_count = Get<int64_t>(c, "message_count", 0);
          ci.zone_local_msg_count = Get<int64_t>(c, "zone_local_msg_count", 0);
          ci.region_local_msg_count = Get<int64_t>(c, "region_local_msg_count", 0);
          ci.global_msg_count = Get<int64_t>(c, "global_msg_count", 0);
          ci.requeue_count = Get<int64_t>(c, "requeue_count", 0);
          ci.timeout_count = Get<int64_t>(c, "timeout_count", 0);
          ci.client_count = Get<int64_t>(c, "client_count", 0);
          ci.paused = Get<bool>(c, "paused", false);
          ci.e2e = ParseE2e(c);
          auto clients = c.find("clients");
          if (clients != c.end() && clients->is_array()) {
            for (const auto& cl : *clients) {
              if (cl.is_object()) ci.clients.push_back(ParseClient(cl));
            }
          }
          ti.channels.push_back(std::move(ci));
        }
      }
      out.topics.push_back(std::move(ti));
    }
  }
  return out;
}

absl::StatusOr<std::vector<Producer>> ParseLookupdNodes(const std::string& body,
                                                        const std::string& lookupd) {
  auto parsed = ParseBody(body);
  if (!parsed.ok()) return parsed.status();
  std::vector<Producer> out;
  auto producers = parsed->find("producers");
  if (producers == parsed->end() || !producers->is_array()) return out;
  for (const auto& n : *producers) {
    if (!n.is_object()) continue;
    Producer p;
    p.remote_address = Get<std::string>(n, "remote_address", "");
    p.remote_addresses.push_back(absl::StrCat(lookupd, "/", p.remote_address));
    p.hostname = Get<std::string>(n, "hostname", "");
    p.broadcast_address = Get<std::string>(n, "broadcast_address", "");
    p.tcp_port = Get<int>(n, "tcp_port", 0);
    p.http_port = Get<int>(n, "http_port", 0);
    p.version = Get<std::string>(n, "version", "");
    p.topics = StringList(n, "topics");
    auto tombs = n.find("tombstones");
    for (size_t i = 0; i < p.topics.size(); ++i) {
      bool t = tombs != n.end() && tombs->is_array() && i < tombs->size() &&
               (*tombs)[i].is_boolean() && (*tombs)[i].get<bool>();
      p.tombstones.push_back(t);
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::unique_ptr<BrokerClient> NewHttpBrokerClient(const std::string& http_address,
                                                  HttpUpstreamOptions options) {
  return std::make_unique<HttpBroker>(http_address, std::move(options));
}

std::unique_ptr<DiscoveryClient> NewLookupdHttpClient(const std::string& http_address,
                                                      HttpUpstreamOptions options) {
  return std::make_unique<LookupdHttp>(http_address, std::move(options));
}

}  // namespace nsq::admin
