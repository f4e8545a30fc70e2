#pragma once

// What the admin knows about a cluster, independent of how it was read (gRPC GetStats or
// the NSQ HTTP /stats): plain values, no I/O. Field names follow nsqd's /stats JSON.

#include <cstdint>
#include <string>
#include <vector>

namespace nsq::admin {

struct ClientInfo {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  std::string remote_address;
  std::string protocol;  // "V2" (NSQ TCP) or "grpc"
  int64_t ready_count = 0;
  int64_t in_flight_count = 0;
  int64_t message_count = 0;
  int64_t finish_count = 0;
  int64_t requeue_count = 0;
  int64_t connect_ts = 0;  // unix seconds
  int64_t sample_rate = 0;
  bool tls = false;
  std::string tls_version;
  std::string tls_cipher_suite;
  bool snappy = false;
  bool deflate = false;
  bool authed = false;
  std::string auth_identity;
  std::string auth_identity_url;
  std::string topology_zone;  // the client's IDENTIFY topology_zone / topology_region
  std::string topology_region;
};

// nsqd's e2e_processing_latency (quantile.Result): present only when the broker runs
// with --e2e-processing-latency-percentile.
struct E2eInfo {
  struct Percentile {
    double quantile = 0;
    double value = 0;  // ns
  };
  int64_t count = 0;
  std::vector<Percentile> percentiles;
};

// Beyond NSQ: a channel's policy (nsq.v1.ChannelPolicy) and its counters; read from gRPC
// brokers only.
struct ChannelPolicyInfo {
  int64_t max_attempts = 0;
  std::string dead_letter_topic;
  int64_t message_ttl_ms = 0;
  bool dead_letter_expired = false;
  int64_t max_depth = 0;
  std::string depth_policy;  // "reject_new" or "drop_oldest"
};

// One message as the broker's Peek shows it.
struct PeekedMessageInfo {
  std::string state;  // "in_flight", "ready", "deferred"
  std::string id;     // 16 characters, as NSQ prints ids
  int64_t timestamp_ns = 0;
  int64_t attempts = 0;
  std::string body;
  int64_t due_ns = 0;       // deferred
  int64_t deadline_ns = 0;  // in flight
  std::string client_id;    // in flight
};

struct ChannelInfo {
  std::string name;
  int64_t depth = 0;
  int64_t backend_depth = 0;
  int64_t in_flight_count = 0;
  int64_t deferred_count = 0;
  int64_t message_count = 0;
  // Deliveries by consumer topology (nsqd's zone_local_msg_count, ...; 0 when absent).
  int64_t zone_local_msg_count = 0;
  int64_t region_local_msg_count = 0;
  int64_t global_msg_count = 0;
  int64_t requeue_count = 0;
  int64_t timeout_count = 0;
  int64_t client_count = 0;
  bool paused = false;
  std::vector<ClientInfo> clients;
  E2eInfo e2e;
  bool has_policy = false;
  ChannelPolicyInfo policy;
  int64_t attempts_exceeded_count = 0;
  int64_t expired_count = 0;
  int64_t dead_letter_count = 0;
  int64_t depth_dropped_count = 0;
  int64_t depth_rejected_count = 0;
};

struct TopicInfo {
  std::string name;
  int64_t depth = 0;
  int64_t backend_depth = 0;
  int64_t message_count = 0;
  int64_t message_bytes = 0;
  bool paused = false;
  E2eInfo e2e;
  std::vector<ChannelInfo> channels;  // sorted by name
};

// One broker's /stats (or GetStats) answer.
struct NodeStats {
  std::string version;
  std::string health;
  int64_t start_time = 0;  // unix seconds
  std::vector<TopicInfo> topics;  // sorted by name
};

// A broker as discovery (or the static --nsqd-http-address list) describes it.
struct Producer {
  std::vector<std::string> remote_addresses;  // "<discovery>/<remote>" per discovery seen
  std::string remote_address;
  std::string hostname;
  std::string broadcast_address;
  int tcp_port = 0;
  int http_port = 0;
  int grpc_port = 0;  // 0: reached over the NSQ HTTP API only
  std::string version;
  std::vector<std::string> topics;   // registered topics
  std::vector<bool> tombstones;      // parallel to topics

  // nsqadmin's node id: "<broadcast_address>:<http_port>".
  std::string HttpAddress() const;
};

}  // namespace nsq::admin
