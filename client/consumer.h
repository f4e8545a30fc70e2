#pragma once

// A consumer of one topic/channel that finds its brokers through discovery (Lookup, then
// a Watch stream: a broker that registers the topic is connected at once, no polling) or
// from a fixed list, subscribes to every one over gRPC and spreads its max_in_flight as
// RDY across those connections. Generated gRPC code stays in the .cc.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace nsq::client {

struct Message {
  std::string id;  // 16 bytes
  int64_t timestamp_ns = 0;
  uint32_t attempts = 0;
  std::string body;
  std::string broker;  // gRPC "host:port" it came from
};

// Called for every message, on the thread of the broker connection it came from (so
// concurrently for different brokers). true: FIN; false: REQ after requeue_delay.
using Handler = std::function<bool(const Message&)>;

struct ConsumerOptions {
  std::string topic;
  std::string channel;
  std::vector<std::string> discovery_addresses;  // Discovery gRPC "host:port"
  std::vector<std::string> broker_addresses;     // Broker gRPC "host:port", used as is
  // Most messages in flight across all brokers. With more brokers than this, the first
  // ones (by address) get RDY 1 and the rest 0.
  int64_t max_in_flight = 1;
  absl::Duration requeue_delay = absl::ZeroDuration();
  // Wait before reconnecting a lost discovery Watch or a still-listed broker.
  absl::Duration reconnect_interval = absl::Seconds(1);
  absl::Duration lookup_timeout = absl::Seconds(2);
  std::string client_id;
  std::string hostname;
  std::string user_agent = "nsq-cpp-client/0.1";
};

// Thread-safe.
class Consumer {
 public:
  Consumer(ConsumerOptions options, Handler handler);
  ~Consumer();  // Stops.
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // InvalidArgument without a topic, channel, handler or any address.
  absl::Status Start();
  // Closes every connection (in-flight messages go back to their channels) and joins
  // the threads. Idempotent.
  void Stop();

  // Brokers with a subscribed connection, sorted.
  std::vector<std::string> ConnectedBrokers() const;
  // Messages handed to the handler so far.
  int64_t received() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsq::client
