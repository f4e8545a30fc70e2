#pragma once

// The poller: once per --stats-interval it asks every discovery instance for its nodes and
// topics, then every broker for its stats, one call each (gRPC GetStats where discovery
// gives a gRPC port, NSQ HTTP /stats otherwise), all in parallel, and publishes the result
// as one immutable Snapshot. Request handlers read the latest snapshot; actions call
// Refresh() so that their answer and the next read show the change.
//
// Threads: one poll thread; Refresh() polls on the caller's thread. Polls are serialized
// (poll_mu_); the latest snapshot is swapped under mu_.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/admin/model.h"
#include "services/admin/upstream.h"

namespace nsq::admin {

struct NodeSnapshot {
  Producer producer;
  bool via_grpc = false;
  bool ok = false;
  std::string error;  // when !ok
  NodeStats stats;    // when ok

  std::string id() const { return producer.HttpAddress(); }
};

struct Snapshot {
  absl::Time time;
  int64_t generation = 0;
  std::vector<NodeSnapshot> nodes;  // sorted by id
  std::vector<std::string> discovery_topics;  // union of every discovery's topics, sorted
  int discovery_count = 0;
  int discovery_failures = 0;
  std::vector<std::string> errors;  // one line per failed upstream

  const NodeSnapshot* FindNode(const std::string& id) const;
  // Every upstream asked failed (nothing usable): the API answers 502.
  bool AllFailed() const;
};

struct ClusterOptions {
  absl::Duration stats_interval = absl::Seconds(2);
  std::vector<std::string> static_nsqd_http;  // --nsqd-http-address
};

// Builds broker clients for nodes: `grpc` gets "host:grpc_port", `http` "host:http_port".
struct BrokerFactory {
  std::function<std::unique_ptr<BrokerClient>(const std::string&)> grpc;
  std::function<std::unique_ptr<BrokerClient>(const std::string&)> http;
};

struct PollStats {
  int64_t polls = 0;
  int64_t upstream_errors = 0;
  absl::Duration last_poll_duration;
};

class Cluster {
 public:
  Cluster(ClusterOptions options, std::vector<std::unique_ptr<DiscoveryClient>> discoveries,
          BrokerFactory factory);
  ~Cluster();  // Stops.

  // Called (on the polling thread) with every new snapshot, before it is published.
  void OnSnapshot(std::function<void(const Snapshot&)> observer);

  void Start();
  void Stop();

  // The latest snapshot; polls first if there is none yet.
  std::shared_ptr<const Snapshot> Latest() ABSL_LOCKS_EXCLUDED(mu_);
  // Polls now and returns the new snapshot.
  std::shared_ptr<const Snapshot> Refresh() ABSL_LOCKS_EXCLUDED(mu_);

  // A client for acting on `node` (the transport the poll uses). Clients of nodes that
  // left the cluster are dropped by the next poll; holders keep theirs alive.
  std::shared_ptr<BrokerClient> Broker(const NodeSnapshot& node) ABSL_LOCKS_EXCLUDED(mu_);
  const std::vector<std::unique_ptr<DiscoveryClient>>& discoveries() const { return discoveries_; }
  const ClusterOptions& options() const { return options_; }
  PollStats poll_stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::shared_ptr<const Snapshot> PollOnce() ABSL_LOCKS_EXCLUDED(mu_);
  static std::string BrokerKey(const NodeSnapshot& node);
  void Loop();

  const ClusterOptions options_;
  const std::vector<std::unique_ptr<DiscoveryClient>> discoveries_;
  const BrokerFactory factory_;
  std::function<void(const Snapshot&)> observer_;

  absl::Mutex poll_mu_;  // serializes polls
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> latest_ ABSL_GUARDED_BY(mu_);
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<BrokerClient>> brokers_ ABSL_GUARDED_BY(mu_);
  PollStats poll_stats_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace nsq::admin
