#include "services/admin/api.h"

#include <algorithm>
#include <future>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging/logging.h"
#include "common/metrics/metrics.h"
#include "common/metrics/process_metrics.h"
#include "nlohmann/json.hpp"
#include "services/admin/aggregate.h"
#include "services/admin/web_assets.h"
#include "spdlog/spdlog.h"

namespace nsq::admin {
namespace {

using Json = nlohmann::json;

constexpr char kJsonType[] = "application/json; charset=utf-8";

http::Response JsonResponse(int status, const OrderedJson& body) {
  http::Response r;
  r.status = status;
  r.content_type = kJsonType;
  r.headers.push_back({"X-NSQ-Content-Type", "nsq; version=1.0"});
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

http::Response Message(int status, const std::string& message) {
  OrderedJson j;
  j["message"] = message;
  return JsonResponse(status, j);
}

// NSQ's topic/channel name rule: 1-64 of [.a-zA-Z0-9_-], optionally ending in "#ephemeral".
bool IsValidName(const std::string& name) {
  std::string base = name;
  if (absl::EndsWith(base, "#ephemeral")) base = base.substr(0, base.size() - 10);
  if (name.empty() || name.size() > 64 || base.empty()) return false;
  for (char c : base) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

// How much of a peeked body the JSON shows as text (body_base64 has all of it).
constexpr size_t kPeekBodyShown = 4096;

// The WARNING text for partial failures, "" for none.
std::string Warning(const std::vector<std::string>& errors) {
  if (errors.empty()) return "";
  return absl::StrCat("WARNING: ", absl::StrJoin(errors, "\n"));
}

}  // namespace

struct AdminApi::Impl {
  ApiDeps deps;
  std::string base;  // "/" or "/admin/"
  Acl acl;
  Cidr config_cidr;

  explicit Impl(ApiDeps d)
      : deps(std::move(d)),
        base(deps.options->NormalizedBasePath()),
        acl(deps.options->admin_users, deps.options->acl_http_header),
        config_cidr(*Cidr::Parse(deps.options->allow_config_from_cidr)) {}

  // A read answered from `snap`: the view plus "message" (a warning when some upstreams
  // failed); 502 when all did.
  http::Response Read(const Snapshot& snap, OrderedJson view) {
    if (snap.AllFailed()) {
      return Message(502, absl::StrCat("UPSTREAM_ERROR: ", absl::StrJoin(snap.errors, "\n")));
    }
    view["message"] = Warning(snap.errors);
    return JsonResponse(200, view);
  }

  // nsqadmin's 404 for a missing topic, channel or node; but when every upstream failed,
  // the 502 that says so (nothing can be said to be missing then).
  http::Response NotFound(const Snapshot& snap, const char* what) {
    if (snap.AllFailed()) return Read(snap, OrderedJson::object());
    return Message(404, what);
  }

  std::optional<std::string> User(const http::Request& req) const {
    return req.Header(acl.header());
  }

  // Runs `calls` in parallel; returns the error lines.
  static std::vector<std::string> RunAll(std::vector<std::function<std::string()>> calls) {
    std::vector<std::future<std::string>> futures;
    for (auto& c : calls) futures.push_back(std::async(std::launch::async, std::move(c)));
    std::vector<std::string> errors;
    for (auto& f : futures) {
      std::string e = f.get();
      if (!e.empty()) errors.push_back(std::move(e));
    }
    return errors;
  }

  std::function<std::string()> BrokerCall(const NodeSnapshot& node, Action action,
                                          const std::string& topic, const std::string& channel) {
    std::shared_ptr<BrokerClient> client = deps.cluster->Broker(node);
    std::string id = node.id();
    return [client, id, action, topic, channel]() -> std::string {
      absl::Status s = client->Act(action, topic, channel);
      return s.ok() ? "" : absl::StrCat("broker ", id, ": ", s.message());
    };
  }

  // Finishes an action: refreshes the snapshot, records, notifies and answers.
  http::Response Finish(const http::Request& req, const std::string& name, const std::string& topic,
                        const std::string& channel, const std::string& node,
                        const std::vector<std::string>& errors, size_t attempted) {
    deps.cluster->Refresh();
    const bool all_failed = attempted > 0 && errors.size() >= attempted;
    deps.metrics->RecordAction(name, all_failed ? "error" : errors.empty() ? "ok" : "warning");
    spdlog::info("action {} topic={} channel={} node={} by {}: {}", name, topic, channel, node,
                 User(req).value_or(req.remote_address),
                 errors.empty() ? "ok" : absl::StrJoin(errors, "; "));
    if (all_failed) return Message(502, absl::StrCat("UPSTREAM_ERROR: ", absl::StrJoin(errors, "\n")));
    AdminAction a;
    a.action = name;
    a.topic = topic;
    a.channel = channel;
    a.node = node;
    a.timestamp = absl::ToUnixSeconds(absl::Now());
    a.user = User(req).value_or("");
    a.remote_ip = HostOf(req.remote_address);
    a.user_agent = req.Header("User-Agent").value_or("");
    a.url = req.target;
    a.via = deps.hostname;
    deps.notifier->Notify(a);
    return Message(200, Warning(errors));
  }

  // Parses the JSON object body of an action; an error response when malformed.
  std::optional<http::Response> ParseBody(const http::Request& req, Json* out) {
    *out = Json::object();
    if (req.body.empty()) return std::nullopt;
    try {
      *out = Json::parse(req.body);
    } catch (const Json::exception& e) {
      return Message(400, absl::StrCat("malformed JSON body: ", e.what()));
    }
    if (!out->is_object()) return Message(400, "malformed JSON body: not an object");
    return std::nullopt;
  }

  static std::string StringField(const Json& body, const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : "";
  }

  static std::optional<Action> ParseAction(const std::string& a) {
    if (a == "pause") return Action::kPause;
    if (a == "unpause") return Action::kUnpause;
    if (a == "empty") return Action::kEmpty;
    return std::nullopt;
  }

  std::optional<http::Response> CheckAdmin(const http::Request& req, const std::string& action) {
    if (acl.MayAct(User(req))) return std::nullopt;
    deps.metrics->RecordAction(action, "forbidden");
    return Message(403, "FORBIDDEN");
  }

  // --- handlers ---

  http::Response Topics(const http::Request& req) {
    if (req.method == "POST") return CreateTopicChannel(req);
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    auto snap = deps.cluster->Latest();
    if (req.QueryValue("inactive").value_or("") == "true") {
      // Topics discovery lists with no producer, with their channels.
      std::set<std::string> active;
      for (const auto& n : snap->nodes) {
        for (size_t i = 0; i < n.producer.topics.size(); ++i) active.insert(n.producer.topics[i]);
        if (n.ok) {
          for (const auto& t : n.stats.topics) active.insert(t.name);
        }
      }
      OrderedJson topics = OrderedJson::object();
      std::vector<std::string> errors = snap->errors;
      for (const auto& t : snap->discovery_topics) {
        if (active.count(t)) continue;
        std::set<std::string> channels;
        for (const auto& d : deps.cluster->discoveries()) {
          auto c = d->ListChannels(t);
          if (c.ok()) {
            channels.insert(c->begin(), c->end());
          } else {
            errors.push_back(absl::StrCat("discovery ", d->name(), ": ", c.status().message()));
          }
        }
        topics[t] = channels.empty() ? OrderedJson(nullptr)
                                     : OrderedJson(std::vector<std::string>(channels.begin(), channels.end()));
      }
      OrderedJson j;
      j["topics"] = topics;
      if (snap->AllFailed()) return Read(*snap, j);
      j["message"] = Warning(errors);
      return JsonResponse(200, j);
    }
    OrderedJson j;
    j["topics"] = AllTopics(*snap);
    return Read(*snap, j);
  }

  http::Response CreateTopicChannel(const http::Request& req) {
    if (auto r = CheckAdmin(req, "create")) return *r;
    Json body;
    if (auto r = ParseBody(req, &body)) return *r;
    const std::string topic = StringField(body, "topic");
    const std::string channel = StringField(body, "channel");
    if (!IsValidName(topic)) return Message(400, "INVALID_TOPIC");
    if (!channel.empty() && !IsValidName(channel)) return Message(400, "INVALID_CHANNEL");
    auto snap = deps.cluster->Latest();
    std::vector<std::function<std::string()>> calls;
    for (const auto& d : deps.cluster->discoveries()) {
      DiscoveryClient* dc = d.get();
      calls.push_back([dc, topic, channel]() -> std::string {
        absl::Status s = channel.empty() ? dc->CreateTopic(topic) : dc->CreateChannel(topic, channel);
        return s.ok() ? "" : absl::StrCat("discovery ", dc->name(), ": ", s.message());
      });
    }
    for (const auto& n : snap->nodes) {
      if (!n.ok) continue;
      bool has_topic = false;
      for (const auto& t : n.stats.topics) has_topic = has_topic || t.name == topic;
      // Without discovery a topic can only be created on the brokers themselves.
      if (!channel.empty() && has_topic) {
        calls.push_back(BrokerCall(n, Action::kCreate, topic, channel));
      } else if (deps.cluster->discoveries().empty()) {
        calls.push_back(BrokerCall(n, Action::kCreate, topic, channel));
      }
    }
    size_t attempted = calls.size();
    auto errors = RunAll(std::move(calls));
    return Finish(req, channel.empty() ? "create_topic" : "create_channel", topic, channel, "", errors,
                  attempted);
  }

  // POST {"action": ...} or DELETE of a topic or channel (`what`): the method, then who
  // may act (first, as nsqadmin does), then the body. An answer to send back, or nullopt
  // with *action set.
  std::optional<http::Response> ParseActionRequest(const http::Request& req, const char* what,
                                                   Action* action) {
    if (req.method != "POST" && req.method != "DELETE") return Message(405, "METHOD_NOT_ALLOWED");
    const bool del = req.method == "DELETE";
    if (auto r = CheckAdmin(req, absl::StrCat(del ? "delete_" : "action_", what))) return *r;
    *action = Action::kDelete;
    if (del) return std::nullopt;
    Json body;
    if (auto r = ParseBody(req, &body)) return *r;
    auto a = ParseAction(StringField(body, "action"));
    if (!a) return Message(400, "INVALID_ACTION");
    *action = *a;
    return std::nullopt;
  }

  http::Response Topic(const http::Request& req, const std::string& topic) {
    auto snap = deps.cluster->Latest();
    if (req.method == "GET") {
      auto view = TopicView(*snap, topic, deps.history, absl::Now());
      if (!view) {
        return NotFound(*snap, "TOPIC_NOT_FOUND");
      }
      return Read(*snap, std::move(*view));
    }
    Action action = Action::kDelete;
    if (auto r = ParseActionRequest(req, "topic", &action)) return *r;
    const std::string name = absl::StrCat(ActionName(action), "_topic");
    std::vector<std::function<std::string()>> calls;
    for (const auto& n : snap->nodes) {
      if (!n.ok) continue;
      for (const auto& t : n.stats.topics) {
        if (t.name == topic) calls.push_back(BrokerCall(n, action, topic, ""));
      }
    }
    const bool in_discovery =
        std::binary_search(snap->discovery_topics.begin(), snap->discovery_topics.end(), topic);
    if (calls.empty() && !in_discovery) {
      return NotFound(*snap, "TOPIC_NOT_FOUND");
    }
    size_t attempted = calls.size();
    auto errors = RunAll(std::move(calls));
    if (action == Action::kDelete) {
      std::vector<std::function<std::string()>> dcalls;
      for (const auto& d : deps.cluster->discoveries()) {
        DiscoveryClient* dc = d.get();
        dcalls.push_back([dc, topic]() -> std::string {
          absl::Status s = dc->DeleteTopic(topic);
          return s.ok() || absl::IsNotFound(s) ? "" : absl::StrCat("discovery ", dc->name(), ": ", s.message());
        });
      }
      attempted += dcalls.size();
      for (auto& e : RunAll(std::move(dcalls))) errors.push_back(std::move(e));
    }
    return Finish(req, name, topic, "", "", errors, attempted);
  }

  // Beyond nsqadmin: GET /api/topics/:topic/:channel/peek?limit=N (per state per broker,
  // default 10, at most 100) asks every broker that has the channel for its messages
  // (nsq.v1.Broker/Peek), unchanged by being looked at. Brokers read over NSQ HTTP cannot
  // peek: they are named in the warning.
  http::Response Peek(const http::Request& req, const std::string& topic, const std::string& channel) {
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    int limit = 10;
    if (auto l = req.QueryValue("limit")) {
      if (!absl::SimpleAtoi(*l, &limit) || limit < 1) return Message(400, "INVALID_LIMIT");
      limit = std::min(limit, 100);
    }
    auto snap = deps.cluster->Latest();
    struct Target {
      std::string id;
      std::string hostname;
      std::shared_ptr<BrokerClient> client;
    };
    std::vector<Target> targets;
    for (const auto& n : snap->nodes) {
      if (!n.ok) continue;
      for (const auto& t : n.stats.topics) {
        if (t.name != topic) continue;
        for (const auto& c : t.channels) {
          if (c.name == channel) targets.push_back({n.id(), n.producer.hostname, deps.cluster->Broker(n)});
        }
      }
    }
    if (targets.empty()) return NotFound(*snap, "CHANNEL_NOT_FOUND");
    std::vector<std::future<absl::StatusOr<std::vector<PeekedMessageInfo>>>> futures;
    for (const Target& t : targets) {
      futures.push_back(std::async(std::launch::async, [client = t.client, topic, channel, limit] {
        return client->Peek(topic, channel, limit);
      }));
    }
    OrderedJson messages = OrderedJson::array();
    std::vector<std::string> errors;
    for (size_t i = 0; i < targets.size(); ++i) {
      absl::StatusOr<std::vector<PeekedMessageInfo>> got = futures[i].get();
      if (!got.ok()) {
        errors.push_back(absl::StrCat("broker ", targets[i].id, ": ", got.status().message()));
        continue;
      }
      for (const PeekedMessageInfo& m : *got) {
        OrderedJson j;
        j["node"] = targets[i].id;
        j["hostname"] = targets[i].hostname;
        j["state"] = m.state;
        j["id"] = m.id;
        j["timestamp"] = m.timestamp_ns;
        j["attempts"] = m.attempts;
        j["body_size"] = m.body.size();
        j["body"] = m.body.substr(0, kPeekBodyShown);  // text; invalid UTF-8 shown as U+FFFD
        j["body_base64"] = absl::Base64Escape(m.body);
        if (m.state == "deferred") j["due"] = m.due_ns;
        if (m.state == "in_flight") {
          j["deadline"] = m.deadline_ns;
          j["client_id"] = m.client_id;
        }
        messages.push_back(std::move(j));
      }
    }
    if (errors.size() == targets.size()) {
      return Message(502, absl::StrCat("UPSTREAM_ERROR: ", absl::StrJoin(errors, "\n")));
    }
    OrderedJson view;
    view["topic_name"] = topic;
    view["channel_name"] = channel;
    view["messages"] = std::move(messages);
    view["message"] = Warning(errors);
    return JsonResponse(200, view);
  }

  http::Response Channel(const http::Request& req, const std::string& topic, const std::string& channel) {
    auto snap = deps.cluster->Latest();
    if (req.method == "GET") {
      auto view = ChannelView(*snap, topic, channel, deps.history, absl::Now());
      if (!view) {
        return NotFound(*snap, "CHANNEL_NOT_FOUND");
      }
      return Read(*snap, std::move(*view));
    }
    Action action = Action::kDelete;
    if (auto r = ParseActionRequest(req, "channel", &action)) return *r;
    const std::string name = absl::StrCat(ActionName(action), "_channel");
    std::vector<std::function<std::string()>> calls;
    for (const auto& n : snap->nodes) {
      if (!n.ok) continue;
      for (const auto& t : n.stats.topics) {
        if (t.name != topic) continue;
        for (const auto& c : t.channels) {
          if (c.name == channel) calls.push_back(BrokerCall(n, action, topic, channel));
        }
      }
    }
    if (calls.empty()) {
      return NotFound(*snap, "CHANNEL_NOT_FOUND");
    }
    size_t attempted = calls.size();
    auto errors = RunAll(std::move(calls));
    if (action == Action::kDelete) {
      std::vector<std::function<std::string()>> dcalls;
      for (const auto& d : deps.cluster->discoveries()) {
        DiscoveryClient* dc = d.get();
        dcalls.push_back([dc, topic, channel]() -> std::string {
          absl::Status s = dc->DeleteChannel(topic, channel);
          return s.ok() || absl::IsNotFound(s) ? "" : absl::StrCat("discovery ", dc->name(), ": ", s.message());
        });
      }
      attempted += dcalls.size();
      for (auto& e : RunAll(std::move(dcalls))) errors.push_back(std::move(e));
    }
    return Finish(req, name, topic, channel, "", errors, attempted);
  }

  http::Response Nodes(const http::Request& req) {
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    auto snap = deps.cluster->Latest();
    return Read(*snap, NodesView(*snap));
  }

  http::Response Node(const http::Request& req, const std::string& node) {
    auto snap = deps.cluster->Latest();
    const NodeSnapshot* n = snap->FindNode(node);
    if (req.method == "GET") {
      auto view = NodeView(*snap, node, deps.history, absl::Now());
      if (!view) return Message(404, "NODE_NOT_FOUND");
      return Read(*snap, std::move(*view));
    }
    if (req.method != "DELETE") return Message(405, "METHOD_NOT_ALLOWED");
    if (auto r = CheckAdmin(req, "tombstone_topic_producer")) return *r;
    Json body;
    if (auto r = ParseBody(req, &body)) return *r;
    const std::string topic = StringField(body, "topic");
    if (!IsValidName(topic)) return Message(400, "INVALID_TOPIC");
    if (n == nullptr) return Message(404, "NODE_NOT_FOUND");
    std::vector<std::function<std::string()>> calls;
    for (const auto& d : deps.cluster->discoveries()) {
      DiscoveryClient* dc = d.get();
      calls.push_back([dc, topic, node]() -> std::string {
        absl::Status s = dc->TombstoneTopicProducer(topic, node);
        return s.ok() ? "" : absl::StrCat("discovery ", dc->name(), ": ", s.message());
      });
    }
    size_t attempted = calls.size();
    auto errors = RunAll(std::move(calls));
    if (n->ok) {
      attempted++;
      for (auto& e : RunAll({BrokerCall(*n, Action::kDelete, topic, "")})) errors.push_back(std::move(e));
    }
    return Finish(req, "tombstone_topic_producer", topic, "", node, errors, attempted);
  }

  http::Response Counter(const http::Request& req) {
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    auto snap = deps.cluster->Latest();
    return Read(*snap, CounterView(*snap));
  }

  http::Response Overview(const http::Request& req) {
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    auto snap = deps.cluster->Latest();
    OrderedJson view = OverviewView(*snap, deps.history);
    view["generation"] = snap->generation;
    view["polled_at"] = absl::ToUnixMillis(snap->time);
    view["admin"] = !acl.enabled() || acl.MayAct(User(req));
    view["stats_interval_ms"] = absl::ToInt64Milliseconds(deps.options->stats_interval);
    view["errors"] = snap->errors;
    return Read(*snap, std::move(view));
  }

  http::Response HistoryApi(const http::Request& req) {
    if (req.method != "GET") return Message(405, "METHOD_NOT_ALLOWED");
    const std::string topic = req.QueryValue("topic").value_or("");
    const std::string channel = req.QueryValue("channel").value_or("");
    const std::string node = req.QueryValue("node").value_or("");
    std::string key;
    if (!node.empty()) {
      key = History::NodeKey(node);
    } else if (!topic.empty() && !channel.empty()) {
      key = History::ChannelKey(topic, channel);
    } else if (!topic.empty()) {
      key = History::TopicKey(topic);
    } else {
      return Message(400, "MISSING_ARG_TOPIC");
    }
    auto points = deps.history->Series(key);
    if (points.empty()) return Message(404, "NOT_FOUND");
    OrderedJson j;
    j["series"] = key;
    j["step_ms"] = absl::ToInt64Milliseconds(deps.options->history_window) /
                   static_cast<int64_t>(deps.history->capacity());
    j["points"] = OrderedJson::array();
    for (const auto& p : points) {
      OrderedJson pt;
      pt["t"] = p.unix_ms;
      pt["depth"] = p.depth;
      pt["in"] = p.rates.in;
      pt["finished"] = p.rates.finished;
      pt["requeued"] = p.rates.requeued;
      pt["timed_out"] = p.rates.timed_out;
      j["points"].push_back(std::move(pt));
    }
    j["message"] = "";
    return JsonResponse(200, j);
  }

  http::Response Config(const http::Request& req, const std::string& opt) {
    if (HostOf(req.remote_address).empty()) return Message(400, "INVALID_REMOTE_ADDR");
    if (!config_cidr.Contains(req.remote_address)) return Message(403, "FORBIDDEN");
    const AdminOptions& o = *deps.options;
    if (req.method == "GET") {
      OrderedJson v;
      if (opt == "nsqlookupd_http_addresses") {
        v = o.lookupd_http_addresses;
      } else if (opt == "discovery_addresses") {
        v = o.discovery_addresses;
      } else if (opt == "nsqd_http_addresses") {
        v = o.nsqd_http_addresses;
      } else if (opt == "log_level") {
        absl::MutexLock lock(&log_mu);
        v = log_level.empty() ? o.log_level : log_level;
      } else {
        return Message(400, "INVALID_OPTION");
      }
      return JsonResponse(200, v);
    }
    if (req.method != "PUT") return Message(405, "METHOD_NOT_ALLOWED");
    if (opt != "log_level") return Message(400, "INVALID_OPTION");
    std::string level = req.body;
    Json parsed = Json::parse(req.body, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_string()) level = parsed.get<std::string>();
    if (!logging::SetLogLevel(level).ok()) return Message(400, "INVALID_VALUE");
    absl::MutexLock lock(&log_mu);
    log_level = level;
    return JsonResponse(200, OrderedJson(level));
  }

  http::Response Static(const std::string& name) {
    const Asset* a = FindAsset(name);
    if (a == nullptr) return Message(404, "NOT_FOUND");
    http::Response r;
    r.content_type = a->content_type;
    r.body.assign(reinterpret_cast<const char*>(a->data), a->size);
    r.headers.push_back({"Cache-Control", "no-cache"});
    return r;
  }

  http::Response Page() {
    const Asset* a = FindAsset("index.html");
    if (a == nullptr) return Message(404, "NOT_FOUND");
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    std::string html(reinterpret_cast<const char*>(a->data), a->size);
    // The pages find the API and their assets under the base path.
    const std::string marker = "{{BASE_PATH}}";
    for (size_t pos = html.find(marker); pos != std::string::npos; pos = html.find(marker, pos)) {
      html.replace(pos, marker.size(), base);
      pos += base.size();
    }
    r.body = std::move(html);
    return r;
  }

  http::Response Dispatch(const http::Request& req) {
    std::string path = req.path;
    if (path + "/" == base) path = base;
    if (!absl::StartsWith(path, base)) return Message(404, "NOT_FOUND");
    std::string rel = path.substr(base.size() - 1);  // keeps the leading '/'
    std::vector<std::string> parts = absl::StrSplit(rel.substr(1), '/', absl::SkipEmpty());
    if (rel == "/ping") return http::Response{.body = "OK"};
    if (rel == "/metrics") {
      http::Response r;
      r.content_type = metrics::kTextContentType;
      r.body = metrics::SerializeText(
          std::vector<std::shared_ptr<prometheus::Collectable>>{metrics_holder, metrics::ProcessCollectable()});
      return r;
    }
    if (!parts.empty() && parts[0] == "api") {
      if (parts.size() == 2 && parts[1] == "topics") return Topics(req);
      if (parts.size() == 3 && parts[1] == "topics") return Topic(req, parts[2]);
      if (parts.size() == 4 && parts[1] == "topics") return Channel(req, parts[2], parts[3]);
      if (parts.size() == 5 && parts[1] == "topics" && parts[4] == "peek") return Peek(req, parts[2], parts[3]);
      if (parts.size() == 2 && parts[1] == "nodes") return Nodes(req);
      if (parts.size() == 3 && parts[1] == "nodes") return Node(req, parts[2]);
      if (parts.size() == 2 && parts[1] == "counter") return Counter(req);
      if (parts.size() == 2 && parts[1] == "overview") return Overview(req);
      if (parts.size() == 2 && parts[1] == "history") return HistoryApi(req);
      return Message(404, "NOT_FOUND");
    }
    if (parts.size() == 2 && parts[0] == "config") return Config(req, parts[1]);
    if (parts.size() == 2 && parts[0] == "static") return Static(parts[1]);
    if (req.method != "GET" && req.method != "HEAD") return Message(405, "METHOD_NOT_ALLOWED");
    // Page URLs of nsqadmin: the single-page UI routes on the client.
    if (parts.empty() || (parts[0] == "topics" && parts.size() <= 3) ||
        (parts[0] == "nodes" && parts.size() <= 2) ||
        (parts.size() == 1 && (parts[0] == "counter" || parts[0] == "lookup"))) {
      return Page();
    }
    return Message(404, "NOT_FOUND");
  }

  std::shared_ptr<prometheus::Collectable> metrics_holder;
  absl::Mutex log_mu;
  std::string log_level ABSL_GUARDED_BY(log_mu);
};

AdminApi::AdminApi(ApiDeps deps) : impl_(std::make_shared<Impl>(std::move(deps))) {
  // The metrics object is owned by the server; a non-owning shared_ptr lets SerializeText use it.
  impl_->metrics_holder =
      std::shared_ptr<prometheus::Collectable>(std::shared_ptr<void>(), impl_->deps.metrics);
}

void AdminApi::Register(http::Server* server) {
  auto impl = impl_;
  server->SetNotFound([impl](const http::Request& r) { return impl->Dispatch(r); });
}

http::Response AdminApi::Handle(const http::Request& request) { return impl_->Dispatch(request); }

}  // namespace nsq::admin
