#include "client/producer.h"

#include "client/transport.h"

namespace nsq::client {
namespace {

bool Retriable(const absl::Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsCancelled(st);
}

ProducerOptions OneBroker(std::string address, absl::Duration timeout) {
  ProducerOptions o;
  o.broker_addresses.push_back(std::move(address));
  o.timeout = timeout;
  o.max_retries = 0;
  return o;
}

}  // namespace

Producer::Producer(ProducerOptions options) : options_(std::move(options)) {
  for (const std::string& a : options_.broker_addresses) {
    publishers_.push_back(internal::NewGrpcPublisher(a, options_.config, options_.timeout));
  }
  for (const std::string& a : options_.nsqd_tcp_addresses) {
    publishers_.push_back(internal::NewV2Publisher(a, options_.config, options_.timeout));
  }
}

Producer::Producer(std::string broker_address, absl::Duration timeout)
    : Producer(OneBroker(std::move(broker_address), timeout)) {}

Producer::~Producer() = default;

const std::string& Producer::address(size_t i) const { return publishers_.at(i)->address(); }

absl::StatusOr<std::vector<std::string>> Producer::Publish(const std::string& topic,
                                                           const std::vector<std::string>& bodies,
                                                           absl::Duration defer) {
  const size_t n = publishers_.size();
  if (n == 0) return absl::FailedPreconditionError("no broker address");
  const bool failover = options_.mode == ProducerOptions::Mode::kFailover;
  size_t start = failover ? next_.load() : next_.fetch_add(1);
  absl::Status last;
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    const size_t i = (start + static_cast<size_t>(attempt)) % n;
    auto r = publishers_[i]->Publish(topic, bodies, defer);
    if (r.ok()) {
      if (failover) next_.store(i);
      return r;
    }
    last = r.status();
    if (!Retriable(last)) return last;
  }
  if (failover) next_.store((start + 1) % n);
  return last;
}

absl::Status Producer::PublishTo(size_t index, const std::string& topic, const std::vector<std::string>& bodies,
                                 absl::Duration defer) {
  if (index >= publishers_.size()) return absl::InvalidArgumentError("no such broker");
  return publishers_[index]->Publish(topic, bodies, defer).status();
}

}  // namespace nsq::client
