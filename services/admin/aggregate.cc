#include "services/admin/aggregate.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nsq::admin {
namespace {

OrderedJson E2e(const std::string& topic, const std::string& channel, const std::string& host) {
  OrderedJson e;
  e["count"] = 0;
  e["percentiles"] = nullptr;
  e["topic"] = topic;
  e["channel"] = channel;
  e["host"] = host;
  return e;
}

// A float64 as Go prints it: integral values without ".0".
OrderedJson GoNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15) return static_cast<int64_t>(v);
  return v;
}

// One node's e2e_processing_latency as nsqadmin reads it (E2eProcessingLatencyAggregate's
// UnmarshalJSON): each percentile gets min = max = average = value and count = the
// node's count; Go sorts the map keys.
OrderedJson NodeE2e(const E2eInfo& e2e) {
  OrderedJson e = E2e("", "", "");
  if (e2e.percentiles.empty()) {
    e["count"] = e2e.count;
    return e;
  }
  e["count"] = e2e.count;
  e["percentiles"] = OrderedJson::array();
  for (const auto& p : e2e.percentiles) {
    OrderedJson q;
    q["average"] = GoNumber(p.value);
    q["count"] = e2e.count;
    q["max"] = GoNumber(p.value);
    q["min"] = GoNumber(p.value);
    q["quantile"] = GoNumber(p.quantile);
    q["value"] = GoNumber(p.value);
    e["percentiles"].push_back(std::move(q));
  }
  return e;
}

// nsqadmin's E2eProcessingLatencyAggregate.Add over node rows: counts summed; per quantile
// the max of the maxima, the count-weighted average, and (as nsqadmin computes it) min
// = the last node's max.
OrderedJson SumE2e(const std::string& topic, const std::string& channel,
                   const std::vector<OrderedJson>& rows) {
  OrderedJson e = E2e(topic, channel, "*");
  int64_t count = 0;
  struct Acc {
    double quantile, max = 0, min = 0, count = 0, average = 0;
  };
  std::vector<Acc> acc;
  for (const auto& r : rows) {
    const OrderedJson& n = r["e2e_processing_latency"];
    count += n.value("count", int64_t{0});
    if (!n["percentiles"].is_array()) continue;
    for (const auto& v : n["percentiles"]) {
      const double q = v.value("quantile", 0.0);
      auto it = std::find_if(acc.begin(), acc.end(), [&](const Acc& a) { return a.quantile == q; });
      if (it == acc.end()) {
        acc.push_back(Acc{q});
        it = acc.end() - 1;
      }
      const double vmax = v.value("max", 0.0);
      it->max = std::max(vmax, it->max);
      it->min = std::min(vmax, it->max);
      it->count += v.value("count", 0.0);
      if (it->count == 0) {
        it->average = 0;
        continue;
      }
      it->average += (v.value("average", 0.0) - it->average) * v.value("count", 0.0) / it->count;
    }
  }
  e["count"] = count;
  if (!acc.empty()) {
    e["percentiles"] = OrderedJson::array();
    for (const Acc& a : acc) {
      OrderedJson q;
      q["average"] = GoNumber(a.average);
      q["count"] = GoNumber(a.count);
      q["max"] = GoNumber(a.max);
      q["min"] = GoNumber(a.min);
      q["quantile"] = GoNumber(a.quantile);
      e["percentiles"].push_back(std::move(q));
    }
  }
  return e;
}

// Beyond nsqadmin: a channel's policy and its counters, only when it has a policy or a
// counter moved (nsq.v1.ChannelStats; brokers read over NSQ HTTP show none).
constexpr const char* kPolicyCounters[] = {"attempts_exceeded_count", "expired_count", "dead_letter_count",
                                           "depth_dropped_count", "depth_rejected_count"};

void AddPolicy(OrderedJson& j, const ChannelInfo& c) {
  const int64_t counters[] = {c.attempts_exceeded_count, c.expired_count, c.dead_letter_count,
                              c.depth_dropped_count, c.depth_rejected_count};
  bool any = c.has_policy;
  for (int64_t v : counters) any = any || v != 0;
  if (!any) return;
  if (c.has_policy) {
    OrderedJson p;
    p["max_attempts"] = c.policy.max_attempts;
    p["dead_letter_topic"] = c.policy.dead_letter_topic;
    p["message_ttl_ms"] = c.policy.message_ttl_ms;
    p["dead_letter_expired"] = c.policy.dead_letter_expired;
    p["max_depth"] = c.policy.max_depth;
    p["depth_policy"] = c.policy.depth_policy;
    j["policy"] = std::move(p);
  }
  for (size_t i = 0; i < std::size(kPolicyCounters); ++i) j[kPolicyCounters[i]] = counters[i];
}

void SumPolicy(OrderedJson& j, const std::vector<OrderedJson>& rows) {
  bool any = false;
  for (const auto& r : rows) {
    if (r.contains("policy") && !j.contains("policy")) j["policy"] = r["policy"];
    any = any || r.contains(kPolicyCounters[0]);
  }
  if (!any) return;
  for (const char* k : kPolicyCounters) {
    int64_t total = 0;
    for (const auto& r : rows) total += r.value(k, int64_t{0});
    j[k] = total;
  }
}

OrderedJson RateJson(const History* history, const std::string& key) {
  if (history == nullptr) return nullptr;
  std::optional<Rates> r = history->CurrentRates(key);
  if (!r) return nullptr;
  OrderedJson j;
  j["in"] = r->in;
  j["finished"] = r->finished;
  j["requeued"] = r->requeued;
  j["timed_out"] = r->timed_out;
  return j;
}

std::string Hostname(const NodeSnapshot& n) {
  return n.producer.hostname.empty() ? n.producer.broadcast_address : n.producer.hostname;
}

OrderedJson ClientJson(const NodeSnapshot& n, const ClientInfo& c, absl::Time now) {
  OrderedJson j;
  j["node"] = n.id();
  j["remote_address"] = c.remote_address;
  j["version"] = c.protocol;
  j["client_id"] = c.client_id;
  j["hostname"] = c.hostname;
  j["user_agent"] = c.user_agent;
  j["connect_ts"] = c.connect_ts;
  const int64_t now_s = absl::ToUnixSeconds(now);
  j["connected"] = std::max<int64_t>(0, now_s - c.connect_ts) * 1000000000;
  j["in_flight_count"] = c.in_flight_count;
  j["ready_count"] = c.ready_count;
  j["finish_count"] = c.finish_count;
  j["requeue_count"] = c.requeue_count;
  j["message_count"] = c.message_count;
  j["sample_rate"] = c.sample_rate;
  j["deflate"] = c.deflate;
  j["snappy"] = c.snappy;
  j["authed"] = c.authed;
  j["auth_identity"] = c.auth_identity;
  j["auth_identity_url"] = c.auth_identity_url;
  // omitempty in nsqadmin (node_topology_* would come before: not shown yet).
  if (!c.topology_region.empty()) j["topology_region"] = c.topology_region;
  if (!c.topology_zone.empty()) j["topology_zone"] = c.topology_zone;
  j["tls"] = c.tls;
  j["tls_cipher_suite"] = c.tls_cipher_suite;
  j["tls_version"] = c.tls_version;
  j["tls_negotiated_protocol"] = "";
  j["tls_negotiated_protocol_is_mutual"] = false;
  return j;
}

// One node's channel row. `with_clients`: the clients array, else null.
OrderedJson NodeChannelJson(const NodeSnapshot& n, const std::string& topic, const ChannelInfo& c,
                            bool with_clients, absl::Time now) {
  OrderedJson j;
  j["node"] = n.id();
  j["hostname"] = Hostname(n);
  j["topic_name"] = topic;
  j["channel_name"] = c.name;
  j["depth"] = c.depth;
  j["memory_depth"] = c.depth - c.backend_depth;
  j["backend_depth"] = c.backend_depth;
  j["in_flight_count"] = c.in_flight_count;
  j["deferred_count"] = c.deferred_count;
  j["requeue_count"] = c.requeue_count;
  j["timeout_count"] = c.timeout_count;
  j["message_count"] = c.message_count;
  // nsqadmin: the sum of the three topology counters, each omitted when zero.
  const int64_t delivered = c.zone_local_msg_count + c.region_local_msg_count + c.global_msg_count;
  if (delivered != 0) j["delivery_msg_count"] = delivered;
  if (c.zone_local_msg_count != 0) j["zone_local_msg_count"] = c.zone_local_msg_count;
  if (c.region_local_msg_count != 0) j["region_local_msg_count"] = c.region_local_msg_count;
  if (c.global_msg_count != 0) j["global_msg_count"] = c.global_msg_count;
  j["client_count"] = c.client_count;
  j["nodes"] = nullptr;
  if (with_clients) {
    j["clients"] = OrderedJson::array();
    for (const auto& cl : c.clients) j["clients"].push_back(ClientJson(n, cl, now));
  } else {
    j["clients"] = nullptr;
  }
  j["paused"] = c.paused;
  j["e2e_processing_latency"] = NodeE2e(c.e2e);
  AddPolicy(j, c);
  return j;
}

OrderedJson NodeTopicJson(const NodeSnapshot& n, const TopicInfo& t, bool with_clients,
                          absl::Time now) {
  OrderedJson j;
  j["node"] = n.id();
  j["hostname"] = Hostname(n);
  j["topic_name"] = t.name;
  j["depth"] = t.depth;
  j["memory_depth"] = t.depth - t.backend_depth;
  j["backend_depth"] = t.backend_depth;
  j["message_count"] = t.message_count;
  // Always 0 in nsqadmin: nsqd's topic stats carry no topology counters to sum.
  j["delivery_msg_count"] = 0;
  j["nodes"] = nullptr;
  j["channels"] = OrderedJson::array();
  for (const auto& c : t.channels) j["channels"].push_back(NodeChannelJson(n, t.name, c, with_clients, now));
  j["paused"] = t.paused;
  j["e2e_processing_latency"] = NodeE2e(t.e2e);
  return j;
}

const TopicInfo* FindTopic(const NodeSnapshot& n, const std::string& topic) {
  if (!n.ok) return nullptr;
  auto it = std::lower_bound(n.stats.topics.begin(), n.stats.topics.end(), topic,
                             [](const TopicInfo& t, const std::string& name) { return t.name < name; });
  if (it != n.stats.topics.end() && it->name == topic) return &*it;
  for (const auto& t : n.stats.topics) {  // unsorted input
    if (t.name == topic) return &t;
  }
  return nullptr;
}

const ChannelInfo* FindChannel(const TopicInfo& t, const std::string& channel) {
  for (const auto& c : t.channels) {
    if (c.name == channel) return &c;
  }
  return nullptr;
}

// Sums node channel rows (already rendered) into nsqadmin's "*" channel.
OrderedJson SumChannels(const std::string& topic, const std::string& channel,
                        const std::vector<OrderedJson>& rows, bool merge_clients) {
  OrderedJson j;
  j["node"] = "*";
  j["hostname"] = "";
  j["topic_name"] = topic;
  j["channel_name"] = channel;
  // The topology counters are omitted (omitempty) when their sum is 0.
  const char* sums[] = {"depth", "memory_depth", "backend_depth", "in_flight_count", "deferred_count",
                        "requeue_count", "timeout_count", "message_count", "delivery_msg_count",
                        "zone_local_msg_count", "region_local_msg_count", "global_msg_count",
                        "client_count"};
  for (const char* k : sums) {
    const bool optional = absl::EndsWith(k, "_msg_count");
    int64_t total = 0;
    for (const auto& r : rows) total += r.contains(k) ? r[k].get<int64_t>() : 0;
    if (!optional || total != 0) j[k] = total;
  }
  j["nodes"] = rows;
  if (merge_clients) {
    std::vector<OrderedJson> clients;
    for (const auto& r : rows) {
      if (r["clients"].is_array()) {
        for (const auto& c : r["clients"]) clients.push_back(c);
      }
    }
    std::stable_sort(clients.begin(), clients.end(), [](const OrderedJson& a, const OrderedJson& b) {
      return a["hostname"].get<std::string>() < b["hostname"].get<std::string>();
    });
    j["clients"] = clients;
  } else {
    j["clients"] = nullptr;
  }
  bool paused = false;
  for (const auto& r : rows) paused = paused || r["paused"].get<bool>();
  j["paused"] = paused;
  j["e2e_processing_latency"] = SumE2e(topic, channel, rows);
  SumPolicy(j, rows);
  return j;
}

}  // namespace

int CompareVersions(const std::string& a, const std::string& b) {
  auto parts = [](const std::string& v) {
    std::vector<int> out;
    std::string core = v.substr(0, v.find_first_of("-+ "));
    for (absl::string_view p : absl::StrSplit(core, '.')) {
      int x = 0;
      for (char ch : p) {
        if (ch < '0' || ch > '9') break;
        x = x * 10 + (ch - '0');
        if (x > 1000000) break;
      }
      out.push_back(x);
    }
    out.resize(3, 0);
    return out;
  };
  auto pa = parts(a), pb = parts(b);
  for (int i = 0; i < 3; ++i) {
    if (pa[i] != pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

std::vector<std::string> AllTopics(const Snapshot& snap) {
  std::set<std::string> all(snap.discovery_topics.begin(), snap.discovery_topics.end());
  for (const auto& n : snap.nodes) {
    if (!n.ok) continue;
    for (const auto& t : n.stats.topics) all.insert(t.name);
  }
  return std::vector<std::string>(all.begin(), all.end());
}

std::optional<OrderedJson> TopicView(const Snapshot& snap, const std::string& topic,
                                     const History* history, absl::Time now) {
  std::vector<OrderedJson> node_rows;
  std::map<std::string, std::vector<OrderedJson>> channel_rows;  // sorted by channel name
  int64_t depth = 0, backend = 0, messages = 0;
  bool paused = false;
  for (const auto& n : snap.nodes) {
    const TopicInfo* t = FindTopic(n, topic);
    if (t == nullptr) continue;
    node_rows.push_back(NodeTopicJson(n, *t, false, now));
    for (const auto& c : t->channels) channel_rows[c.name].push_back(NodeChannelJson(n, topic, c, false, now));
    depth += t->depth;
    backend += t->backend_depth;
    messages += t->message_count;
    paused = paused || t->paused;
  }
  if (node_rows.empty() &&
      !std::binary_search(snap.discovery_topics.begin(), snap.discovery_topics.end(), topic)) {
    return std::nullopt;
  }
  std::stable_sort(node_rows.begin(), node_rows.end(), [](const OrderedJson& a, const OrderedJson& b) {
    return a["hostname"].get<std::string>() < b["hostname"].get<std::string>();
  });
  OrderedJson j;
  j["node"] = "*";
  j["hostname"] = "";
  j["topic_name"] = topic;
  j["depth"] = depth;
  j["memory_depth"] = depth - backend;
  j["backend_depth"] = backend;
  j["message_count"] = messages;
  j["delivery_msg_count"] = 0;  // as in NodeTopicJson
  j["nodes"] = node_rows;
  j["channels"] = OrderedJson::array();
  for (const auto& [name, rows] : channel_rows) {
    OrderedJson c = SumChannels(topic, name, rows, false);
    c["rate"] = RateJson(history, History::ChannelKey(topic, name));
    j["channels"].push_back(std::move(c));
  }
  j["paused"] = paused;
  j["e2e_processing_latency"] = SumE2e(topic, "", node_rows);
  j["rate"] = RateJson(history, History::TopicKey(topic));
  return j;
}

std::optional<OrderedJson> ChannelView(const Snapshot& snap, const std::string& topic,
                                       const std::string& channel, const History* history,
                                       absl::Time now) {
  std::vector<OrderedJson> rows;
  for (const auto& n : snap.nodes) {
    const TopicInfo* t = FindTopic(n, topic);
    if (t == nullptr) continue;
    const ChannelInfo* c = FindChannel(*t, channel);
    if (c == nullptr) continue;
    rows.push_back(NodeChannelJson(n, topic, *c, true, now));
  }
  if (rows.empty()) return std::nullopt;
  std::stable_sort(rows.begin(), rows.end(), [](const OrderedJson& a, const OrderedJson& b) {
    return a["hostname"].get<std::string>() < b["hostname"].get<std::string>();
  });
  OrderedJson j = SumChannels(topic, channel, rows, true);
  j["rate"] = RateJson(history, History::ChannelKey(topic, channel));
  return j;
}

OrderedJson NodesView(const Snapshot& snap) {
  std::string newest = "0.0.0";
  for (const auto& n : snap.nodes) {
    if (CompareVersions(n.producer.version, newest) > 0) newest = n.producer.version;
  }
  std::vector<const NodeSnapshot*> sorted;
  for (const auto& n : snap.nodes) sorted.push_back(&n);
  std::stable_sort(sorted.begin(), sorted.end(), [](const NodeSnapshot* a, const NodeSnapshot* b) {
    return a->producer.hostname < b->producer.hostname;
  });
  OrderedJson nodes = OrderedJson::array();
  for (const NodeSnapshot* n : sorted) {
    const Producer& p = n->producer;
    OrderedJson j;
    j["remote_addresses"] = p.remote_addresses;
    j["remote_address"] = p.remote_address;
    j["hostname"] = p.hostname;
    j["broadcast_address"] = p.broadcast_address;
    j["tcp_port"] = p.tcp_port;
    j["http_port"] = p.http_port;
    j["version"] = p.version;
    std::vector<std::pair<std::string, bool>> topics;
    for (size_t i = 0; i < p.topics.size(); ++i) topics.emplace_back(p.topics[i], p.tombstones[i]);
    std::sort(topics.begin(), topics.end());
    j["topics"] = OrderedJson::array();
    for (const auto& [t, tomb] : topics) {
      OrderedJson pt;
      pt["topic"] = t;
      pt["tombstoned"] = tomb;
      j["topics"].push_back(pt);
    }
    j["out_of_date"] = CompareVersions(p.version, newest) < 0;
    j["grpc_port"] = p.grpc_port;
    j["transport"] = n->via_grpc ? "grpc" : "http";
    j["ok"] = n->ok;
    j["error"] = n->error;
    nodes.push_back(std::move(j));
  }
  OrderedJson out;
  out["nodes"] = nodes;
  return out;
}

std::optional<OrderedJson> NodeView(const Snapshot& snap, const std::string& node,
                                    const History* history, absl::Time now) {
  const NodeSnapshot* n = snap.FindNode(node);
  if (n == nullptr) return std::nullopt;
  OrderedJson j;
  j["node"] = node;
  j["topics"] = OrderedJson::array();
  int64_t total_messages = 0, total_clients = 0;
  for (const auto& t : n->stats.topics) {
    j["topics"].push_back(NodeTopicJson(*n, t, true, now));
    total_messages += t.message_count;
    for (const auto& c : t.channels) total_clients += c.client_count;
  }
  j["total_messages"] = total_messages;
  j["total_clients"] = total_clients;
  j["version"] = n->producer.version;
  j["transport"] = n->via_grpc ? "grpc" : "http";
  j["rate"] = RateJson(history, History::NodeKey(node));
  return j;
}

OrderedJson CounterView(const Snapshot& snap) {
  OrderedJson stats = OrderedJson::object();
  std::map<std::string, OrderedJson> sorted;
  for (const auto& n : snap.nodes) {
    if (!n.ok) continue;
    for (const auto& t : n.stats.topics) {
      for (const auto& c : t.channels) {
        OrderedJson e;
        e["node"] = n.id();
        e["topic_name"] = t.name;
        e["channel_name"] = c.name;
        e["message_count"] = c.message_count;
        sorted[absl::StrCat(t.name, ":", c.name, ":", n.id())] = std::move(e);
      }
    }
  }
  for (auto& [k, v] : sorted) stats[k] = std::move(v);
  OrderedJson out;
  out["stats"] = stats;
  return out;
}

OrderedJson OverviewView(const Snapshot& snap, const History* history) {
  struct Row {
    int64_t depth = 0, messages = 0, channel_depth = 0;
    std::set<std::string> channels;
    int nodes = 0;
    bool paused = false;
  };
  std::map<std::string, Row> rows;
  for (const auto& t : snap.discovery_topics) rows[t];
  int64_t total_depth = 0, total_messages = 0;
  for (const auto& n : snap.nodes) {
    if (!n.ok) continue;
    for (const auto& t : n.stats.topics) {
      Row& r = rows[t.name];
      r.depth += t.depth;
      r.messages += t.message_count;
      r.nodes++;
      r.paused = r.paused || t.paused;
      for (const auto& c : t.channels) {
        r.channels.insert(c.name);
        r.channel_depth += c.depth;
      }
      total_depth += t.depth;
      total_messages += t.message_count;
    }
  }
  OrderedJson topics = OrderedJson::array();
  double total_rate = 0;
  for (const auto& [name, r] : rows) {
    OrderedJson j;
    j["topic_name"] = name;
    j["depth"] = r.depth;
    j["channel_depth"] = r.channel_depth;
    j["message_count"] = r.messages;
    j["channel_count"] = r.channels.size();
    j["node_count"] = r.nodes;
    j["paused"] = r.paused;
    j["rate"] = RateJson(history, History::TopicKey(name));
    if (j["rate"].is_object()) total_rate += j["rate"]["in"].get<double>();
    topics.push_back(std::move(j));
  }
  OrderedJson out;
  out["topics"] = topics;
  out["total_depth"] = total_depth;
  out["total_messages"] = total_messages;
  out["total_rate"] = total_rate;
  out["node_count"] = snap.nodes.size();
  return out;
}

std::map<std::string, Counters> SeriesOf(const Snapshot& snap) {
  std::map<std::string, Counters> out;
  for (const auto& n : snap.nodes) {
    if (!n.ok) continue;
    Counters& node = out[History::NodeKey(n.id())];
    for (const auto& t : n.stats.topics) {
      Counters& topic = out[History::TopicKey(t.name)];
      topic.depth += t.depth;
      topic.messages += t.message_count;
      node.depth += t.depth;
      node.messages += t.message_count;
      for (const auto& c : t.channels) {
        Counters& ch = out[History::ChannelKey(t.name, c.name)];
        const int64_t backlog = c.depth + c.in_flight_count + c.deferred_count;
        ch.depth += c.depth;
        ch.messages += c.message_count;
        ch.delivered_in += c.message_count;
        ch.backlog += backlog;
        ch.requeued += c.requeue_count;
        ch.timed_out += c.timeout_count;
        for (Counters* sum : {&topic, &node}) {
          sum->delivered_in += c.message_count;
          sum->backlog += backlog;
          sum->requeued += c.requeue_count;
          sum->timed_out += c.timeout_count;
        }
      }
    }
  }
  return out;
}

}  // namespace nsq::admin
