#pragma once

// The thread and the reconnect/re-register loop shared by both kinds of peer; the
// subclass supplies the wire. Internal to discovery_client.

#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/broker/discovery_client/registrar.h"

namespace nsq::broker::discovery_client {

// Owns one thread that connects, sends the full snapshot, then streams changes and
// heartbeats until the connection breaks, then backs off and starts over. Connect, Send,
// Heartbeat and Disconnect run on that thread; Interrupt comes from Stop().
class PeerBase : public Peer {
 public:
  PeerBase(const Registrar* registrar, std::string address, BrokerIdentity identity,
           RegistrarOptions options);
  ~PeerBase() override;

  void Start() override;
  void Stop() override;
  void Enqueue(RegistrationEvent event) override;
  bool connected() const override;
  int64_t registrations() const override;
  const std::string& address() const override { return address_; }

 protected:
  // Dials and identifies. False on failure (Disconnect follows).
  virtual bool Connect() = 0;
  // Sends registration changes, in order. False when the connection broke.
  virtual bool Send(const std::vector<RegistrationEvent>& events) = 0;
  virtual bool Heartbeat() = 0;
  virtual void Disconnect() = 0;
  // Unblocks whatever the peer's thread is blocked in (called from Stop()).
  virtual void Interrupt() = 0;

  // The connection broke (from a reader thread).
  void MarkBroken();
  bool stopping() const;
  // Sets the heartbeat period (Connect may shorten it from what the server asks).
  void SetHeartbeatInterval(absl::Duration d);

  const Registrar* const registrar_;
  const std::string address_;
  const BrokerIdentity identity_;
  const RegistrarOptions options_;

 private:
  void Run();
  // Sleeps for `d` unless stopping; false when stopping.
  bool Backoff(absl::Duration d);

  mutable absl::Mutex mu_;
  std::deque<RegistrationEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  int64_t registrations_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace nsq::broker::discovery_client
