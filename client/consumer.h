#pragma once

// A consumer of one topic/channel with go-nsq's behaviour (nsq.md 5.3-5.5): finds its
// brokers through our discovery (gRPC Lookup + Watch), through any nsqlookupd's HTTP
// /lookup (polled every lookupd_poll_interval), or from fixed addresses; subscribes to
// each over gRPC or NSQ's protocol V2; spreads max_in_flight as RDY across them (and
// redistributes it), backs off on failures, FINs messages past max_attempts (after a
// hook), requeues failures with default_requeue_delay x attempts, reconnects with
// backoff, and stops gracefully. Generated gRPC code stays in the .cc files.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/config.h"

namespace nsq::client {

namespace internal {
class MessageState;
}

// A delivered message. Copies share one response: the first Finish/Requeue wins.
struct Message {
  std::string id;  // 16 bytes
  int64_t timestamp_ns = 0;
  uint32_t attempts = 0;
  std::string body;
  std::string broker;  // "host:port" it came from (gRPC or TCP)

  // Thread-safe; later calls after the first response do nothing.
  void Finish() const;
  // REQ. A negative delay means the automatic one (default_requeue_delay x attempts,
  // capped by max_requeue_delay). `backoff`: whether this failure slows the consumer.
  void Requeue(absl::Duration delay = absl::Seconds(-1), bool backoff = true) const;
  void Touch() const;
  bool responded() const;

  std::shared_ptr<internal::MessageState> state;
};

// FINs many messages with one write per broker connection (the messages may come from
// several).
void FinishAll(const std::vector<Message>& messages);

// Called for every message on the thread of the broker connection it came from (so
// concurrently for different brokers). true: FIN; false: REQ with the automatic delay and
// a backoff signal.
using Handler = std::function<bool(const Message&)>;
// As Handler, but the message is answered later (Finish/Requeue, from any thread).
using AsyncHandler = std::function<void(Message)>;
// Wraps an AsyncHandler (a lambda taking a Message converts to either kind).
struct Async {
  AsyncHandler handler;
};

struct ConsumerOptions {
  std::string topic;
  std::string channel;
  // Exactly how brokers are found; any mix is allowed.
  std::vector<std::string> discovery_addresses;     // our Discovery gRPC "host:port" (-> gRPC)
  std::vector<std::string> broker_addresses;        // Broker gRPC "host:port"
  std::vector<std::string> lookupd_http_addresses;  // any nsqlookupd HTTP (-> V2)
  std::vector<std::string> nsqd_tcp_addresses;      // nsqd / gateway TCP "host:port"
  Config config;
  // Called for a message with attempts > config.max_attempts, before it is FINished.
  std::function<void(const Message&)> on_max_attempts;
  // Longest wait for in-flight messages in Stop(); what is left is requeued.
  absl::Duration stop_timeout = absl::Seconds(30);
  // Reconnect delays for a lost broker: doubling from the first, up to the second.
  absl::Duration min_reconnect_delay = absl::Milliseconds(100);
  absl::Duration max_reconnect_delay = absl::Seconds(15);
  uint64_t seed = 0;  // 0: random (RDY choices, jitter)
};

// Thread-safe.
class Consumer {
 public:
  Consumer(ConsumerOptions options, Handler handler);
  Consumer(ConsumerOptions options, Async handler);
  ~Consumer();  // Stops.
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // InvalidArgument without a topic, channel or any address, or for a bad option.
  absl::Status Start();
  // Graceful: no more messages are taken (CLS / RDY 0), in-flight ones get up to
  // stop_timeout to be answered, the rest are requeued, then every connection closes
  // and the threads are joined. Idempotent.
  void Stop();

  // 0 pauses (RDY 0 everywhere).
  void ChangeMaxInFlight(int64_t max_in_flight);

  // Brokers with a subscribed connection, sorted.
  std::vector<std::string> ConnectedBrokers() const;
  // Messages handed to the handler so far.
  int64_t received() const;
  int64_t finished() const;
  int64_t requeued() const;
  // go-nsq's IsStarved: some connection has 85% of its RDY in flight (flush now).
  bool IsStarved() const;
  // Messages given to the handler and not answered yet.
  int64_t in_flight() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace nsq::client
