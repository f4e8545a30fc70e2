#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/time/clock.h"
#include "services/broker/core/e2e_latency.h"
#include "services/broker/core/message.h"
#include "services/broker/core/options.h"
#include "services/broker/core/policy.h"
#include "services/broker/core/storage.h"

namespace nsq::broker {

class Topic;
class Channel;
class ConsumerImpl;

// One message handed to a consumer. It is in flight for that consumer from then on.
struct Delivery {
  MessagePtr message;
  uint16_t attempts = 0;  // this delivery included
};

// Where the engine pushes a consumer's messages; implemented by each front door (gRPC
// stream, V2 connection). Both calls are made with the channel's lock held: they must be
// quick and must not call back into the engine (queue the work, then return).
class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Appends to the consumer's outgoing messages; `batch` may be moved from.
  virtual void Deliver(std::vector<Delivery>& batch) = 0;
  // The engine dropped the consumer (its channel or topic was deleted, or the broker is
  // stopping). No Deliver follows.
  virtual void Closed(const absl::Status& why) = 0;
};

// Who a consumer is, for stats and for its in-flight timeout.
struct ConsumerInfo {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  std::string remote_address;
  std::string protocol;  // "grpc", "v2"
  // In-flight timeout; zero = --msg-timeout. Must be within (0, --max-msg-timeout].
  absl::Duration msg_timeout = absl::ZeroDuration();
  // nsqd's IDENTIFY sample_rate: 1..99 delivers each message to this consumer with
  // probability (sample_rate+1)/100 and drops the others (consumed from the channel,
  // redelivered to no one), as nsqd does; 0 delivers everything.
  int32_t sample_rate = 0;
  // nsqd's IDENTIFY topology_zone / topology_region (empty when not given).
  std::string topology_zone;
  std::string topology_region;
};

// Which of a channel's delivery counters a consumer's deliveries go to, as nsqd decides:
// with the topology-aware-consumption experiment, zone-local when the consumer's zone is
// the broker's (even if both are empty), else region-local when its region is; without
// the experiment (or matching neither), global.
enum class DeliveryLocality { kZone = 0, kRegion = 1, kGlobal = 2 };
DeliveryLocality LocalityOf(const EngineOptions& options, const ConsumerInfo& info);

struct ConsumerStats {
  ConsumerInfo info;
  absl::Duration msg_timeout;
  int64_t ready_count = 0;
  int64_t in_flight_count = 0;
  uint64_t message_count = 0;
  uint64_t finish_count = 0;
  uint64_t requeue_count = 0;
  absl::Time connect_time;
};

struct ChannelStats {
  std::string name;
  int64_t depth = 0;          // waiting to be delivered: memory + backend
  int64_t backend_depth = 0;  // of which in the backend
  // Of depth, messages kept in memory because storage refused them (requeues, timeouts,
  // deferred releases while the disk failed): delivered in order, never dropped.
  int64_t held_count = 0;
  int64_t in_flight_count = 0;
  int64_t deferred_count = 0;
  uint64_t message_count = 0;
  // Messages delivered, by the consumer's DeliveryLocality (nsqd's zone_local_msg_count,
  // region_local_msg_count, global_msg_count).
  uint64_t zone_local_msg_count = 0;
  uint64_t region_local_msg_count = 0;
  uint64_t global_msg_count = 0;
  uint64_t requeue_count = 0;
  uint64_t timeout_count = 0;
  // Beyond NSQ (QueuePolicy): messages that reached max_attempts, that expired, that went
  // to the dead-letter topic (for either reason), dropped by drop_oldest, and refused by
  // reject_new.
  uint64_t attempts_exceeded_count = 0;
  uint64_t expired_count = 0;
  uint64_t dead_letter_count = 0;
  uint64_t depth_dropped_count = 0;
  uint64_t depth_rejected_count = 0;
  QueuePolicy policy;
  E2eLatencyStats e2e;  // publish-to-FIN latency (options: record_e2e_latency, e2e_percentiles)
  bool paused = false;
  bool ephemeral = false;
  int64_t consumer_count = 0;
  std::vector<ConsumerStats> consumers;  // when asked for
};

// One message as Peek shows it, unchanged by being looked at.
struct PeekedMessage {
  enum class State { kInFlight, kReady, kDeferred };
  State state = State::kReady;
  MessagePtr message;
  uint16_t attempts = 0;     // deliveries so far
  int64_t due_ns = 0;        // kDeferred: when it becomes ready
  int64_t deadline_ns = 0;   // kInFlight: when it times out
  std::string consumer;      // kInFlight: the client_id it is in flight for
};

struct TopicStats {
  std::string name;
  int64_t depth = 0;  // held by the topic itself (no channel yet, or paused)
  int64_t backend_depth = 0;
  uint64_t message_count = 0;
  uint64_t message_bytes = 0;
  bool paused = false;
  bool ephemeral = false;
  // With e2e_percentiles: the merge of its channels' windows (nsqd's aggregate); no
  // percentiles when it has no channel.
  E2eLatencyStats e2e;
  std::vector<ChannelStats> channels;
};

struct StatsFilter {
  std::string topic;    // "" = all
  std::string channel;  // "" = all (with topic)
  bool include_consumers = true;
};

// Keeps a new topic from handing messages to its channels while any copy of it is alive
// (see EngineObserver::TopicCreated). Copyable; dropping the last copy starts the topic,
// from whichever thread drops it.
class TopicHold {
 public:
  TopicHold() = default;
  explicit TopicHold(std::shared_ptr<void> token) : token_(std::move(token)) {}

 private:
  std::shared_ptr<void> token_;
};

// Told about topics and channels appearing and going away (discovery registration).
// Called from the thread that made the change, with no engine lock held, so an observer
// must not block there (no network round trips).
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // A new topic stays "starting" for as long as an observer keeps a copy of `hold`:
  // publishes to it are accepted and wait in its backlog, channels created meanwhile
  // (nsqd's channel pre-creation from lookupd, done off the creating thread) each get
  // every one of them once the last copy is dropped.
  virtual void TopicCreated(const std::string& topic, TopicHold hold) {}
  virtual void TopicDeleted(const std::string& topic) {}
  virtual void ChannelCreated(const std::string& topic, const std::string& channel) {}
  virtual void ChannelDeleted(const std::string& topic, const std::string& channel) {}
};

// A subscribed consumer's handle: one per client connection/stream. Thread-safe.
// Destroying it closes it.
class Consumer {
 public:
  virtual ~Consumer() = default;
  // RDY: at most `count` messages in flight at once (0 stops delivery).
  // InvalidArgument outside [0, --max-rdy-count].
  virtual absl::Status SetReady(int64_t count) = 0;
  // FIN. FailedPrecondition if `id` is not in flight for this consumer.
  virtual absl::Status Finish(const MessageId& id) = 0;
  // FIN of many ids under one lock; returns one status per id (all OK in the common case).
  virtual std::vector<absl::Status> FinishBatch(absl::Span<const MessageId> ids) = 0;
  // REQ: delay is clamped to [0, --max-req-timeout]; zero requeues at the tail now.
  virtual absl::Status Requeue(const MessageId& id, absl::Duration delay) = 0;
  // Beyond NSQ: the same, and this delivery does not count as an attempt (the consumer
  // could not take it now, e.g. it is shutting down; nsq #380).
  virtual absl::Status RequeueWithoutAttempt(const MessageId& id, absl::Duration delay) = 0;
  // TOUCH: restarts the in-flight timeout, up to delivery + --max-msg-timeout.
  virtual absl::Status Touch(const MessageId& id) = 0;
  // Leaves the channel; messages in flight for it are requeued at once. Idempotent.
  virtual void Close() = 0;
  virtual ConsumerStats Stats() const = 0;
};

// The broker engine: topics, channels, consumers, in-flight and deferred queues. No I/O,
// no threads of its own: front doors call in from any thread, and the owner calls
// ProcessTimers() periodically. Lock order: engine, then topic, then channel, then a
// sink's own lock.
class Engine {
 public:
  Engine(EngineOptions options, const Clock* clock, Storage* storage);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Adds an observer (it must outlive the engine). Only before Start().
  void AddObserver(EngineObserver* observer);

  // Restores topics, channels and paused flags from storage.
  absl::Status Start();
  // Closes every consumer (their in-flight messages go back to their channels), then
  // writes every queued, in-flight and deferred message out to storage so that a restart
  // delivers them. Idempotent; the engine takes no more work after it.
  void Shutdown();
  // After Shutdown: OK, or the first queue that could not be written out (e.g. the disk
  // is full). Its messages that were only in memory are lost; the caller must say so.
  absl::Status ShutdownStatus() const;

  const EngineOptions& options() const { return options_; }
  // --mem-queue-size=0: every channel message is on disk from publish until FIN.
  bool durable() const { return options_.mem_queue_size == 0; }
  const Clock* clock() const { return clock_; }

  // PUB/MPUB/DPUB: creates the topic if needed. Ids of the new messages are appended to
  // `ids` when it is not null. Errors: InvalidArgument (bad topic name, empty body, no
  // bodies, negative or too long defer), ResourceExhausted (a body over --max-msg-size),
  // Unavailable (the storage failed).
  absl::Status Publish(std::string_view topic, absl::Span<const std::string_view> bodies,
                       absl::Duration defer = absl::ZeroDuration(),
                       std::vector<MessageId>* ids = nullptr);
  // The same without blocking on an fsync (--sync-every=1): the messages are queued (and
  // `ids` filled) before it returns, and `done` runs once they are durable (from the
  // storage's commit thread) or at once on an error. The caller acknowledges in `done`.
  void PublishAsync(std::string_view topic, absl::Span<const std::string_view> bodies,
                    absl::Duration defer, std::vector<MessageId>* ids,
                    absl::AnyInvocable<void(absl::Status) &&> done);

  // SUB: creates topic and channel if needed and adds a consumer with RDY 0.
  absl::StatusOr<std::shared_ptr<Consumer>> Subscribe(std::string_view topic,
                                                      std::string_view channel,
                                                      ConsumerInfo info, DeliverySink* sink);

  absl::Status CreateTopic(std::string_view topic);
  absl::Status DeleteTopic(std::string_view topic);  // NotFound if missing
  absl::Status EmptyTopic(std::string_view topic);
  absl::Status SetTopicPaused(std::string_view topic, bool paused);
  // CreateChannel creates the topic too (nsqd's HTTP API needs it to exist: the HTTP
  // adapter checks that first).
  absl::Status CreateChannel(std::string_view topic, std::string_view channel);
  absl::Status DeleteChannel(std::string_view topic, std::string_view channel);
  absl::Status EmptyChannel(std::string_view topic, std::string_view channel);
  absl::Status SetChannelPaused(std::string_view topic, std::string_view channel, bool paused);

  // Beyond NSQ: a channel's QueuePolicy (the channel, and its topic, are created when
  // missing), and a topic's default for its new channels (existing ones keep theirs).
  // Persisted with the topology. INVALID_ARGUMENT for a bad policy (ValidatePolicy).
  absl::Status SetChannelPolicy(std::string_view topic, std::string_view channel,
                                const QueuePolicy& policy);
  absl::Status SetTopicPolicy(std::string_view topic, const QueuePolicy& policy);
  absl::StatusOr<QueuePolicy> GetTopicPolicy(std::string_view topic) const;
  // Up to `max` messages of each state (in flight by delivery order, ready in queue
  // order, deferred by due time), changing nothing.
  absl::StatusOr<std::vector<PeekedMessage>> Peek(std::string_view topic, std::string_view channel,
                                                  size_t max) const;

  bool TopicExists(std::string_view topic) const;
  // NotFound when the filter names a missing topic or channel.
  absl::StatusOr<std::vector<TopicStats>> GetStats(const StatsFilter& filter = {}) const;

  // Times out in-flight messages and releases due deferred ones. Returns when it next has
  // something to do (InfiniteFuture if nothing is pending).
  absl::Time ProcessTimers();

  // OK, or the last storage error (cleared by the next successful storage write).
  absl::Status Health() const;

 private:
  friend class Topic;
  friend class Channel;
  friend class ConsumerImpl;

  // Publish's work up to (not including) waiting for durability.
  absl::Status PublishNoWait(std::string_view topic, absl::Span<const std::string_view> bodies,
                             absl::Duration defer, std::vector<MessageId>* ids);
  // Its last step, for validated bodies: the topic (created if missing) takes them,
  // retried when it is deleted meanwhile. `origin` marks dead-letter copies.
  absl::Status PublishToTopic(std::string_view topic, absl::Span<const std::string_view> bodies,
                              absl::Duration defer, std::vector<MessageId>* ids,
                              std::shared_ptr<const MessageOrigin> origin);
  absl::StatusOr<std::shared_ptr<Topic>> GetOrCreateTopic(std::string_view name);
  std::shared_ptr<Topic> FindTopic(std::string_view name) const;
  absl::StatusOr<std::shared_ptr<Channel>> FindChannel(std::string_view topic,
                                                       std::string_view channel) const;
  // Removes an ephemeral channel with no consumers (and its topic if that leaves it with
  // no channel and it is ephemeral).
  void ReapEphemeral(const std::shared_ptr<Topic>& topic, const std::shared_ptr<Channel>& channel);
  void PersistMetadata();
  void NotifyTopicCreated(const std::shared_ptr<Topic>& topic);
  void NotifyTopicDeleted(const std::string& topic, const std::vector<std::string>& channels);
  void NotifyChannelCreated(const std::string& topic, const std::string& channel);
  void NotifyChannelDeleted(const std::string& topic, const std::string& channel);
  void RecordStorageResult(const absl::Status& status);
  // From a channel, under its lock: `queued` goes to `topic` as a dead-letter copy. Sent
  // by ProcessTimers (no channel lock held); the channel's record is acked after it.
  void QueueDeadLetter(std::shared_ptr<Channel> from, QueuedMessage queued, std::string topic,
                       MessageOrigin::Reason reason);
  // Sends what QueueDeadLetter queued; true if some could not be sent (retried).
  bool SendDeadLetters();

  const EngineOptions options_;
  const Clock* const clock_;
  Storage* const storage_;

  std::vector<EngineObserver*> observers_;  // fixed before Start()

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Topic>> topics_ ABSL_GUARDED_BY(mu_);
  // Topics whose storage is being destroyed, without mu_ held: a topic of the same name
  // is not created (and its storage not opened) until that is done.
  absl::flat_hash_set<std::string> deleting_ ABSL_GUARDED_BY(mu_);

  // Serializes metadata snapshots and writes; taken before mu_.
  absl::Mutex metadata_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::atomic<bool> started_{false};
  std::atomic<bool> shut_down_{false};

  struct DeadLetter {
    std::shared_ptr<Channel> from;
    QueuedMessage queued;
    std::string topic;
    MessageOrigin::Reason reason;
  };
  absl::Mutex dead_mu_;  // a leaf: taken under channel locks
  std::vector<DeadLetter> dead_letters_ ABSL_GUARDED_BY(dead_mu_);

  std::atomic<bool> unhealthy_{false};  // fast path of RecordStorageResult
  mutable absl::Mutex health_mu_;
  absl::Status health_ ABSL_GUARDED_BY(health_mu_);
  absl::Status shutdown_status_ ABSL_GUARDED_BY(health_mu_);
};

}  // namespace nsq::broker
