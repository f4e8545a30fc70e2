#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/broker/core/deferred_set.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/message_queue.h"

namespace nsq::broker {

// One channel of a topic: its ready FIFO (memory, then backend), the in-flight set
// (ordered by timeout) and the deferred queue (ordered by due time), and its consumers.
// Thread-safe; everything is guarded by mu_, which is also held while a consumer's
// sink is called (sinks only queue work).
class Channel : public std::enable_shared_from_this<Channel> {
 public:
  // `backend` and `deferred` are null for an ephemeral channel.
  Channel(Engine* engine, std::string topic_name, std::string name,
          std::unique_ptr<BackendQueue> backend, std::unique_ptr<DeferredQueue> deferred,
          bool paused);

  const std::string& name() const { return name_; }
  const std::string& topic_name() const { return topic_name_; }
  bool ephemeral() const { return ephemeral_; }

  // From the topic, on a new channel: `memory` (older than anything in the backend this
  // channel was built with) and `count` messages in all now belong to it.
  void AdoptBacklog(std::deque<QueuedMessage> memory, int64_t count);

  // From the topic (with the topic's lock held): new messages for this channel. A storage
  // error fails the publish (none of `messages` is queued here).
  absl::Status PutMessages(absl::Span<const MessagePtr> messages, int64_t deliver_at_ns);
  // A topic's backlog moving here: already acknowledged, so never lost (held in memory if
  // storage refuses them; the error is returned for health).
  absl::Status PutQueued(absl::Span<const QueuedMessage> messages);

  absl::StatusOr<std::shared_ptr<ConsumerImpl>> AddConsumer(std::shared_ptr<Topic> topic,
                                                            ConsumerInfo info,
                                                            DeliverySink* sink);
  absl::Status SetPaused(bool paused);
  void SetPolicy(const QueuePolicy& policy);
  QueuePolicy policy() const;
  std::vector<PeekedMessage> Peek(size_t max) const;
  // Publishes of `n` messages would be refused (max_depth with reject_new); counts them.
  bool WouldReject(size_t n);
  // A dead-letter copy of the message held as `backend_seq` was published: forget it.
  void AckDeadLettered(uint64_t backend_seq);
  bool paused() const;
  absl::Status Empty();
  // Closes every consumer with `why`, drops all messages and the backend.
  void Delete(const absl::Status& why);
  // Graceful shutdown: closes every consumer with `why` and writes in-flight, queued and
  // deferred messages out to the backend so that a restart delivers them in that order,
  // in-flight ones with their attempts and deferred ones at their due time.
  absl::Status Persist(const absl::Status& why);
  bool HasConsumers() const;

  // Times out in-flight messages, releases due deferred ones, writes the backend's cursor
  // and acks out once a second; returns the next deadline.
  absl::Time ProcessTimers(absl::Time now);
  ChannelStats Stats(bool include_consumers) const;

 private:
  friend class ConsumerImpl;

  struct InFlight {
    QueuedMessage queued;
    ConsumerImpl* owner;
    int64_t deadline_ns;
    int64_t delivered_ns;
    uint64_t delivery_seq;  // order of delivery on this channel
  };
  struct Deadline {
    int64_t at_ns;
    MessageId id;
    bool operator>(const Deadline& o) const { return at_ns > o.at_ns; }
  };

  // Queues an acknowledged message for delivery (requeue, timeout, deferred release,
  // backlog): never loses it (MessageQueue::PutOrHold); returns and records a storage error.
  absl::Status PutReadyLocked(QueuedMessage message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues an acknowledged message for delivery at `due_ns` (never lost; see DeferredSet).
  void DeferLocked(QueuedMessage message, int64_t due_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves due deferred messages to the ready queue, at most a budget per call (*more:
  // some are still due); returns how many.
  size_t ReleaseDueLocked(int64_t now_ns, bool* more) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands ready messages to consumers with room in their RDY window.
  void DispatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchToConsumersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushDeadlineLocked(int64_t at_ns, const MessageId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes `consumer` and requeues what it had in flight.
  void RemoveConsumerLocked(ConsumerImpl* consumer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `now_ns` < 0: read the clock if it is needed (e2e latency).
  absl::Status FinishLocked(ConsumerImpl* consumer, const MessageId& id, int64_t now_ns = -1)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool records_e2e() const { return e2e_ != nullptr; }
  void ClearInFlightLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // QueuePolicy at dispatch: true if `qm` is not to be delivered (expired, or out of
  // attempts): it is dropped or dead-lettered, and counted.
  bool DiscardLocked(QueuedMessage& qm, int64_t now_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // max_depth with drop_oldest: drops ready messages from the head down to the bound.
  void TrimToMaxDepthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Engine* const engine_;
  const std::string topic_name_;
  const std::string name_;
  const bool ephemeral_;

  mutable absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> paused_flag_;  // paused_, for paused() without mu_
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  // Written out for a shutdown: takes no more messages.
  bool persisted_ ABSL_GUARDED_BY(mu_) = false;
  MessageQueue queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<MessageId, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> deadlines_
      ABSL_GUARDED_BY(mu_);
  DeferredSet deferred_ ABSL_GUARDED_BY(mu_);
  // A dispatch stopped at its budget of not-yet-due records: the timer goes on with it.
  bool dispatch_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<QueuedMessage> released_ ABSL_GUARDED_BY(mu_);
  uint64_t delivery_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_backend_flush_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ConsumerImpl*> consumers_ ABSL_GUARDED_BY(mu_);
  size_t next_consumer_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Delivery> batch_ ABSL_GUARDED_BY(mu_);

  uint64_t message_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t delivered_by_locality_[3] ABSL_GUARDED_BY(mu_) = {0, 0, 0};  // by DeliveryLocality
  uint64_t requeue_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t timeout_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Publish-to-FIN latency; null when EngineOptions::record_e2e_latency is off.
  const std::unique_ptr<E2eLatencyRecorder> e2e_ ABSL_PT_GUARDED_BY(mu_);

  QueuePolicy policy_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex policy_mu_;  // a leaf
  QueuePolicy published_policy_ ABSL_GUARDED_BY(policy_mu_);  // policy_, for policy()
  bool policy_active_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t attempts_exceeded_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t expired_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dead_letter_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t depth_dropped_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t depth_rejected_count_ ABSL_GUARDED_BY(mu_) = 0;
};

// The engine's side of a consumer. Its counters are guarded by its channel's mu_.
class ConsumerImpl final : public Consumer {
 public:
  ConsumerImpl(Engine* engine, std::shared_ptr<Topic> topic, std::shared_ptr<Channel> channel,
               ConsumerInfo info, absl::Duration msg_timeout, DeliverySink* sink,
               absl::Time connect_time);
  ~ConsumerImpl() override;

  absl::Status SetReady(int64_t count) override;
  absl::Status Finish(const MessageId& id) override;
  std::vector<absl::Status> FinishBatch(absl::Span<const MessageId> ids) override;
  absl::Status Requeue(const MessageId& id, absl::Duration delay) override;
  absl::Status RequeueWithoutAttempt(const MessageId& id, absl::Duration delay) override;
  absl::Status Touch(const MessageId& id) override;
  void Close() override;
  ConsumerStats Stats() const override;

 private:
  friend class Channel;
  ConsumerStats StatsLocked() const;
  absl::Status RequeueImpl(const MessageId& id, absl::Duration delay, bool count_attempt);
  // True when the next message is to be dropped for this consumer's sample_rate.
  bool SampleOut();

  Engine* const engine_;
  const std::shared_ptr<Topic> topic_;
  const std::shared_ptr<Channel> channel_;
  const ConsumerInfo info_;
  const DeliveryLocality locality_;
  const absl::Duration msg_timeout_;
  const int64_t msg_timeout_ns_;
  DeliverySink* const sink_;
  const absl::Time connect_time_;

  // All guarded by channel_->mu_.
  bool closed_ = false;
  int64_t ready_count_ = 0;
  int64_t in_flight_count_ = 0;
  uint64_t message_count_ = 0;
  uint64_t finish_count_ = 0;
  uint64_t requeue_count_ = 0;
  uint64_t sample_state_;  // never 0
};

}  // namespace nsq::broker
