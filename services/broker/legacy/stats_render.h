#pragma once

// nsqd's /stats body in its two formats, JSON (format=json) and text, from figures
// already gathered (http_stats.cc). No I/O, no clock: `now` is given.

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/broker/core/engine.h"
#include "services/broker/legacy/v2_client_info.h"

namespace nsq::legacy {

// What one /stats answer shows.
struct StatsPage {
  std::string health;  // "OK" or "NOK - <why>"
  absl::Time start_time;
  bool found = true;  // false: a topic filter matched nothing ("topics": null)
  std::vector<broker::TopicStats> topics;  // sorted by name, channels too
  std::vector<V2ClientInfo> producers;     // V2 connections that published, by connect time
  std::map<std::string, V2ClientInfo> v2_by_address;  // every V2 connection
  std::string topic_filter;  // pub_counts of other topics are left out
  bool include_clients = true;
  bool include_mem = true;

  // The V2 details of a consumer; null for a gRPC consumer (or one gone meanwhile).
  const V2ClientInfo* V2For(const broker::ConsumerStats& c) const;
};

// nsqd's JSON, field for field in nsqd's order, written as Go's encoding/json does.
std::string StatsJson(const StatsPage& page);

// nsqd's text format (printf widths and all), as of `now`.
std::string StatsText(const StatsPage& page, absl::Time now);

}  // namespace nsq::legacy
