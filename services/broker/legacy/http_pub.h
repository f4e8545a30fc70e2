#pragma once

// nsqd's /pub and /mpub (text lines or ?binary=true size-prefixed bodies), with nsqd's
// size checks and error codes; with auth on, a bearer secret allowed to publish.

#include "common/http/server.h"
#include "services/broker/core/engine.h"
#include "services/broker/legacy/http_api.h"

namespace nsq::legacy {

http::Response HandlePub(broker::Engine* engine, const HttpApiOptions& options,
                         const http::Request& req);
http::Response HandleMpub(broker::Engine* engine, const HttpApiOptions& options,
                          const http::Request& req);

}  // namespace nsq::legacy
