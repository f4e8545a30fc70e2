#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/broker/core/policy.h"

namespace nsq::broker {

// The engine's share of nsqd's options (nsq.md 1.1); the service's options struct holds
// the flags and copies them here.
struct EngineOptions {
  int64_t node_id = 0;                                 // --node-id, part of message ids
  int64_t mem_queue_size = 10000;                      // per topic and per channel
  absl::Duration msg_timeout = absl::Seconds(60);      // default in-flight timeout
  absl::Duration max_msg_timeout = absl::Minutes(15);  // bound of consumer timeout and TOUCH
  int64_t max_msg_size = 1048576;                      // bytes per message body
  absl::Duration max_req_timeout = absl::Hours(1);     // REQ delay clamp, DPUB bound
  int64_t max_rdy_count = 2500;                        // bound of a consumer's RDY
  int64_t max_channel_consumers = 0;                   // 0 = unlimited
  // nsqd's --topology-zone / --topology-region, and whether
  // --enable-experiment=topology-aware-consumption is on: together they class each
  // consumer as zone-local, region-local or global for the channel's delivery counters.
  std::string topology_zone;
  std::string topology_region;
  bool topology_aware_consumption = false;
  // Beyond NSQ: the policy of every topic's new channels unless the topic says otherwise
  // (the --max-attempts, --dead-letter-topic, --message-ttl, --max-depth flags).
  QueuePolicy default_policy;
  // End-to-end latency (publish to FIN) per channel: the Prometheus histogram when
  // record_e2e_latency, and nsqd's windowed percentiles when e2e_percentiles is not empty
  // (--e2e-processing-latency-percentile, --e2e-processing-latency-window-time).
  bool record_e2e_latency = true;
  std::vector<double> e2e_percentiles;
  absl::Duration e2e_window = absl::Minutes(10);
};

}  // namespace nsq::broker
