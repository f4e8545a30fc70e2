#pragma once

// nsqd's /topic/* and /channel/* actions: create, delete, empty, pause and unpause (the
// path says which), with nsqd's argument checks and error codes.

#include "common/http/server.h"
#include "services/broker/core/engine.h"

namespace nsq::legacy {

http::Response HandleTopicCreate(broker::Engine* engine, const http::Request& req);
http::Response HandleTopicDelete(broker::Engine* engine, const http::Request& req);
http::Response HandleTopicEmpty(broker::Engine* engine, const http::Request& req);
// /topic/pause and /topic/unpause.
http::Response HandleTopicPause(broker::Engine* engine, const http::Request& req);
http::Response HandleChannelCreate(broker::Engine* engine, const http::Request& req);
http::Response HandleChannelDelete(broker::Engine* engine, const http::Request& req);
http::Response HandleChannelEmpty(broker::Engine* engine, const http::Request& req);
// /channel/pause and /channel/unpause.
http::Response HandleChannelPause(broker::Engine* engine, const http::Request& req);

}  // namespace nsq::legacy
