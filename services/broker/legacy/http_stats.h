#pragma once

// nsqd's /stats: reads the query (format, topic, channel, include_clients,
// include_mem), gathers the engine's figures and the V2 connections', and renders them
// with stats_render.

#include "absl/time/time.h"
#include "common/http/server.h"
#include "services/broker/core/engine.h"
#include "services/broker/legacy/v2_server.h"

namespace nsq::legacy {

// `v2` may be null (no V2 listener): no V2 details, no producers.
http::Response HandleStats(broker::Engine* engine, const V2Server* v2, absl::Time start_time,
                           const http::Request& req);

}  // namespace nsq::legacy
