#pragma once

// The broker's side of discovery: registers every topic and channel of the engine with
// each discovery instance (gRPC Register stream) and each stock nsqlookupd (lookupd TCP
// protocol V1), re-registers everything after a reconnect, and pre-creates the channels
// discovery knows of when a topic is created (nsqd's behaviour). gRPC and sockets stay in
// the .cc files.

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/grpc/tls.h"
#include "services/broker/core/engine.h"

namespace nsq::broker::discovery_client {

// Who this broker is, as registered.
struct BrokerIdentity {
  std::string broadcast_address;
  std::string hostname;
  int tcp_port = 0;   // NSQ TCP protocol V2
  int http_port = 0;  // NSQ HTTP API
  int grpc_port = 0;
  std::string version = "1.3.0";
  std::string topology_zone;    // --topology-zone
  std::string topology_region;  // --topology-region
};

struct RegistrarOptions {
  std::vector<std::string> discovery_addresses;    // gRPC "host:port"
  std::vector<std::string> lookupd_tcp_addresses;  // lookupd V1 "host:port"
  // TLS toward the discovery instances (--discovery-tls-*); plaintext by default.
  grpcutil::ClientOptions discovery_tls;
  // Heartbeat period (nsqd PINGs lookupd every 15 s); a discovery instance that asks for
  // less (a third of its inactive timeout) gets that.
  absl::Duration heartbeat_interval = absl::Seconds(15);
  // Reconnect backoff: doubles from min to max, reset by a successful connection.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Dial and per-round-trip bound (nsqd uses 1 s with lookupd).
  absl::Duration timeout = absl::Seconds(1);
};

// One registration change.
struct RegistrationEvent {
  bool add = true;
  std::string topic;
  std::string channel;  // "" = the topic itself
};

// One discovery instance (or stock lookupd) this broker registers with. Implemented in
// registrar.cc (gRPC) and lookupd_peer.cc (V1). Each runs its own thread.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
  virtual void Enqueue(RegistrationEvent event) = 0;
  // Channels the instance knows for `topic` (empty when not connected or on error),
  // bounded by the options' timeout.
  virtual std::vector<std::string> Channels(const std::string& topic) = 0;
  virtual bool connected() const = 0;
  // Completed (re)registrations: incremented each time a full snapshot was sent.
  virtual int64_t registrations() const = 0;
  virtual const std::string& address() const = 0;
};

// Observes the engine (add it with Engine::AddObserver before Engine::Start) and keeps
// every peer up to date. Start() once the broker's ports are bound; Stop() before the
// engine goes. The lookupd V1 peers can be replaced at run time (nsqd's
// `PUT /config/nsqlookupd_tcp_addresses`). Thread-safe.
class Registrar final : public EngineObserver {
 public:
  Registrar(Engine* engine, RegistrarOptions options);
  ~Registrar() override;  // Stops.
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  void Start(BrokerIdentity identity);
  // Ends every session (discovery drops this broker at once) and joins the threads.
  void Stop();

  // EngineObserver.
  void TopicCreated(const std::string& topic, TopicHold hold) override;
  void TopicDeleted(const std::string& topic) override;
  void ChannelCreated(const std::string& topic, const std::string& channel) override;
  void ChannelDeleted(const std::string& topic, const std::string& channel) override;

  // Replaces the lookupd V1 addresses, as nsqd does on a config change: a new address
  // gets a peer that connects and registers everything; a peer whose address is gone is
  // stopped, closing its connection (lookupd drops this broker at once); the others keep
  // their sessions. Duplicates count once. Before Start() it only sets the list.
  void SetLookupdAddresses(const std::vector<std::string>& addresses) ABSL_LOCKS_EXCLUDED(mu_);

  // The full registration list from the engine, for a (re)connected peer.
  std::vector<RegistrationEvent> Snapshot() const;

  size_t peer_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // The i-th peer (gRPC ones first, then lookupd ones in address order of arrival).
  std::shared_ptr<const Peer> peer(size_t i) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The peers at this moment (a copy, so callers do not hold mu_ across peer calls).
  std::vector<std::shared_ptr<Peer>> Peers() const ABSL_LOCKS_EXCLUDED(mu_);
  void Broadcast(const RegistrationEvent& event);
  // Asks the peers for each new topic's channels and creates them, then lets the topic
  // start (its hold goes).
  void PrecreateLoop();

  struct Precreation {
    std::string topic;
    TopicHold hold;
  };

  Engine* const engine_;
  const RegistrarOptions options_;

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> lookupd_addresses_ ABSL_GUARDED_BY(mu_);
  BrokerIdentity identity_ ABSL_GUARDED_BY(mu_);  // set by Start()
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Precreation> precreate_ ABSL_GUARDED_BY(mu_);
  std::thread precreator_;
};

// The peers, built by registrar.cc / lookupd_peer.cc.
std::unique_ptr<Peer> MakeGrpcPeer(const Registrar* registrar, std::string address,
                                   BrokerIdentity identity, RegistrarOptions options);
std::unique_ptr<Peer> MakeLookupdPeer(const Registrar* registrar, std::string address,
                                      BrokerIdentity identity, RegistrarOptions options);

}  // namespace nsq::broker::discovery_client
