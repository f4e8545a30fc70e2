#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/message_queue.h"

namespace nsq::broker {

class Channel;

// A topic: makes message ids, fans every message out to all its channels, and keeps a
// backlog while it has no channel or is paused (the first channel then gets it all).
// Thread-safe; mu_ is taken before any of its channels' locks.
class Topic : public std::enable_shared_from_this<Topic> {
 public:
  // `starting`: hand nothing to channels until Start() (see TopicHold).
  Topic(Engine* engine, std::string name, std::unique_ptr<BackendQueue> backend, bool paused,
        bool starting = false);
  // Channels created while starting all get what was published meanwhile.
  void Start();

  const std::string& name() const { return name_; }
  bool ephemeral() const { return ephemeral_; }

  // FailedPrecondition("exiting") if the topic was deleted meanwhile.
  // `origin` is set on dead-letter copies. RESOURCE_EXHAUSTED (nothing queued) when a
  // channel with max_depth and reject_new is full.
  absl::Status Publish(absl::Span<const std::string_view> bodies, absl::Duration defer,
                       std::vector<MessageId>* ids,
                       std::shared_ptr<const MessageOrigin> origin = nullptr);
  // Sets a channel's policy, creating the channel if missing.
  absl::Status SetChannelPolicy(std::string_view name, const QueuePolicy& policy, bool* created);
  // The policy its new channels get.
  void SetDefaultPolicy(const QueuePolicy& policy);
  QueuePolicy default_policy() const;
  // `created` tells whether it is new. FailedPrecondition("exiting") if the topic was
  // deleted meanwhile.
  absl::StatusOr<std::shared_ptr<Channel>> GetOrCreateChannel(std::string_view name, bool paused,
                                                              bool* created = nullptr);
  // Gets or creates the channel and adds a consumer to it, under the topic's lock so that
  // an idle ephemeral channel cannot be reaped in between.
  absl::StatusOr<std::shared_ptr<ConsumerImpl>> Subscribe(std::string_view channel,
                                                          ConsumerInfo info, DeliverySink* sink,
                                                          bool* created);
  std::shared_ptr<Channel> FindChannel(std::string_view name) const;
  // Removes the channel (closing its consumers). NotFound if missing.
  absl::Status DeleteChannel(std::string_view name);
  // Removes `channel` if it is still ephemeral-and-idle; returns whether the topic is now
  // left without channels.
  bool ReapChannel(const std::shared_ptr<Channel>& channel, bool* removed);
  std::vector<std::shared_ptr<Channel>> Channels() const;

  // Moves part of a backlog to the channels; true if some is left for the next call.
  // Also writes the backlog's read cursor out once a second (`now`).
  bool FlushBacklog(absl::Time now);
  // Graceful shutdown: writes the backlog in memory out to the backend and closes the
  // topic (later publishes get "exiting"; its channels are persisted after it).
  absl::Status Persist();

  absl::Status SetPaused(bool paused);
  bool paused() const;
  absl::Status Empty();
  void Delete(const absl::Status& why);
  bool HasChannels() const;

  TopicStats Stats(const StatsFilter& filter) const;

 private:
  absl::StatusOr<std::shared_ptr<Channel>> GetOrCreateChannelLocked(std::string_view name,
                                                                    bool paused, bool* created)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::shared_ptr<Channel>> AdoptBacklogLocked(std::string_view name, bool paused)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::unique_ptr<DeferredQueue>> OpenDeferredLocked(std::string_view channel)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands up to `budget` backlog messages to the channels when there are some and the
  // topic is not paused; true if some are left.
  bool FlushBacklogLocked(size_t budget) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Engine* const engine_;
  const std::string name_;
  const bool ephemeral_;

  mutable absl::Mutex mu_;
  bool paused_ ABSL_GUARDED_BY(mu_);
  bool deleted_ ABSL_GUARDED_BY(mu_) = false;
  IdGenerator ids_ ABSL_GUARDED_BY(mu_);
  MessageQueue backlog_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Channel>, std::less<>> channels_ ABSL_GUARDED_BY(mu_);
  bool starting_ ABSL_GUARDED_BY(mu_);
  QueuePolicy default_policy_ ABSL_GUARDED_BY(mu_);
  // Some channel has max_depth with reject_new: publishes check them first.
  bool rejecting_ ABSL_GUARDED_BY(mu_) = false;
  // The channels a publish fans out to, rebuilt when one comes or goes: a publish takes
  // it under mu_ and writes to the channels after letting go of mu_.
  using ChannelList = std::vector<std::shared_ptr<Channel>>;
  std::shared_ptr<const ChannelList> fanout_ ABSL_GUARDED_BY(mu_) = std::make_shared<ChannelList>();
  void ChannelsChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t message_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t message_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_backend_flush_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace nsq::broker
