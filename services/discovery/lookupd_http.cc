#include "services/discovery/lookupd_http.h"

#include <optional>
#include <utility>
#include <vector>

#include "common/json/go_json.h"
#include "common/names/names.h"
#include "spdlog/spdlog.h"

namespace nsq::discovery {

using json::AppendGoJsonString;
using json::GoJsonWriter;
namespace {

http::Response WithV1Header(http::Response r) {
  r.headers.emplace_back("X-NSQ-Content-Type", "nsq; version=1.0");
  return r;
}

http::Response Json(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = std::move(body);
  return WithV1Header(std::move(r));
}

http::Response Error(int status, const std::string& message) {
  GoJsonWriter w;
  w.BeginObject().Key("message").String(message).EndObject();
  return Json(status, w.Release());
}

// 200 with no body (a nil V1 response): no Content-Type.
http::Response Empty() {
  http::Response r;
  r.content_type.clear();
  return WithV1Header(std::move(r));
}

void WritePeerFields(GoJsonWriter* w, const PeerInfo& p) {
  w->Key("remote_address").String(p.remote_address);
  w->Key("hostname").String(p.hostname);
  w->Key("broadcast_address").String(p.broadcast_address);
  w->Key("tcp_port").Int(p.tcp_port);
  w->Key("http_port").Int(p.http_port);
  w->Key("version").String(p.version);
  w->Key("topology_zone").String(p.topology_zone);
  w->Key("topology_region").String(p.topology_region);
}

using Handler = std::function<http::Response(const http::Request&)>;

// httprouter's behaviour: one method per route; OPTIONS answers 200 with an Allow header
// and no body, any other method 405 METHOD_NOT_ALLOWED with the same header. The methods
// are listed sorted ("GET, OPTIONS", "OPTIONS, POST"), as nsqlookupd sends them.
Handler Only(const char* method, Handler handler) {
  const std::string m = method;
  std::string allow = m < "OPTIONS" ? m + ", OPTIONS" : "OPTIONS, " + m;
  return [m, allow, handler = std::move(handler)](const http::Request& req) {
    if (req.method == m) return handler(req);
    http::Response r;
    if (req.method == "OPTIONS") {
      r.content_type.clear();
    } else {
      r = Error(405, "METHOD_NOT_ALLOWED");
    }
    r.headers.emplace_back("Allow", allow);
    return r;
  };
}

// The query, or the 400 INVALID_REQUEST answer.
std::optional<http::Response> CheckQuery(const http::Request& req) {
  if (!req.query_status.ok()) return Error(400, "INVALID_REQUEST");
  return std::nullopt;
}

// http_api.GetTopicChannelArgs.
std::optional<http::Response> TopicChannelArgs(const http::Request& req, std::string* topic,
                                               std::string* channel) {
  auto t = req.QueryValue("topic");
  if (!t) return Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t)) return Error(400, "INVALID_ARG_TOPIC");
  auto c = req.QueryValue("channel");
  if (!c) return Error(400, "MISSING_ARG_CHANNEL");
  if (!names::IsValidName(*c)) return Error(400, "INVALID_ARG_CHANNEL");
  *topic = *t;
  *channel = *c;
  return std::nullopt;
}

}  // namespace

std::string PeerInfoJson(const PeerInfo& peer) {
  GoJsonWriter w;
  w.BeginObject();
  WritePeerFields(&w, peer);
  w.EndObject();
  return w.Release();
}

void RegisterLookupdHttpHandlers(http::Server* server, Registry* registry, std::string version) {
  server->SetNotFound([](const http::Request&) { return Error(404, "NOT_FOUND"); });

  server->Handle("/ping", Only("GET", [](const http::Request&) {
    http::Response r;
    r.body = "OK";
    return r;
  }));

  server->Handle("/info", Only("GET", [version](const http::Request&) {
    GoJsonWriter w;
    w.BeginObject().Key("version").String(version).EndObject();
    return Json(200, w.Release());
  }));

  server->Handle("/lookup", Only("GET", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    auto topic = req.QueryValue("topic");
    if (!topic) return Error(400, "MISSING_ARG_TOPIC");
    std::optional<LookupResult> result = registry->Lookup(*topic);
    if (!result) return Error(404, "TOPIC_NOT_FOUND");
    // A Go map: keys sorted.
    GoJsonWriter w;
    w.BeginObject().Key("channels").StringArray(result->channels).Key("producers").BeginArray();
    for (const PeerInfo& p : result->producers) {
      w.BeginObject();
      WritePeerFields(&w, p);
      w.EndObject();
    }
    w.EndArray().EndObject();
    return Json(200, w.Release());
  }));

  server->Handle("/topics", Only("GET", [registry](const http::Request&) {
    GoJsonWriter w;
    w.BeginObject().Key("topics").StringArray(registry->Topics()).EndObject();
    return Json(200, w.Release());
  }));

  server->Handle("/channels", Only("GET", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    auto topic = req.QueryValue("topic");
    if (!topic) return Error(400, "MISSING_ARG_TOPIC");
    GoJsonWriter w;
    w.BeginObject().Key("channels").StringArray(registry->Channels(*topic)).EndObject();
    return Json(200, w.Release());
  }));

  server->Handle("/nodes", Only("GET", [registry](const http::Request&) {
    GoJsonWriter w;
    w.BeginObject().Key("producers").BeginArray();
    for (const NodeInfo& node : registry->Nodes()) {
      w.BeginObject();
      WritePeerFields(&w, node.peer);
      w.Key("tombstones").BeginArray();
      for (bool t : node.tombstones) w.Bool(t);
      w.EndArray();
      w.Key("topics").StringArray(node.topics);
      w.EndObject();
    }
    w.EndArray().EndObject();
    return Json(200, w.Release());
  }));

  server->Handle("/topic/create", Only("POST", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    auto topic = req.QueryValue("topic");
    if (!topic) return Error(400, "MISSING_ARG_TOPIC");
    if (!names::IsValidName(*topic)) return Error(400, "INVALID_ARG_TOPIC");
    spdlog::info("DB: adding topic({})", *topic);
    registry->CreateTopic(*topic);
    return Empty();
  }));

  server->Handle("/topic/delete", Only("POST", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    auto topic = req.QueryValue("topic");
    if (!topic) return Error(400, "MISSING_ARG_TOPIC");
    spdlog::info("DB: removing topic({})", *topic);
    registry->DeleteTopic(*topic);
    return Empty();
  }));

  server->Handle("/topic/tombstone", Only("POST", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    auto topic = req.QueryValue("topic");
    if (!topic) return Error(400, "MISSING_ARG_TOPIC");
    auto node = req.QueryValue("node");
    if (!node) return Error(400, "MISSING_ARG_NODE");
    spdlog::info("DB: setting tombstone for producer@{} of topic({})", *node, *topic);
    registry->TombstoneTopicProducer(*topic, *node);
    return Empty();
  }));

  server->Handle("/channel/create", Only("POST", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    std::string topic, channel;
    if (auto bad = TopicChannelArgs(req, &topic, &channel)) return *bad;
    spdlog::info("DB: adding channel({}) in topic({})", channel, topic);
    registry->CreateChannel(topic, channel);
    return Empty();
  }));

  server->Handle("/channel/delete", Only("POST", [registry](const http::Request& req) {
    if (auto bad = CheckQuery(req)) return *bad;
    std::string topic, channel;
    if (auto bad = TopicChannelArgs(req, &topic, &channel)) return *bad;
    if (!registry->DeleteChannel(topic, channel)) return Error(404, "CHANNEL_NOT_FOUND");
    spdlog::info("DB: removed channel({}) from topic({})", channel, topic);
    return Empty();
  }));
}

}  // namespace nsq::discovery
