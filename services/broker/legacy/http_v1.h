#pragma once

// What every nsqd HTTP endpoint shares: the V1 envelope (the X-NSQ-Content-Type header,
// `{"message":...}` errors) and nsqd's query-argument helpers. Private to the gateway.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/http/server.h"
#include "services/broker/core/engine.h"

namespace nsq::legacy {

inline constexpr char kJsonContentType[] = "application/json; charset=utf-8";
inline constexpr char kTextContentType[] = "text/plain; charset=utf-8";

// A response with nsqd's V1 header.
http::Response V1(int status, std::string body, std::string content_type);
http::Response V1Text(std::string body);
http::Response V1Empty();
http::Response V1Json(std::string json);
// `{"message":"<message>"}` with `status`, as nsqd's V1 errors.
http::Response V1Error(int status, std::string_view message);

// nsqd's http_api.ReqParams.Get: the first value, or nullopt when the key is absent.
std::optional<std::string> Param(const http::Request& req, std::string_view name);
// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(const std::string& s);
// Go's strconv.ParseInt(s, 10, 64).
std::optional<int64_t> ParseGoInt(std::string_view s);

// nsqd's getTopicFromQuery: the error response, or nullopt with *topic set. With
// `create`, the topic is created (as nsqd does for /pub, /mpub and /topic/create).
std::optional<http::Response> TopicFromQuery(broker::Engine* engine, const http::Request& req,
                                             std::string* topic, bool create = true);

}  // namespace nsq::legacy
