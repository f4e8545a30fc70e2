#include "services/broker/legacy/http_topic_channel.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "common/names/names.h"
#include "services/broker/legacy/http_v1.h"

namespace nsq::legacy {
namespace {

// nsqd's getExistingTopicFromQuery + GetTopicChannelArgs.
std::optional<http::Response> TopicChannel(broker::Engine* engine, const http::Request& req,
                                           std::string* topic, std::string* channel) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t)) return V1Error(400, "INVALID_ARG_TOPIC");
  std::optional<std::string> c = Param(req, "channel");
  if (!c) return V1Error(400, "MISSING_ARG_CHANNEL");
  if (!names::IsValidName(*c)) return V1Error(400, "INVALID_ARG_CHANNEL");
  if (!engine->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
  *topic = *t;
  *channel = *c;
  return std::nullopt;
}

http::Response ChannelNotFoundOr500(const absl::Status& st) {
  if (st.ok()) return V1Empty();
  if (absl::IsNotFound(st)) {
    return V1Error(404, st.message() == "TOPIC_NOT_FOUND" ? "TOPIC_NOT_FOUND" : "CHANNEL_NOT_FOUND");
  }
  return V1Error(500, "INTERNAL_ERROR");
}

}  // namespace

// For empty/pause: topic must be named, valid (empty only) and exist.
http::Response HandleTopicEmpty(broker::Engine* engine, const http::Request& req) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t)) return V1Error(400, "INVALID_TOPIC");
  if (!engine->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
  absl::Status st = engine->EmptyTopic(*t);
  if (absl::IsNotFound(st)) return V1Error(404, "TOPIC_NOT_FOUND");
  if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
  return V1Empty();
}

http::Response HandleTopicCreate(broker::Engine* engine, const http::Request& req) {
  std::string topic;
  if (auto err = TopicFromQuery(engine, req, &topic)) return *err;
  return V1Empty();
}

http::Response HandleTopicDelete(broker::Engine* engine, const http::Request& req) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t) || !engine->DeleteTopic(*t).ok()) {
    return V1Error(404, "TOPIC_NOT_FOUND");
  }
  return V1Empty();
}

http::Response HandleTopicPause(broker::Engine* engine, const http::Request& req) {
  if (!req.query_status.ok()) return V1Error(400, "INVALID_REQUEST");
  std::optional<std::string> t = Param(req, "topic");
  if (!t) return V1Error(400, "MISSING_ARG_TOPIC");
  if (!names::IsValidName(*t) || !engine->TopicExists(*t)) return V1Error(404, "TOPIC_NOT_FOUND");
  const bool pause = !absl::StrContains(req.path, "unpause");
  absl::Status st = engine->SetTopicPaused(*t, pause);
  if (absl::IsNotFound(st)) return V1Error(404, "TOPIC_NOT_FOUND");
  if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
  return V1Empty();
}

http::Response HandleChannelCreate(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = TopicChannel(engine, req, &topic, &channel)) return *err;
  absl::Status st = engine->CreateChannel(topic, channel);
  if (!st.ok()) return V1Error(500, "INTERNAL_ERROR");
  return V1Empty();
}

http::Response HandleChannelDelete(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = TopicChannel(engine, req, &topic, &channel)) return *err;
  absl::Status st = engine->DeleteChannel(topic, channel);
  if (!st.ok()) return V1Error(404, st.message() == "TOPIC_NOT_FOUND" ? "TOPIC_NOT_FOUND" : "CHANNEL_NOT_FOUND");
  return V1Empty();
}

http::Response HandleChannelEmpty(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = TopicChannel(engine, req, &topic, &channel)) return *err;
  return ChannelNotFoundOr500(engine->EmptyChannel(topic, channel));
}

http::Response HandleChannelPause(broker::Engine* engine, const http::Request& req) {
  std::string topic, channel;
  if (auto err = TopicChannel(engine, req, &topic, &channel)) return *err;
  const bool pause = !absl::StrContains(req.path, "unpause");
  return ChannelNotFoundOr500(engine->SetChannelPaused(topic, channel, pause));
}

}  // namespace nsq::legacy
