#include "services/broker/discovery_client/peer_base.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace nsq::broker::discovery_client {

PeerBase::PeerBase(const Registrar* registrar, std::string address, BrokerIdentity identity,
                   RegistrarOptions options)
    : registrar_(registrar),
      address_(std::move(address)),
      identity_(std::move(identity)),
      options_(std::move(options)),
      heartbeat_interval_(options_.heartbeat_interval) {}

PeerBase::~PeerBase() {
  // Subclasses call Stop() in their destructor; this is only a guard.
  if (thread_.joinable()) thread_.join();
}

void PeerBase::Start() { thread_ = std::thread([this] { Run(); }); }

void PeerBase::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  Interrupt();
  if (thread_.joinable()) thread_.join();
}

void PeerBase::Enqueue(RegistrationEvent event) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) queue_.push_back(std::move(event));
}

bool PeerBase::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

int64_t PeerBase::registrations() const {
  absl::MutexLock lock(&mu_);
  return registrations_;
}

void PeerBase::MarkBroken() {
  absl::MutexLock lock(&mu_);
  broken_ = true;
}

bool PeerBase::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void PeerBase::SetHeartbeatInterval(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  heartbeat_interval_ = d;
}

bool PeerBase::Backoff(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
  return !stopping_;
}

void PeerBase::Run() {
  absl::Duration backoff = options_.min_backoff;
  bool was_connected = false;
  while (!stopping()) {
    {
      absl::MutexLock lock(&mu_);
      broken_ = false;
      // The snapshot below covers everything queued so far.
      queue_.clear();
    }
    bool ok = Connect();
    if (ok) ok = Send(registrar_->Snapshot());
    if (!ok) {
      Disconnect();
      if (was_connected) spdlog::warn("discovery {}: cannot reconnect, retrying", address_);
      was_connected = false;
      if (!Backoff(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = options_.min_backoff;
    was_connected = true;
    absl::Duration interval;
    {
      absl::MutexLock lock(&mu_);
      connected_ = true;
      ++registrations_;
      interval = heartbeat_interval_;
    }
    spdlog::info("discovery {}: registered", address_);
    absl::Time next_heartbeat = absl::Now() + interval;
    while (ok) {
      std::vector<RegistrationEvent> batch;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || broken_ || !queue_.empty();
        };
        mu_.AwaitWithDeadline(absl::Condition(&ready), next_heartbeat);
        if (stopping_ || broken_) break;
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
        queue_.clear();
      }
      if (!batch.empty()) ok = Send(batch);
      if (ok && absl::Now() >= next_heartbeat) {
        ok = Heartbeat();
        next_heartbeat = absl::Now() + interval;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      connected_ = false;
    }
    Disconnect();
    if (stopping()) break;
    spdlog::warn("discovery {}: connection lost, re-registering", address_);
    if (!Backoff(backoff)) break;
  }
}

}  // namespace nsq::broker::discovery_client
