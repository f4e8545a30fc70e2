#pragma once

// The engine's stats as nsq.v1 messages, for GetStats.

#include <vector>

#include "services/broker/core/engine.h"

namespace nsq::v1 {
class GetStatsResponse;
}  // namespace nsq::v1

namespace nsq::broker {

// Appends one nsq.v1.TopicStats per topic to response->topics, in the engine's order,
// with its channels and, with include_clients, their clients. Client-given text
// (client_id, hostname, user_agent) goes through Printable.
void AddTopicStats(const std::vector<TopicStats>& stats, bool include_clients,
                   nsq::v1::GetStatsResponse* response);

}  // namespace nsq::broker
