#pragma once

// Beyond NSQ on nsqd's HTTP API: a channel's and a topic's QueuePolicy
// (GET/POST /channel/policy, /topic/policy) and GET /channel/peek. Errors in nsqd's V1
// style: 400 with the argument codes nsqd uses (MISSING_ARG_TOPIC, ...) or an
// "E_INVALID ..." message for a bad policy or limit, 404 TOPIC_NOT_FOUND /
// CHANNEL_NOT_FOUND.

#include "common/http/server.h"
#include "services/broker/core/engine.h"

namespace nsq::legacy {

// GET answers the channel's policy; POST replaces it with the JSON body, creating the
// channel (and topic) if missing, as gRPC SetChannelPolicy does.
http::Response HandleChannelPolicy(broker::Engine* engine, const http::Request& req);
// GET answers the topic's default for its new channels; POST replaces it (creating the
// topic if missing).
http::Response HandleTopicPolicy(broker::Engine* engine, const http::Request& req);
// GET ?topic=&channel=&limit=N (per state, default 10, at most 1000).
http::Response HandleChannelPeek(broker::Engine* engine, const http::Request& req);

}  // namespace nsq::legacy
