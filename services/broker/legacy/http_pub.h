#pragma once

// nsqd's /pub and /mpub (text lines or ?binary=true size-prefixed bodies), with nsqd's
// size checks and error codes; with auth on, a bearer secret allowed to publish.

#include "common/http/server.h"
#include "services/broker/core/engine.h"
#include "services/broker/legacy/http_api.h"

namespace nsq::legacy {

// Both answer through `reply`: at once on a bad request, else once the messages are
// durable (--sync-every=1: from the storage's commit thread, without holding an HTTP
// I/O thread for the fsync).
void HandlePub(broker::Engine* engine, const HttpApiOptions& options, const http::Request& req,
               http::Reply reply);
void HandleMpub(broker::Engine* engine, const HttpApiOptions& options, const http::Request& req,
                http::Reply reply);

}  // namespace nsq::legacy
