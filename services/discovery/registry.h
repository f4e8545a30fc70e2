#pragma once

// The discovery registry: who produces which topic, with nsqlookupd's semantics
// (nsq.md 2.3). No I/O, no threads; time comes from an injected clock.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace nsq::discovery {


// A registered broker (nsqlookupd's PeerInfo, plus the gRPC port).
struct PeerInfo {
  std::string id;  // unique per connection/stream: the V1 remote address, or a session id
  std::string remote_address;
  std::string hostname;
  std::string broadcast_address;
  int tcp_port = 0;
  int http_port = 0;
  int grpc_port = 0;  // 0 for lookupd V1 peers
  std::string version;
  std::string topology_zone;
  std::string topology_region;
  absl::Time last_update;
};

struct LookupResult {
  std::vector<std::string> channels;  // sorted
  std::vector<PeerInfo> producers;    // active ones, by id
  bool operator==(const LookupResult& other) const;
};

struct NodeInfo {
  PeerInfo peer;
  std::vector<std::string> topics;  // sorted
  std::vector<bool> tombstones;     // parallel to topics
};

// Told which topics' Lookup answer may have changed. Called after the change, with no
// registry lock held, from the thread that made it.
class RegistryListener {
 public:
  virtual ~RegistryListener() = default;
  virtual void TopicsChanged(const std::vector<std::string>& topics) = 0;
};

struct RegistryOptions {
  // A producer with no heartbeat for longer is hidden from Lookup and Nodes.
  absl::Duration inactive_producer_timeout = absl::Seconds(300);
  // How long a tombstoned producer stays hidden from Lookup.
  absl::Duration tombstone_lifetime = absl::Seconds(45);
};

// Registrations keyed like nsqlookupd's (category, key, subkey): "client" for every
// identified peer, "topic:<t>", "channel:<t>:<c>"; each holds the peers producing it.
// Keys outlive their producers (a connection closing leaves them listed) until deleted.
// Thread-safe.
class Registry {
 public:
  Registry(RegistryOptions options, const Clock* clock);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Set before use, and cleared before the listener goes away.
  void SetListener(RegistryListener* listener) { listener_.store(listener); }
  const RegistryOptions& options() const { return options_; }
  const Clock* clock() const { return clock_; }

  // IDENTIFY: adds the peer to the client category, last_update = now.
  // AlreadyExists if the id is taken.
  absl::Status AddPeer(PeerInfo info);
  // The connection closed: the peer leaves every registration (the keys stay).
  void RemovePeer(const std::string& id);
  // A heartbeat. False if the peer is unknown.
  bool Touch(const std::string& id);

  // REGISTER t [c]: the peer produces topic t (and channel c). Names must be valid
  // (the caller checks them, with its protocol's error); unknown peers are ignored.
  void Register(const std::string& id, const std::string& topic, const std::string& channel);
  // UNREGISTER t c: leaves channel c (an ephemeral channel with no producer left goes).
  // UNREGISTER t: leaves topic t and all its channels (an ephemeral topic with no
  // producer left goes).
  void Unregister(const std::string& id, const std::string& topic, const std::string& channel);

  // Admin (HTTP /topic/create etc.).
  void CreateTopic(const std::string& topic);
  void CreateChannel(const std::string& topic, const std::string& channel);
  // Removes the topic and all its channels.
  void DeleteTopic(const std::string& topic);
  // False if the channel is not registered.
  bool DeleteChannel(const std::string& topic, const std::string& channel);
  // Tombstones the topic's producers whose "<broadcast_address>:<http_port>" is `node`.
  // Returns how many.
  int TombstoneTopicProducer(const std::string& topic, const std::string& node);

  // nullopt when the topic is not registered at all (404 TOPIC_NOT_FOUND).
  std::optional<LookupResult> Lookup(const std::string& topic) const;
  std::vector<std::string> Topics() const;
  std::vector<std::string> Channels(const std::string& topic) const;
  // Active peers (inactivity only: tombstoned ones are listed, flagged per topic).
  std::vector<NodeInfo> Nodes() const;
  // Ids of peers with no heartbeat for longer than the inactive timeout.
  std::vector<std::string> InactivePeers() const;

  struct Counts {
    int64_t peers = 0;
    int64_t topics = 0;
    int64_t channels = 0;
  };
  Counts GetCounts() const;

 private:
  enum Category { kClient = 0, kTopic = 1, kChannel = 2 };
  using Key = std::tuple<int, std::string, std::string>;  // category, key, subkey
  struct Producer {
    bool tombstoned = false;
    absl::Time tombstoned_at;
  };
  using Producers = std::map<std::string, Producer>;  // by peer id

  bool IsActive(const PeerInfo& peer, absl::Time now) const;
  void Notify(std::vector<std::string> topics);

  const RegistryOptions options_;
  const Clock* const clock_;
  std::atomic<RegistryListener*> listener_{nullptr};

  mutable absl::Mutex mu_;
  std::map<std::string, PeerInfo> peers_ ABSL_GUARDED_BY(mu_);
  std::map<Key, Producers> registrations_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nsq::discovery
