#pragma once

// nsqadmin's JSON views (nsq.md 3.3) computed from one Snapshot: topics summed across
// nodes, channels summed across nodes, per-node rows, clients, nodes and the counter.
// Pure functions, no I/O; the API adds "message". Our additions to nsqadmin's shapes are
// extra keys only ("rate", "grpc_port", "transport"), so scripts written against
// nsqadmin keep working.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "services/admin/cluster.h"
#include "services/admin/history.h"

namespace nsq::admin {

using OrderedJson = nlohmann::ordered_json;

// Every topic in discovery or on a broker, sorted.
std::vector<std::string> AllTopics(const Snapshot& snap);

// GET /api/topics/:topic; nullopt when no broker has the topic and discovery does not list it.
std::optional<OrderedJson> TopicView(const Snapshot& snap, const std::string& topic,
                                     const History* history, absl::Time now);
// GET /api/topics/:topic/:channel; nullopt when no broker has the channel.
std::optional<OrderedJson> ChannelView(const Snapshot& snap, const std::string& topic,
                                       const std::string& channel, const History* history,
                                       absl::Time now);
// GET /api/nodes: {"nodes":[...]}.
OrderedJson NodesView(const Snapshot& snap);
// GET /api/nodes/:node; nullopt for an unknown node.
std::optional<OrderedJson> NodeView(const Snapshot& snap, const std::string& node,
                                    const History* history, absl::Time now);
// GET /api/counter: {"stats":{...}}.
OrderedJson CounterView(const Snapshot& snap);
// The overview: per topic depth, message count, channel count, paused, rate; and totals.
OrderedJson OverviewView(const Snapshot& snap, const History* history);

// The series the history keeps for one snapshot: per topic and channel (summed across
// nodes) and per node.
std::map<std::string, Counters> SeriesOf(const Snapshot& snap);

// Compares "1.3.0"-style versions numerically; malformed parts count as 0.
int CompareVersions(const std::string& a, const std::string& b);

}  // namespace nsq::admin
