#include "services/broker/core/engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/names/names.h"
#include "services/broker/core/channel.h"
#include "services/broker/core/topic.h"

namespace nsq::broker {
namespace {

// A topic or channel deleted between lookup and use is retried against a fresh lookup;
// a few rounds are plenty (it takes a concurrent delete per round to need another).
constexpr int kRaceRetries = 8;

// Debian's Abseil has its own string_view type; its hash maps look up by that.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status ShuttingDown() { return absl::UnavailableError("exiting: the broker is shutting down"); }

bool IsExiting(const absl::Status& st) {
  return st.code() == absl::StatusCode::kFailedPrecondition && st.message() == "exiting";
}

absl::Status BadTopic(std::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat("E_BAD_TOPIC topic name \"", std::string(name), "\" is not valid"));
}
absl::Status BadChannel(std::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat("E_BAD_CHANNEL channel name \"", std::string(name), "\" is not valid"));
}
absl::Status TopicNotFound() { return absl::NotFoundError("TOPIC_NOT_FOUND"); }
absl::Status ChannelNotFound() { return absl::NotFoundError("CHANNEL_NOT_FOUND"); }

}  // namespace

DeliveryLocality LocalityOf(const EngineOptions& options, const ConsumerInfo& info) {
  // nsqd's messagePump: zoneLocal and regionLocal are only ever set under the experiment.
  if (!options.topology_aware_consumption) return DeliveryLocality::kGlobal;
  if (info.topology_zone == options.topology_zone) return DeliveryLocality::kZone;
  if (info.topology_region == options.topology_region) return DeliveryLocality::kRegion;
  return DeliveryLocality::kGlobal;
}

Engine::Engine(EngineOptions options, const Clock* clock, Storage* storage)
    : options_(options), clock_(clock), storage_(storage) {}

Engine::~Engine() { Shutdown(); }

void Engine::AddObserver(EngineObserver* observer) { observers_.push_back(observer); }

void Engine::NotifyTopicCreated(const std::shared_ptr<Topic>& topic) {
  // The topic starts when the last copy of the hold goes: here, unless an observer kept
  // one to create channels in it first.
  std::weak_ptr<Topic> weak = topic;
  TopicHold hold(std::shared_ptr<void>(nullptr, [weak](void*) {
    if (auto t = weak.lock()) t->Start();
  }));
  for (EngineObserver* o : observers_) o->TopicCreated(topic->name(), hold);
}

void Engine::NotifyTopicDeleted(const std::string& topic, const std::vector<std::string>& channels) {
  for (EngineObserver* o : observers_) {
    for (const std::string& c : channels) o->ChannelDeleted(topic, c);
    o->TopicDeleted(topic);
  }
}

void Engine::NotifyChannelCreated(const std::string& topic, const std::string& channel) {
  for (EngineObserver* o : observers_) o->ChannelCreated(topic, channel);
}

void Engine::NotifyChannelDeleted(const std::string& topic, const std::string& channel) {
  for (EngineObserver* o : observers_) o->ChannelDeleted(topic, channel);
}

absl::Status Engine::Start() {
  absl::StatusOr<Metadata> md = storage_->LoadMetadata();
  if (!md.ok()) return md.status();
  for (const Metadata::Topic& t : md->topics) {
    if (!names::IsValidName(t.name) || names::IsEphemeralName(t.name)) continue;
    auto topic = GetOrCreateTopic(t.name);
    if (!topic.ok()) return topic.status();
    (*topic)->SetPaused(t.paused).IgnoreError();
    if (ValidatePolicy(t.policy, t.name).ok()) (*topic)->SetDefaultPolicy(t.policy);
    for (const Metadata::Channel& c : t.channels) {
      if (!names::IsValidName(c.name) || names::IsEphemeralName(c.name)) continue;
      bool created = false;
      auto ch = (*topic)->GetOrCreateChannel(c.name, c.paused, &created);
      if (!ch.ok()) return ch.status();
      if (ValidatePolicy(c.policy, t.name).ok()) {
        (*topic)->SetChannelPolicy(c.name, c.policy, nullptr).IgnoreError();
      }
      if (created) NotifyChannelCreated(t.name, c.name);
    }
  }
  started_.store(true);
  return absl::OkStatus();
}

void Engine::Shutdown() {
  if (!shut_down_.load()) SendDeadLetters();  // their sources are about to be written out
  std::vector<std::shared_ptr<Topic>> topics;
  {
    // Under the writer lock: a topic being created now is either in the snapshot or
    // refused (GetOrCreateTopic checks the flag under the same lock).
    absl::MutexLock lock(&mu_);
    if (shut_down_.exchange(true)) return;
    for (const auto& [name, topic] : topics_) topics.push_back(topic);
  }
  const absl::Status why = absl::UnavailableError("broker is shutting down");
  absl::Status first;
  auto note = [&first](const absl::Status& st, const std::string& what) {
    if (!st.ok() && first.ok()) {
      first = absl::Status(st.code(), absl::StrCat("cannot write ", what, " out: ", st.message()));
    }
  };
  for (const auto& topic : topics) {
    absl::Status st = topic->Persist();
    RecordStorageResult(st);
    note(st, absl::StrCat("topic ", topic->name()));
    for (const auto& channel : topic->Channels()) {
      st = channel->Persist(why);
      RecordStorageResult(st);
      note(st, absl::StrCat("channel ", topic->name(), "/", channel->name()));
    }
  }
  absl::MutexLock lock(&health_mu_);
  shutdown_status_ = first;
}

absl::Status Engine::ShutdownStatus() const {
  absl::MutexLock lock(&health_mu_);
  return shutdown_status_;
}

absl::StatusOr<std::shared_ptr<Topic>> Engine::GetOrCreateTopic(std::string_view name) {
  // Every new piece of work (publish, subscribe, create) comes through here: none after
  // Shutdown, whose snapshot of the topics would miss it.
  if (shut_down_.load()) return ShuttingDown();
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = topics_.find(Key(name));
    if (it != topics_.end()) return it->second;
  }
  std::shared_ptr<Topic> topic;
  {
    absl::MutexLock lock(&mu_);
    // Wait out a delete of the same name: its storage goes first.
    const std::string key(name);
    auto not_deleting = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !deleting_.contains(key);
    };
    mu_.Await(absl::Condition(&not_deleting));
    if (shut_down_.load()) return ShuttingDown();
    auto it = topics_.find(Key(name));
    if (it != topics_.end()) return it->second;
    std::unique_ptr<BackendQueue> backend;
    if (!names::IsEphemeralName(name)) {
      auto opened = storage_->OpenQueue(name, "", /*durable=*/false);
      RecordStorageResult(opened.status());
      if (!opened.ok()) return opened.status();
      backend = *std::move(opened);
    }
    // Starting until the observers are done with it (channel pre-creation).
    topic = std::make_shared<Topic>(this, std::string(name), std::move(backend), false,
                                    /*starting=*/!observers_.empty());
    topics_.emplace(std::string(name), topic);
  }
  if (!topic->ephemeral()) PersistMetadata();
  NotifyTopicCreated(topic);
  return topic;
}

std::shared_ptr<Topic> Engine::FindTopic(std::string_view name) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = topics_.find(Key(name));
  return it == topics_.end() ? nullptr : it->second;
}

bool Engine::TopicExists(std::string_view topic) const { return FindTopic(topic) != nullptr; }

absl::StatusOr<std::shared_ptr<Channel>> Engine::FindChannel(std::string_view topic,
                                                             std::string_view channel) const {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (!names::IsValidName(channel)) return BadChannel(channel);
  std::shared_ptr<Topic> t = FindTopic(topic);
  if (!t) return TopicNotFound();
  std::shared_ptr<Channel> c = t->FindChannel(channel);
  if (!c) return ChannelNotFound();
  return c;
}

absl::Status Engine::Publish(std::string_view topic, absl::Span<const std::string_view> bodies,
                             absl::Duration defer, std::vector<MessageId>* ids) {
  absl::Status st = PublishNoWait(topic, bodies, defer, ids);
  if (!st.ok()) return st;
  st = storage_->WaitDurable();
  RecordStorageResult(st);
  return st;
}

void Engine::PublishAsync(std::string_view topic, absl::Span<const std::string_view> bodies,
                          absl::Duration defer, std::vector<MessageId>* ids,
                          absl::AnyInvocable<void(absl::Status) &&> done) {
  absl::Status st = PublishNoWait(topic, bodies, defer, ids);
  if (!st.ok()) {
    std::move(done)(std::move(st));
    return;
  }
  storage_->WhenDurable([this, done = std::move(done)](absl::Status st) mutable {
    RecordStorageResult(st);
    std::move(done)(std::move(st));
  });
}

absl::Status Engine::PublishNoWait(std::string_view topic,
                                   absl::Span<const std::string_view> bodies,
                                   absl::Duration defer, std::vector<MessageId>* ids) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (bodies.empty()) return absl::InvalidArgumentError("E_BAD_BODY no message bodies");
  for (std::string_view body : bodies) {
    if (body.empty()) return absl::InvalidArgumentError("E_BAD_MESSAGE empty message body");
    if (static_cast<int64_t>(body.size()) > options_.max_msg_size) {
      return absl::ResourceExhaustedError(absl::StrCat("E_BAD_MESSAGE message too big ", body.size(),
                                                       " > ", options_.max_msg_size));
    }
  }
  if (defer < absl::ZeroDuration() || defer > options_.max_req_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("E_INVALID DPUB timeout ", absl::ToInt64Milliseconds(defer), " out of range 0-",
                     absl::ToInt64Milliseconds(options_.max_req_timeout)));
  }
  return PublishToTopic(topic, bodies, defer, ids, nullptr);
}

absl::Status Engine::PublishToTopic(std::string_view topic, absl::Span<const std::string_view> bodies,
                                    absl::Duration defer, std::vector<MessageId>* ids,
                                    std::shared_ptr<const MessageOrigin> origin) {
  absl::Status st;
  for (int i = 0; i < kRaceRetries; ++i) {
    auto t = GetOrCreateTopic(topic);
    if (!t.ok()) return t.status();
    const size_t mark = ids ? ids->size() : 0;
    st = (*t)->Publish(bodies, defer, ids, origin);
    if (!IsExiting(st)) return st;
    if (ids) ids->resize(mark);
  }
  return absl::UnavailableError("topic is being deleted");
}

absl::StatusOr<std::shared_ptr<Consumer>> Engine::Subscribe(std::string_view topic,
                                                            std::string_view channel,
                                                            ConsumerInfo info, DeliverySink* sink) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (!names::IsValidName(channel)) return BadChannel(channel);
  if (info.msg_timeout < absl::ZeroDuration() || info.msg_timeout > options_.max_msg_timeout) {
    return absl::InvalidArgumentError(absl::StrCat(
        "E_BAD_BODY msg_timeout ", absl::ToInt64Milliseconds(info.msg_timeout),
        "ms out of range 0-", absl::ToInt64Milliseconds(options_.max_msg_timeout), "ms"));
  }
  if (info.sample_rate < 0 || info.sample_rate > 99) {
    return absl::InvalidArgumentError(
        absl::StrCat("E_BAD_BODY sample rate (", info.sample_rate, ") is invalid"));
  }
  for (int i = 0; i < kRaceRetries; ++i) {
    auto t = GetOrCreateTopic(topic);
    if (!t.ok()) return t.status();
    bool created = false;
    auto consumer = (*t)->Subscribe(channel, info, sink, &created);
    if (!consumer.ok() && IsExiting(consumer.status())) continue;
    if (created) {
      if (!names::IsEphemeralName(channel)) PersistMetadata();
      NotifyChannelCreated((*t)->name(), std::string(channel));
    }
    if (!consumer.ok()) return consumer.status();
    return std::shared_ptr<Consumer>(*std::move(consumer));
  }
  return absl::UnavailableError("topic is being deleted");
}

absl::Status Engine::CreateTopic(std::string_view topic) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  return GetOrCreateTopic(topic).status();
}

absl::Status Engine::DeleteTopic(std::string_view topic) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  std::vector<std::string> channels;
  std::shared_ptr<Topic> t;
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(Key(topic));
    if (it == topics_.end()) return TopicNotFound();
    t = it->second;
    for (const auto& c : t->Channels()) channels.push_back(c->name());
    topics_.erase(it);
    deleting_.insert(std::string(topic));
  }
  // Destroying the storage queues is disk work: not under mu_, which every publish and
  // subscribe takes. A topic of the same name waits for it (deleting_).
  t->Delete(absl::NotFoundError(absl::StrCat("topic ", std::string(topic), " was deleted")));
  {
    absl::MutexLock lock(&mu_);
    deleting_.erase(std::string(topic));
  }
  PersistMetadata();
  NotifyTopicDeleted(std::string(topic), channels);
  return absl::OkStatus();
}

absl::Status Engine::EmptyTopic(std::string_view topic) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  std::shared_ptr<Topic> t = FindTopic(topic);
  if (!t) return TopicNotFound();
  return t->Empty();
}

absl::Status Engine::SetTopicPaused(std::string_view topic, bool paused) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  std::shared_ptr<Topic> t = FindTopic(topic);
  if (!t) return TopicNotFound();
  absl::Status st = t->SetPaused(paused);
  PersistMetadata();
  return st;
}

absl::Status Engine::CreateChannel(std::string_view topic, std::string_view channel) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (!names::IsValidName(channel)) return BadChannel(channel);
  for (int i = 0; i < kRaceRetries; ++i) {
    auto t = GetOrCreateTopic(topic);
    if (!t.ok()) return t.status();
    bool created = false;
    auto ch = (*t)->GetOrCreateChannel(channel, false, &created);
    if (!ch.ok() && IsExiting(ch.status())) continue;
    if (created) {
      if (!names::IsEphemeralName(channel)) PersistMetadata();
      NotifyChannelCreated((*t)->name(), std::string(channel));
    }
    return ch.status();
  }
  return absl::UnavailableError("topic is being deleted");
}

absl::Status Engine::DeleteChannel(std::string_view topic, std::string_view channel) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (!names::IsValidName(channel)) return BadChannel(channel);
  std::shared_ptr<Topic> t = FindTopic(topic);
  if (!t) return TopicNotFound();
  absl::Status st = t->DeleteChannel(channel);
  if (!st.ok()) return st;
  bool topic_deleted = false;
  if (t->ephemeral() && !t->HasChannels()) {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(Key(topic));
    if (it != topics_.end() && it->second == t && !t->HasChannels()) {
      topics_.erase(it);
      t->Delete(absl::OkStatus());
      topic_deleted = true;
    }
  }
  PersistMetadata();
  NotifyChannelDeleted(t->name(), std::string(channel));
  if (topic_deleted) NotifyTopicDeleted(t->name(), {});
  return absl::OkStatus();
}

absl::Status Engine::EmptyChannel(std::string_view topic, std::string_view channel) {
  auto c = FindChannel(topic, channel);
  if (!c.ok()) return c.status();
  return (*c)->Empty();
}

absl::Status Engine::SetChannelPaused(std::string_view topic, std::string_view channel, bool paused) {
  auto c = FindChannel(topic, channel);
  if (!c.ok()) return c.status();
  absl::Status st = (*c)->SetPaused(paused);
  PersistMetadata();
  return st;
}

void Engine::ReapEphemeral(const std::shared_ptr<Topic>& topic,
                           const std::shared_ptr<Channel>& channel) {
  bool removed = false;
  bool topic_deleted = false;
  {
    absl::MutexLock lock(&mu_);
    const bool topic_empty = topic->ReapChannel(channel, &removed);
    if (removed && topic_empty && topic->ephemeral()) {
      auto it = topics_.find(Key(topic->name()));
      if (it != topics_.end() && it->second == topic) {
        topics_.erase(it);
        topic->Delete(absl::OkStatus());
        topic_deleted = true;
      }
    }
  }
  if (removed) NotifyChannelDeleted(topic->name(), channel->name());
  if (topic_deleted) NotifyTopicDeleted(topic->name(), {});
}

absl::StatusOr<std::vector<TopicStats>> Engine::GetStats(const StatsFilter& filter) const {
  std::vector<std::shared_ptr<Topic>> topics;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (!filter.topic.empty()) {
      auto it = topics_.find(Key(filter.topic));
      if (it == topics_.end()) return TopicNotFound();
      topics.push_back(it->second);
    } else {
      for (const auto& [name, topic] : topics_) topics.push_back(topic);
    }
  }
  if (!filter.topic.empty() && !filter.channel.empty() && !topics[0]->FindChannel(filter.channel)) {
    return ChannelNotFound();
  }
  std::sort(topics.begin(), topics.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  std::vector<TopicStats> out;
  out.reserve(topics.size());
  for (const auto& t : topics) out.push_back(t->Stats(filter));
  return out;
}

absl::Time Engine::ProcessTimers() {
  std::vector<std::shared_ptr<Channel>> channels;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, topic] : topics_) {
      for (auto& c : topic->Channels()) channels.push_back(std::move(c));
    }
  }
  std::vector<std::shared_ptr<Topic>> topics;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, topic] : topics_) topics.push_back(topic);
  }
  const absl::Time now = clock_->Now();
  absl::Time next = absl::InfiniteFuture();
  // A topic backlog bigger than one flush keeps moving to its channels tick by tick.
  for (const auto& t : topics) {
    if (t->FlushBacklog(now)) next = now;
  }
  for (const auto& c : channels) next = std::min(next, c->ProcessTimers(now));
  if (SendDeadLetters()) next = std::min(next, now + absl::Seconds(1));  // retry
  {
    absl::MutexLock lock(&dead_mu_);
    if (!dead_letters_.empty()) next = now;  // queued by this pass's dispatches
  }
  return next;
}

void Engine::QueueDeadLetter(std::shared_ptr<Channel> from, QueuedMessage queued, std::string topic,
                             MessageOrigin::Reason reason) {
  absl::MutexLock lock(&dead_mu_);
  dead_letters_.push_back(DeadLetter{std::move(from), std::move(queued), std::move(topic), reason});
}

bool Engine::SendDeadLetters() {
  std::vector<DeadLetter> batch;
  {
    absl::MutexLock lock(&dead_mu_);
    batch.swap(dead_letters_);
  }
  if (batch.empty()) return false;
  std::vector<DeadLetter> failed;
  for (DeadLetter& d : batch) {
    auto origin = std::make_shared<MessageOrigin>();
    origin->topic = d.from->topic_name();
    origin->channel = d.from->name();
    origin->id = d.queued.message->id;
    origin->attempts = d.queued.attempts;
    origin->reason = d.reason;
    const std::string_view body = d.queued.message->body;
    absl::Status st = PublishToTopic(d.topic, absl::MakeConstSpan(&body, 1), absl::ZeroDuration(),
                                     nullptr, std::move(origin));
    if (st.ok()) {
      // The copy's record is written before this ack in the log: a crash between the
      // two keeps both (delivered twice), never neither.
      d.from->AckDeadLettered(d.queued.backend_seq);
    } else if (!shut_down_.load()) {
      RecordStorageResult(st);
      failed.push_back(std::move(d));  // kept: tried again on a later tick
    }
  }
  if (failed.empty()) return false;
  absl::MutexLock lock(&dead_mu_);
  for (DeadLetter& d : failed) dead_letters_.push_back(std::move(d));
  return true;
}

absl::Status Engine::SetChannelPolicy(std::string_view topic, std::string_view channel,
                                      const QueuePolicy& policy) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (!names::IsValidName(channel)) return BadChannel(channel);
  if (absl::Status st = ValidatePolicy(policy, topic); !st.ok()) return st;
  auto t = GetOrCreateTopic(topic);
  if (!t.ok()) return t.status();
  bool created = false;
  absl::Status st = (*t)->SetChannelPolicy(channel, policy, &created);
  if (!st.ok()) return st;
  if (created) NotifyChannelCreated(std::string(topic), std::string(channel));
  PersistMetadata();
  return absl::OkStatus();
}

absl::Status Engine::SetTopicPolicy(std::string_view topic, const QueuePolicy& policy) {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  if (absl::Status st = ValidatePolicy(policy, topic); !st.ok()) return st;
  auto t = GetOrCreateTopic(topic);
  if (!t.ok()) return t.status();
  (*t)->SetDefaultPolicy(policy);
  PersistMetadata();
  return absl::OkStatus();
}

absl::StatusOr<QueuePolicy> Engine::GetTopicPolicy(std::string_view topic) const {
  if (!names::IsValidName(topic)) return BadTopic(topic);
  std::shared_ptr<Topic> t = FindTopic(topic);
  if (!t) return TopicNotFound();
  return t->default_policy();
}

absl::StatusOr<std::vector<PeekedMessage>> Engine::Peek(std::string_view topic,
                                                        std::string_view channel, size_t max) const {
  auto c = FindChannel(topic, channel);
  if (!c.ok()) return c.status();
  return (*c)->Peek(max);
}

void Engine::PersistMetadata() {
  if (!started_.load()) return;
  absl::MutexLock meta_lock(&metadata_mu_);
  Metadata md;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [name, topic] : topics_) {
      if (topic->ephemeral()) continue;
      Metadata::Topic t{name, topic->paused(), topic->default_policy(), {}};
      for (const auto& c : topic->Channels()) {
        if (c->ephemeral()) continue;
        t.channels.push_back(Metadata::Channel{c->name(), c->paused(), c->policy()});
      }
      std::sort(t.channels.begin(), t.channels.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
      md.topics.push_back(std::move(t));
    }
  }
  std::sort(md.topics.begin(), md.topics.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  RecordStorageResult(storage_->SaveMetadata(md));
}

void Engine::RecordStorageResult(const absl::Status& status) {
  if (status.ok() && !unhealthy_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&health_mu_);
  health_ = status;
  unhealthy_.store(!status.ok(), std::memory_order_relaxed);
}

absl::Status Engine::Health() const {
  absl::MutexLock lock(&health_mu_);
  return health_;
}

}  // namespace nsq::broker
