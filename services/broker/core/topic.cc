#include "services/broker/core/topic.h"

#include "absl/strings/str_cat.h"
#include "common/names/names.h"
#include "services/broker/core/channel.h"

namespace nsq::broker {
namespace {
constexpr size_t kFlushBatch = 1024;
// Backlog moved to channels per call: a huge backlog (millions on disk) moves over
// several timer ticks instead of inside one publish or subscribe.
constexpr size_t kFlushBudget = 64 * 1024;
absl::Status Exiting() { return absl::FailedPreconditionError("exiting"); }

// The broker-wide default, except for the topic it names as dead-letter topic: that one
// keeps NSQ's behaviour (its channels would otherwise dead-letter into themselves and
// could expire or drop what was dead-lettered); give it a policy of its own instead.
QueuePolicy BrokerDefaultFor(const std::string& topic, const QueuePolicy& broker_default) {
  if (!broker_default.dead_letter_topic.empty() && broker_default.dead_letter_topic == topic) {
    return QueuePolicy{};
  }
  return broker_default;
}
}  // namespace

Topic::Topic(Engine* engine, std::string name, std::unique_ptr<BackendQueue> backend, bool paused,
             bool starting)
    : engine_(engine),
      name_(std::move(name)),
      ephemeral_(names::IsEphemeralName(name_)),
      paused_(paused),
      ids_(engine->options().node_id),
      backlog_(engine->options().mem_queue_size, std::move(backend)),
      starting_(starting),
      default_policy_(BrokerDefaultFor(name_, engine->options().default_policy)) {}

void Topic::SetDefaultPolicy(const QueuePolicy& policy) {
  absl::MutexLock lock(&mu_);
  default_policy_ = policy;
}

QueuePolicy Topic::default_policy() const {
  absl::MutexLock lock(&mu_);
  return default_policy_;
}

void Topic::Start() {
  absl::MutexLock lock(&mu_);
  if (!starting_) return;
  starting_ = false;
  FlushBacklogLocked(kFlushBudget);  // the timer moves the rest
}

absl::Status Topic::Publish(absl::Span<const std::string_view> bodies, absl::Duration defer,
                            std::vector<MessageId>* ids, std::shared_ptr<const MessageOrigin> origin) {
  const absl::Time now = engine_->clock()->Now();
  const int64_t now_ns = absl::ToUnixNanos(now);
  const int64_t deliver_at = defer > absl::ZeroDuration() ? absl::ToUnixNanos(now + defer) : 0;
  // Bodies are copied outside the lock; only ids are handed out under it.
  std::vector<std::shared_ptr<Message>> built;
  built.reserve(bodies.size());
  uint64_t bytes = 0;
  for (std::string_view body : bodies) {
    auto m = std::make_shared<Message>();
    m->timestamp_ns = now_ns;
    m->body.assign(body.data(), body.size());
    m->origin = origin;
    bytes += body.size();
    built.push_back(std::move(m));
  }
  std::vector<MessagePtr> messages(built.begin(), built.end());

  std::shared_ptr<const ChannelList> targets;
  {
    absl::MutexLock lock(&mu_);
    if (deleted_) return Exiting();
    // A full channel (max_depth, reject_new) fails the whole publish before any channel
    // takes it (a racing publish can still be refused by one channel only).
    if (rejecting_ && !(channels_.empty() || paused_ || starting_ || !backlog_.empty())) {
      for (const auto& channel : *fanout_) {
        if (channel->WouldReject(messages.size())) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "channel ", name_, ":", channel->name(), " is full (max_depth)"));
        }
      }
    }
    for (auto& m : built) {
      m->id = ids_.Next(now);
      if (ids != nullptr) ids->push_back(m->id);
    }
    message_count_ += messages.size();
    message_bytes_ += bytes;
    if (channels_.empty() || paused_ || starting_ || !backlog_.empty()) {
      // Behind a backlog (order), or held for the first channel / the unpause.
      std::vector<QueuedMessage> queued;
      queued.reserve(messages.size());
      for (MessagePtr& m : messages) queued.push_back(QueuedMessage{std::move(m), deliver_at, 0});
      absl::Status st = backlog_.PutBatch(queued);
      engine_->RecordStorageResult(st);
      if (!st.ok()) {  // refused: not counted
        message_count_ -= queued.size();
        message_bytes_ -= bytes;
      }
      FlushBacklogLocked(2 * queued.size());
      backlog_.TrimToCapacity();  // an ephemeral topic drops past --mem-queue-size
      return st;
    }
    targets = fanout_;
  }

  // Each channel's write (memory, or its backend on disk) happens under that channel's
  // lock only: a slow disk never holds up this topic's other publishers, its channel
  // creation or its stats. A channel deleted meanwhile ignores the messages; one shut
  // down meanwhile refuses them (the publish fails: nothing would write them out).
  absl::Status result;
  for (const auto& channel : *targets) {
    absl::Status st = channel->PutMessages(messages, deliver_at);
    if (!st.ok()) result = st;
  }
  if (!result.ok()) {  // the publisher is told it failed: not counted
    absl::MutexLock lock(&mu_);
    message_count_ -= messages.size();
    message_bytes_ -= bytes;
  }
  return result;
}

void Topic::ChannelsChangedLocked() {
  auto list = std::make_shared<ChannelList>();
  list->reserve(channels_.size());
  rejecting_ = false;
  for (const auto& [name, channel] : channels_) {
    list->push_back(channel);
    const QueuePolicy p = channel->policy();
    rejecting_ |= p.max_depth > 0 && p.depth_policy == DepthPolicy::kRejectNew;
  }
  fanout_ = std::move(list);
}

absl::Status Topic::SetChannelPolicy(std::string_view name, const QueuePolicy& policy, bool* created) {
  absl::MutexLock lock(&mu_);
  auto channel = GetOrCreateChannelLocked(name, false, created);
  if (!channel.ok()) return channel.status();
  (*channel)->SetPolicy(policy);
  ChannelsChangedLocked();
  return absl::OkStatus();
}

bool Topic::FlushBacklogLocked(size_t budget) {
  if (paused_ || starting_ || channels_.empty() || deleted_) return false;
  std::vector<QueuedMessage> batch;
  QueuedMessage qm;
  size_t moved = 0;
  while (moved < budget) {
    absl::Status read_error;
    batch.clear();
    while (batch.size() < kFlushBatch && moved + batch.size() < budget &&
           backlog_.Pop(&qm, &read_error)) {
      batch.push_back(std::move(qm));
    }
    moved += batch.size();
    if (!batch.empty()) {
      // Channels keep these even if their storage refuses them (held in memory).
      for (auto& [name, channel] : channels_) channel->PutQueued(batch).IgnoreError();
    }
    if (!read_error.ok()) {
      engine_->RecordStorageResult(read_error);
      return true;
    }
    if (batch.empty()) return false;
  }
  return !backlog_.empty();
}

bool Topic::FlushBacklog(absl::Time now) {
  absl::MutexLock lock(&mu_);
  const bool more = FlushBacklogLocked(kFlushBudget);
  if (now >= next_backend_flush_ && !deleted_) {
    next_backend_flush_ = now + absl::Seconds(1);
    if (absl::Status st = backlog_.Flush(); !st.ok()) engine_->RecordStorageResult(st);
  }
  return more;
}

absl::Status Topic::Persist() {
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::OkStatus();
  // Closed from here on: a publish that looked the topic up before the shutdown gets
  // "exiting" instead of queueing where nothing will write it out.
  deleted_ = true;
  return backlog_.Persist({}, {});
}

absl::StatusOr<std::shared_ptr<Channel>> Topic::GetOrCreateChannelLocked(std::string_view name,
                                                                         bool paused,
                                                                         bool* created) {
  if (created) *created = false;
  if (deleted_) return Exiting();
  auto it = channels_.find(name);
  if (it != channels_.end()) return it->second;
  if (channels_.empty() && !paused_ && !starting_ && !names::IsEphemeralName(name) &&
      backlog_.has_backend() &&
      !backlog_.empty() && (backlog_.memory_empty() || !engine_->durable())) {
    auto adopted = AdoptBacklogLocked(name, paused);
    if (adopted.ok()) {
      if (created) *created = true;
      return adopted;
    }
    // Fall back to moving the messages one by one.
  }
  std::unique_ptr<BackendQueue> backend;
  std::unique_ptr<DeferredQueue> deferred;
  if (!names::IsEphemeralName(name)) {
    auto opened = engine_->storage_->OpenQueue(name_, name, engine_->durable());
    engine_->RecordStorageResult(opened.status());
    if (!opened.ok()) return opened.status();
    backend = *std::move(opened);
    auto opened_deferred = OpenDeferredLocked(name);
    if (!opened_deferred.ok()) return opened_deferred.status();
    deferred = *std::move(opened_deferred);
  }
  auto channel = std::make_shared<Channel>(engine_, name_, std::string(name), std::move(backend),
                                           std::move(deferred), paused);
  if (default_policy_.active()) channel->SetPolicy(default_policy_);
  channels_.emplace(std::string(name), channel);
  ChannelsChangedLocked();
  if (created) *created = true;
  FlushBacklogLocked(kFlushBudget);
  return channel;
}

absl::StatusOr<std::unique_ptr<DeferredQueue>> Topic::OpenDeferredLocked(std::string_view channel) {
  auto opened = engine_->storage_->OpenDeferred(name_, channel);
  engine_->RecordStorageResult(opened.status());
  return opened;
}

absl::StatusOr<std::shared_ptr<Channel>> Topic::AdoptBacklogLocked(std::string_view name,
                                                                  bool paused) {
  // The first channel gets the whole backlog (nsqd's rule): hand it the backlog's
  // storage queue instead of copying millions of messages, and start the topic afresh.
  Storage* storage = engine_->storage_;
  auto deferred = OpenDeferredLocked(name);
  if (!deferred.ok()) return deferred.status();
  auto fresh = storage->OpenQueue(name_, absl::StrCat(std::string(name), "#backlog-swap"), false);
  if (!fresh.ok()) return fresh.status();
  std::unique_ptr<BackendQueue> moved = backlog_.ReleaseBackend();
  absl::Status st = storage->MoveQueue(moved.get(), name_, name, engine_->durable());
  if (st.ok()) {
    st = storage->MoveQueue(fresh->get(), name_, "", false);
    if (!st.ok()) storage->MoveQueue(moved.get(), name_, "", false).IgnoreError();  // undo
  }
  if (!st.ok()) {
    backlog_.SetBackend(std::move(moved));
    (*fresh)->Destroy().IgnoreError();
    engine_->RecordStorageResult(st);
    return st;
  }
  const int64_t count = backlog_.Depth() + moved->Depth();
  backlog_.SetBackend(*std::move(fresh));
  auto channel = std::make_shared<Channel>(engine_, name_, std::string(name), std::move(moved),
                                           *std::move(deferred), paused);
  if (default_policy_.active()) channel->SetPolicy(default_policy_);
  channel->AdoptBacklog(backlog_.ReleaseMemory(), count);
  channels_.emplace(std::string(name), channel);
  ChannelsChangedLocked();
  return channel;
}

absl::StatusOr<std::shared_ptr<Channel>> Topic::GetOrCreateChannel(std::string_view name, bool paused,
                                                                   bool* created) {
  absl::MutexLock lock(&mu_);
  return GetOrCreateChannelLocked(name, paused, created);
}

absl::StatusOr<std::shared_ptr<ConsumerImpl>> Topic::Subscribe(std::string_view channel_name,
                                                               ConsumerInfo info, DeliverySink* sink,
                                                               bool* created) {
  absl::MutexLock lock(&mu_);
  auto channel = GetOrCreateChannelLocked(channel_name, false, created);
  if (!channel.ok()) return channel.status();
  return (*channel)->AddConsumer(shared_from_this(), std::move(info), sink);
}

std::shared_ptr<Channel> Topic::FindChannel(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second;
}

absl::Status Topic::DeleteChannel(std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(name);
  if (it == channels_.end()) return absl::NotFoundError("CHANNEL_NOT_FOUND");
  std::shared_ptr<Channel> channel = it->second;
  channels_.erase(it);
  ChannelsChangedLocked();
  channel->Delete(absl::NotFoundError(absl::StrCat("channel ", name_, ":", std::string(name), " was deleted")));
  return absl::OkStatus();
}

bool Topic::ReapChannel(const std::shared_ptr<Channel>& channel, bool* removed) {
  absl::MutexLock lock(&mu_);
  *removed = false;
  auto it = channels_.find(channel->name());
  if (it != channels_.end() && it->second == channel && !channel->HasConsumers()) {
    channels_.erase(it);
    ChannelsChangedLocked();
    channel->Delete(absl::OkStatus());
    *removed = true;
  }
  return channels_.empty();
}

std::vector<std::shared_ptr<Channel>> Topic::Channels() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Channel>> out;
  out.reserve(channels_.size());
  for (const auto& [name, channel] : channels_) out.push_back(channel);
  return out;
}

absl::Status Topic::SetPaused(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
  FlushBacklogLocked(kFlushBudget);
  return absl::OkStatus();
}

bool Topic::paused() const {
  absl::MutexLock lock(&mu_);
  return paused_;
}

absl::Status Topic::Empty() {
  absl::MutexLock lock(&mu_);
  absl::Status st = backlog_.Clear();
  engine_->RecordStorageResult(st);
  return st;
}

void Topic::Delete(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (deleted_) return;
  deleted_ = true;
  for (auto& [name, channel] : channels_) channel->Delete(why);
  channels_.clear();
  ChannelsChangedLocked();
  engine_->RecordStorageResult(backlog_.Destroy());
}

bool Topic::HasChannels() const {
  absl::MutexLock lock(&mu_);
  return !channels_.empty();
}

TopicStats Topic::Stats(const StatsFilter& filter) const {
  absl::MutexLock lock(&mu_);
  TopicStats s;
  s.name = name_;
  s.depth = backlog_.Depth();
  s.backend_depth = backlog_.backend_depth();
  s.message_count = message_count_;
  s.message_bytes = message_bytes_;
  s.paused = paused_;
  s.ephemeral = ephemeral_;
  for (const auto& [name, channel] : channels_) {
    if (!filter.channel.empty() && name != filter.channel) continue;
    s.channels.push_back(channel->Stats(filter.include_consumers));
  }
  // nsqd's AggregateChannelE2eProcessingLatency: the merge of the channels' windows.
  std::shared_ptr<LatencyHistogram> merged;
  for (const ChannelStats& c : s.channels) {
    if (c.e2e.window == nullptr) continue;
    if (merged == nullptr) merged = std::make_shared<LatencyHistogram>();
    merged->Merge(*c.e2e.window);
  }
  if (merged != nullptr) {
    s.e2e.has_percentiles = true;
    s.e2e.window_count = merged->count();
    s.e2e.percentiles = E2ePercentiles(*merged, engine_->options().e2e_percentiles);
    s.e2e.window = std::move(merged);
  }
  return s;
}

}  // namespace nsq::broker
