#pragma once

// Publishing to one broker or a list of them, over gRPC (our brokers) or NSQ's protocol
// V2 (a stock nsqd or our gateway): PUB, MPUB, DPUB, with retries on another broker
// (round-robin or failover). Thread-safe: concurrent calls share each broker's
// connection.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/config.h"

namespace nsq::client {

namespace internal {
class Publisher;
}

struct ProducerOptions {
  std::vector<std::string> broker_addresses;    // gRPC "host:port"
  std::vector<std::string> nsqd_tcp_addresses;  // V2 "host:port"
  enum class Mode {
    kRoundRobin,  // each publish to the next broker
    kFailover,    // the first broker that works, until it fails
  };
  Mode mode = Mode::kRoundRobin;
  // Extra tries, each on the next broker, after an Unavailable/DeadlineExceeded error.
  int max_retries = 2;
  absl::Duration timeout = absl::Seconds(5);  // per attempt
  Config config;  // V2: dial timeout, IDENTIFY fields, auth_secret; gRPC: grpc_tls_*, auth_secret
};

class Producer {
 public:
  explicit Producer(ProducerOptions options);
  // One broker's gRPC "host:port". Connects lazily.
  explicit Producer(std::string broker_address, absl::Duration timeout = absl::Seconds(5));
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // PUB / MPUB (several bodies) / DPUB (defer > 0). Returns the new messages' ids in
  // order over gRPC, nothing over V2 (the protocol has no ids). Errors are the broker's
  // (InvalidArgument, OutOfRange, Unavailable, ...); FailedPrecondition without brokers.
  absl::StatusOr<std::vector<std::string>> Publish(const std::string& topic,
                                                   const std::vector<std::string>& bodies,
                                                   absl::Duration defer = absl::ZeroDuration());
  absl::Status Publish(const std::string& topic, const std::string& body) {
    return Publish(topic, std::vector<std::string>{body}).status();
  }
  // To broker `index` only (0 <= index < size()), no retries elsewhere (to_nsq publishes
  // every record to every broker).
  absl::Status PublishTo(size_t index, const std::string& topic, const std::vector<std::string>& bodies,
                         absl::Duration defer = absl::ZeroDuration());

  size_t size() const { return publishers_.size(); }
  const std::string& address(size_t i = 0) const;

 private:
  const ProducerOptions options_;
  std::vector<std::unique_ptr<internal::Publisher>> publishers_;
  std::atomic<size_t> next_{0};
};

}  // namespace nsq::client
