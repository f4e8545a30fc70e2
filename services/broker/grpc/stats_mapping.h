#pragma once

// The engine's stats as nsq.v1 messages, for GetStats.

#include <vector>

#include "services/broker/core/engine.h"

namespace nsq::v1 {
class GetStatsResponse;
class ChannelPolicy;
class PeekedMessage;
}  // namespace nsq::v1

namespace nsq::broker {

// Appends one nsq.v1.TopicStats per topic to response->topics, in the engine's order,
// with its channels and, with include_clients, their clients. Client-given text
// (client_id, hostname, user_agent) goes through Printable.
void AddTopicStats(const std::vector<TopicStats>& stats, bool include_clients,
                   nsq::v1::GetStatsResponse* response);

// QueuePolicy <-> nsq.v1.ChannelPolicy (validation is the engine's).
QueuePolicy PolicyFromProto(const nsq::v1::ChannelPolicy& proto);
void PolicyToProto(const QueuePolicy& policy, nsq::v1::ChannelPolicy* proto);
void PeekedToProto(const PeekedMessage& peeked, nsq::v1::PeekedMessage* proto);

}  // namespace nsq::broker
