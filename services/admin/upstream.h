#pragma once

// The admin's view of its upstreams: brokers (read with one stats call per poll, acted on
// with the admin calls) and discovery instances. Two implementations of each: gRPC
// (grpc_upstream.h) and NSQ HTTP (http_upstream.h), so one admin runs a mixed cluster.
// Implementations are thread-safe; every call is bounded by the client's timeouts.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/admin/model.h"

namespace nsq::admin {

// The actions nsqadmin fans out to brokers.
enum class Action { kCreate, kDelete, kEmpty, kPause, kUnpause };
const char* ActionName(Action action);  // "create", "delete", ...

class BrokerClient {
 public:
  virtual ~BrokerClient() = default;
  // Every topic, channel and (unless `include_clients` is false) client in one call.
  virtual absl::StatusOr<NodeStats> GetStats(bool include_clients) = 0;
  // `channel` empty: the topic action; else the channel action.
  virtual absl::Status Act(Action action, const std::string& topic, const std::string& channel) = 0;
  // Up to `limit` messages per state (in flight, ready, deferred) of a channel, unchanged
  // (nsq.v1.Broker/Peek). UNIMPLEMENTED for brokers read over NSQ HTTP (nsqd has no peek).
  virtual absl::StatusOr<std::vector<PeekedMessageInfo>> Peek(const std::string& topic,
                                                              const std::string& channel, int limit) {
    return absl::UnimplementedError("peek needs the broker's gRPC port");
  }
};

class DiscoveryClient {
 public:
  virtual ~DiscoveryClient() = default;
  // For messages: "127.0.0.1:4161" or "grpc://127.0.0.1:4162".
  virtual std::string name() const = 0;
  virtual absl::StatusOr<std::vector<Producer>> ListNodes() = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListTopics() = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListChannels(const std::string& topic) = 0;
  virtual absl::Status CreateTopic(const std::string& topic) = 0;
  virtual absl::Status DeleteTopic(const std::string& topic) = 0;
  virtual absl::Status CreateChannel(const std::string& topic, const std::string& channel) = 0;
  virtual absl::Status DeleteChannel(const std::string& topic, const std::string& channel) = 0;
  // `node` is "<broadcast_address>:<http_port>".
  virtual absl::Status TombstoneTopicProducer(const std::string& topic, const std::string& node) = 0;
};

}  // namespace nsq::admin
