#pragma once

// Publishing to one broker over gRPC (nsq.v1.Broker/Publish). Generated gRPC code stays in
// the .cc. Thread-safe: concurrent Publish calls share one HTTP/2 connection.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace nsq::client {

class Producer {
 public:
  // `broker_address`: the broker's gRPC "host:port". Connects lazily.
  explicit Producer(std::string broker_address, absl::Duration timeout = absl::Seconds(5));
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // PUB / MPUB (several bodies in one request) / DPUB (defer > 0). Returns the new
  // messages' ids in order. Errors are the broker's statuses (InvalidArgument, OutOfRange,
  // Unavailable, ...).
  absl::StatusOr<std::vector<std::string>> Publish(const std::string& topic,
                                                   const std::vector<std::string>& bodies,
                                                   absl::Duration defer = absl::ZeroDuration());
  absl::Status Publish(const std::string& topic, const std::string& body) {
    return Publish(topic, std::vector<std::string>{body}).status();
  }

  const std::string& address() const { return address_; }

  struct Impl;

 private:
  const std::string address_;
  const absl::Duration timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsq::client
