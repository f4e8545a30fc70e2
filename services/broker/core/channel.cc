#include "services/broker/core/channel.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/names/names.h"
#include "services/broker/core/topic.h"

namespace nsq::broker {
namespace {
// Most messages handed to one consumer in one Deliver call.
constexpr int64_t kMaxDispatchBatch = 4096;
// The backend's read cursor and acks are written out at least this often (besides their
// count bounds), so that after a crash a quiet channel redelivers at most about this much
// of what was finished.
constexpr int64_t kBackendFlushEveryNs = 1'000'000'000;
// Deferred messages moved to the ready queue per timer tick, and not-yet-due records
// moved from the ready queue to the deferred one per dispatch: a million of either move
// over many short holds of the channel's lock, not one long one.
constexpr size_t kReleaseBudget = 4096;
constexpr int64_t kNotDueBudget = 4096;

// nsqd's wording: "FIN <id> failed ID not in flight" (the front door adds E_FIN_FAILED).
absl::Status NotInFlight(const char* what, const MessageId& id) {
  return absl::FailedPreconditionError(absl::StrCat(what, " ", id.ToString(), " failed ID not in flight"));
}
absl::Status NotOwned(const char* what, const MessageId& id) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, " ", id.ToString(), " failed client does not own message"));
}
}  // namespace

Channel::Channel(Engine* engine, std::string topic_name, std::string name,
                 std::unique_ptr<BackendQueue> backend, std::unique_ptr<DeferredQueue> deferred,
                 bool paused)
    : engine_(engine),
      topic_name_(std::move(topic_name)),
      name_(std::move(name)),
      ephemeral_(names::IsEphemeralName(name_)),
      paused_(paused),
      paused_flag_(paused),
      queue_(engine->options().mem_queue_size, std::move(backend), engine->durable()),
      deferred_(engine->options().mem_queue_size, std::move(deferred), &queue_),
      e2e_(engine->options().record_e2e_latency
               ? std::make_unique<E2eLatencyRecorder>(engine->options().e2e_percentiles,
                                                      engine->options().e2e_window)
               : nullptr) {}

void Channel::AdoptBacklog(std::deque<QueuedMessage> memory, int64_t count) {
  absl::MutexLock lock(&mu_);
  queue_.AdoptMemory(std::move(memory));
  message_count_ += static_cast<uint64_t>(count);
  DispatchLocked();
}

absl::Status Channel::PutMessages(absl::Span<const MessagePtr> messages, int64_t deliver_at_ns) {
  absl::MutexLock lock(&mu_);
  if (persisted_) return absl::FailedPreconditionError("exiting");
  if (deleted_) return absl::OkStatus();
  message_count_ += messages.size();
  if (policy_.max_depth > 0 && deliver_at_ns == 0 && policy_.depth_policy == DepthPolicy::kRejectNew &&
      queue_.Depth() + static_cast<int64_t>(messages.size()) > policy_.max_depth) {
    message_count_ -= messages.size();
    depth_rejected_count_ += messages.size();
    return absl::ResourceExhaustedError(absl::StrCat("channel ", topic_name_, ":", name_,
                                                     " is full (max_depth ", policy_.max_depth, ")"));
  }
  std::vector<QueuedMessage> batch;
  batch.reserve(messages.size());
  for (const MessagePtr& m : messages) batch.push_back(QueuedMessage{m, deliver_at_ns, 0});
  // Deferred ones wait in memory up to --mem-queue-size, the rest on disk by due time.
  absl::Status status = deliver_at_ns > 0 ? deferred_.AddPublished(batch) : queue_.PutBatch(batch);
  engine_->RecordStorageResult(status);
  if (!status.ok()) message_count_ -= messages.size();  // refused: not counted
  if (policy_.max_depth > 0) TrimToMaxDepthLocked();
  DispatchLocked();
  return status;
}

absl::Status Channel::PutQueued(absl::Span<const QueuedMessage> messages) {
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::OkStatus();
  message_count_ += messages.size();
  const int64_t now_ns = absl::ToUnixNanos(engine_->clock()->Now());
  absl::Status status;
  for (const QueuedMessage& m : messages) {
    if (m.deliver_at_ns > now_ns) {
      DeferLocked(QueuedMessage{m.message, 0, m.attempts}, m.deliver_at_ns);
    } else {
      absl::Status st = PutReadyLocked(QueuedMessage{m.message, 0, m.attempts});
      if (!st.ok()) status = st;
    }
  }
  DispatchLocked();
  return status;
}

absl::Status Channel::PutReadyLocked(QueuedMessage message) {
  // A message out of attempts (or expired) goes now, not when a consumer is next ready.
  if (policy_active_ && DiscardLocked(message, absl::ToUnixNanos(engine_->clock()->Now()))) {
    return absl::OkStatus();
  }
  absl::Status st = queue_.PutOrHold(std::move(message));
  engine_->RecordStorageResult(st);
  return st;
}

void Channel::DeferLocked(QueuedMessage message, int64_t due_ns) {
  if (policy_active_ && DiscardLocked(message, absl::ToUnixNanos(engine_->clock()->Now()))) return;
  message.deliver_at_ns = due_ns;
  engine_->RecordStorageResult(deferred_.Add(std::move(message)));
}

size_t Channel::ReleaseDueLocked(int64_t now_ns, bool* more) {
  *more = false;
  if (deferred_.NextDue() > now_ns) return 0;
  released_.clear();
  absl::Status st = deferred_.PopDue(now_ns, kReleaseBudget, &released_);
  if (!st.ok()) engine_->RecordStorageResult(st);
  for (QueuedMessage& qm : released_) PutReadyLocked(std::move(qm)).IgnoreError();
  const size_t n = released_.size();
  *more = n == kReleaseBudget && deferred_.NextDue() <= now_ns;
  released_.clear();
  return n;
}

void Channel::DispatchLocked() {
  DispatchToConsumersLocked();
  // An ephemeral channel keeps at most --mem-queue-size of what its consumers could not
  // take right now.
  queue_.TrimToCapacity();
}

void Channel::DispatchToConsumersLocked() {
  if (paused_ || consumers_.empty()) return;
  const size_t n = consumers_.size();
  size_t idle = 0;
  int64_t now_ns = -1;
  int64_t not_due_budget = kNotDueBudget;
  dispatch_pending_ = false;
  while (idle < n) {
    ConsumerImpl* c = consumers_[next_consumer_ % n];
    next_consumer_ = (next_consumer_ + 1) % n;
    const int64_t room = std::min(c->ready_count_ - c->in_flight_count_, kMaxDispatchBatch);
    if (room <= 0) {
      ++idle;
      continue;
    }
    if (now_ns < 0) now_ns = absl::ToUnixNanos(engine_->clock()->Now());
    batch_.clear();
    QueuedMessage qm;
    absl::Status read_error;
    while (static_cast<int64_t>(batch_.size()) < room && queue_.Pop(&qm, &read_error)) {
      if (qm.deliver_at_ns > now_ns) {
        // Written with a due time (a topic's backlog handed over, a shutdown): it waits
        // in the deferred queue. A long run of them is moved over several timer ticks.
        const int64_t due = qm.deliver_at_ns;
        DeferLocked(std::move(qm), due);
        if (--not_due_budget <= 0) {
          dispatch_pending_ = true;
          break;
        }
        continue;
      }
      if (policy_active_ && DiscardLocked(qm, now_ns)) {
        if (--not_due_budget <= 0) {  // a run of expired messages: over several ticks
          dispatch_pending_ = true;
          break;
        }
        continue;
      }
      if (c->info_.sample_rate > 0 && c->SampleOut()) {  // dropped, as nsqd does
        queue_.Ack(qm.backend_seq);
        continue;
      }
      if (qm.attempts < 0xffff) ++qm.attempts;
      const MessageId id = qm.message->id;
      const uint16_t attempts = qm.attempts;
      MessagePtr msg = qm.message;
      const int64_t deadline = now_ns + c->msg_timeout_ns_;
      auto [it, inserted] = in_flight_.try_emplace(id, InFlight{std::move(qm), c, deadline, now_ns, delivery_seq_++});
      if (!inserted) continue;  // the same id twice on one channel: keep the first
      PushDeadlineLocked(deadline, id);
      batch_.push_back(Delivery{std::move(msg), attempts});
    }
    if (!read_error.ok()) engine_->RecordStorageResult(read_error);
    if (batch_.empty()) return;  // nothing left to hand out (or the budget is spent)
    c->in_flight_count_ += static_cast<int64_t>(batch_.size());
    c->message_count_ += batch_.size();
    delivered_by_locality_[static_cast<int>(c->locality_)] += batch_.size();
    c->sink_->Deliver(batch_);
    if (dispatch_pending_) return;
    idle = 0;
  }
}

bool Channel::DiscardLocked(QueuedMessage& qm, int64_t now_ns) {
  MessageOrigin::Reason reason;
  const int64_t ttl_ns = absl::ToInt64Nanoseconds(policy_.message_ttl);
  if (ttl_ns > 0 && now_ns - qm.message->timestamp_ns >= ttl_ns) {
    ++expired_count_;
    if (!policy_.dead_letter_expired) {
      queue_.Ack(qm.backend_seq);
      return true;
    }
    reason = MessageOrigin::Reason::kExpired;
  } else if (policy_.max_attempts > 0 && qm.attempts >= policy_.max_attempts) {
    ++attempts_exceeded_count_;
    if (policy_.dead_letter_topic.empty()) {
      queue_.Ack(qm.backend_seq);
      return true;
    }
    reason = MessageOrigin::Reason::kMaxAttempts;
  } else {
    return false;
  }
  ++dead_letter_count_;
  // Still held on disk (durable) until the copy is published; acked then.
  engine_->QueueDeadLetter(shared_from_this(), std::move(qm), policy_.dead_letter_topic, reason);
  return true;
}

void Channel::TrimToMaxDepthLocked() {
  if (policy_.depth_policy != DepthPolicy::kDropOldest) return;
  QueuedMessage qm;
  absl::Status error;
  while (queue_.Depth() > policy_.max_depth && queue_.Pop(&qm, &error)) {
    queue_.Ack(qm.backend_seq);
    ++depth_dropped_count_;
  }
  if (!error.ok()) engine_->RecordStorageResult(error);
}

void Channel::SetPolicy(const QueuePolicy& policy) {
  {
    absl::MutexLock lock(&policy_mu_);
    published_policy_ = policy;
  }
  absl::MutexLock lock(&mu_);
  policy_ = policy;
  policy_active_ = policy.active();
  if (policy_.max_depth > 0) TrimToMaxDepthLocked();
  DispatchLocked();
}

QueuePolicy Channel::policy() const {
  // Without mu_: the topic and the metadata writer read it while a publish may be
  // writing to this channel's backend under mu_.
  absl::MutexLock lock(&policy_mu_);
  return published_policy_;
}

bool Channel::WouldReject(size_t n) {
  absl::MutexLock lock(&mu_);
  const bool reject = policy_.max_depth > 0 && policy_.depth_policy == DepthPolicy::kRejectNew &&
                      queue_.Depth() + static_cast<int64_t>(n) > policy_.max_depth;
  if (reject) depth_rejected_count_ += n;
  return reject;
}

void Channel::AckDeadLettered(uint64_t backend_seq) {
  absl::MutexLock lock(&mu_);
  if (!deleted_) queue_.Ack(backend_seq);
}

std::vector<PeekedMessage> Channel::Peek(size_t max) const {
  absl::MutexLock lock(&mu_);
  std::vector<PeekedMessage> out;
  std::vector<std::pair<uint64_t, const InFlight*>> flying;
  for (const auto& [id, entry] : in_flight_) flying.emplace_back(entry.delivery_seq, &entry);
  std::sort(flying.begin(), flying.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  if (flying.size() > max) flying.resize(max);
  for (const auto& [seq, e] : flying) {
    PeekedMessage p;
    p.state = PeekedMessage::State::kInFlight;
    p.message = e->queued.message;
    p.attempts = e->queued.attempts;
    p.deadline_ns = e->deadline_ns;
    p.consumer = e->owner->info_.client_id;
    out.push_back(std::move(p));
  }
  std::vector<QueuedMessage> copies;
  if (absl::Status st = queue_.Peek(max, &copies); !st.ok()) engine_->RecordStorageResult(st);
  for (QueuedMessage& q : copies) {
    PeekedMessage p;
    p.state = q.deliver_at_ns > 0 ? PeekedMessage::State::kDeferred : PeekedMessage::State::kReady;
    p.due_ns = q.deliver_at_ns;
    p.message = std::move(q.message);
    p.attempts = q.attempts;
    out.push_back(std::move(p));
  }
  copies.clear();
  if (absl::Status st = deferred_.Peek(max, &copies); !st.ok()) engine_->RecordStorageResult(st);
  for (QueuedMessage& q : copies) {
    PeekedMessage p;
    p.state = PeekedMessage::State::kDeferred;
    p.due_ns = q.deliver_at_ns;
    p.message = std::move(q.message);
    p.attempts = q.attempts;
    out.push_back(std::move(p));
  }
  return out;
}

void Channel::PushDeadlineLocked(int64_t at_ns, const MessageId& id) {
  deadlines_.push(Deadline{at_ns, id});
  // Entries of finished messages stay until they surface; rebuild when they dominate.
  if (deadlines_.size() > 2 * in_flight_.size() + 1024) {
    std::vector<Deadline> live;
    live.reserve(in_flight_.size());
    for (const auto& [mid, entry] : in_flight_) live.push_back(Deadline{entry.deadline_ns, mid});
    deadlines_ = decltype(deadlines_)(std::greater<Deadline>(), std::move(live));
  }
}

absl::StatusOr<std::shared_ptr<ConsumerImpl>> Channel::AddConsumer(std::shared_ptr<Topic> topic,
                                                                   ConsumerInfo info,
                                                                   DeliverySink* sink) {
  const EngineOptions& opts = engine_->options();
  absl::Duration timeout = info.msg_timeout;
  if (timeout == absl::ZeroDuration()) timeout = opts.msg_timeout;
  absl::MutexLock lock(&mu_);
  if (deleted_) return absl::NotFoundError("channel deleted");
  if (opts.max_channel_consumers > 0 &&
      static_cast<int64_t>(consumers_.size()) >= opts.max_channel_consumers) {
    return absl::ResourceExhaustedError(absl::StrCat("channel consumers for ", topic_name_, ":",
                                                     name_, " exceeds limit of ",
                                                     opts.max_channel_consumers));
  }
  auto consumer = std::make_shared<ConsumerImpl>(engine_, std::move(topic), shared_from_this(),
                                                 std::move(info), timeout, sink,
                                                 engine_->clock()->Now());
  consumers_.push_back(consumer.get());
  return consumer;
}

absl::Status Channel::SetPaused(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
  paused_flag_.store(paused, std::memory_order_relaxed);
  if (!paused_) DispatchLocked();
  return absl::OkStatus();
}

bool Channel::paused() const {
  // Without the lock: the metadata writer reads it while a publish may be writing to
  // this channel's backend under the lock.
  return paused_flag_.load(std::memory_order_relaxed);
}

bool Channel::HasConsumers() const {
  absl::MutexLock lock(&mu_);
  return !consumers_.empty();
}

void Channel::ClearInFlightLocked() {
  in_flight_.clear();
  deadlines_ = decltype(deadlines_)();
  for (ConsumerImpl* c : consumers_) c->in_flight_count_ = 0;
}

absl::Status Channel::Empty() {
  absl::MutexLock lock(&mu_);
  ClearInFlightLocked();
  absl::Status st = deferred_.Clear();
  st.Update(queue_.Clear());
  engine_->RecordStorageResult(st);
  // Consumers' windows are open again, but there is nothing to send.
  return st;
}

void Channel::Delete(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (deleted_) return;
  deleted_ = true;
  for (ConsumerImpl* c : consumers_) {
    c->closed_ = true;
    c->sink_->Closed(why);
  }
  consumers_.clear();
  ClearInFlightLocked();
  absl::Status st = deferred_.Destroy();
  st.Update(queue_.Destroy());
  engine_->RecordStorageResult(st);
}

absl::Status Channel::Persist(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  if (deleted_ || persisted_) return absl::OkStatus();
  persisted_ = true;
  for (ConsumerImpl* c : consumers_) {
    c->closed_ = true;
    c->sink_->Closed(why);
  }
  consumers_.clear();
  // What was in flight is delivered first after the restart, attempts kept.
  std::vector<QueuedMessage> front, back;
  std::vector<std::pair<uint64_t, MessageId>> order;
  for (const auto& [id, entry] : in_flight_) order.emplace_back(entry.delivery_seq, id);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [seq, id] : order) front.push_back(std::move(in_flight_.find(id)->second.queued));
  ClearInFlightLocked();
  // Deferred ones go to the deferred queue; what it cannot take is written after the
  // ready queue with its due time, and waits there again after the restart.
  absl::Status st = deferred_.Persist(&back);
  st.Update(queue_.Persist(std::move(front), std::move(back)));
  engine_->RecordStorageResult(st);
  return st;
}

void Channel::RemoveConsumerLocked(ConsumerImpl* consumer) {
  consumer->closed_ = true;
  consumers_.erase(std::remove(consumers_.begin(), consumers_.end(), consumer), consumers_.end());
  if (consumer->in_flight_count_ > 0) {
    // Requeue at once (nsqd waits for the timeout), oldest delivery first.
    std::vector<std::pair<uint64_t, MessageId>> owned;
    for (const auto& [id, entry] : in_flight_) {
      if (entry.owner == consumer) owned.emplace_back(entry.delivery_seq, id);
    }
    std::sort(owned.begin(), owned.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [seq, id] : owned) {
      auto it = in_flight_.find(id);
      QueuedMessage qm = std::move(it->second.queued);
      in_flight_.erase(it);
      ++requeue_count_;
      PutReadyLocked(std::move(qm)).IgnoreError();
    }
    consumer->in_flight_count_ = 0;
  }
  DispatchLocked();
}

absl::Status Channel::FinishLocked(ConsumerImpl* consumer, const MessageId& id, int64_t now_ns) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return NotInFlight("FIN", id);
  if (it->second.owner != consumer) return NotOwned("FIN", id);
  if (e2e_ != nullptr) {
    if (now_ns < 0) now_ns = absl::ToUnixNanos(engine_->clock()->Now());
    e2e_->Record(now_ns, it->second.queued.message->timestamp_ns);
  }
  queue_.Ack(it->second.queued.backend_seq);
  in_flight_.erase(it);
  --consumer->in_flight_count_;
  ++consumer->finish_count_;
  return absl::OkStatus();
}

absl::Time Channel::ProcessTimers(absl::Time now) {
  const int64_t now_ns = absl::ToUnixNanos(now);
  absl::MutexLock lock(&mu_);
  bool changed = false;
  while (!deadlines_.empty() && deadlines_.top().at_ns <= now_ns) {
    Deadline d = deadlines_.top();
    deadlines_.pop();
    auto it = in_flight_.find(d.id);
    if (it == in_flight_.end() || it->second.deadline_ns != d.at_ns) continue;  // stale
    QueuedMessage qm = std::move(it->second.queued);
    --it->second.owner->in_flight_count_;
    in_flight_.erase(it);
    ++timeout_count_;
    PutReadyLocked(std::move(qm)).IgnoreError();
    changed = true;
  }
  bool more_due = false;
  changed |= ReleaseDueLocked(now_ns, &more_due) > 0;
  if (changed || dispatch_pending_) DispatchLocked();
  if (now_ns >= next_backend_flush_ns_) {
    next_backend_flush_ns_ = now_ns + kBackendFlushEveryNs;
    // Only a failure is news for health: a no-op flush says nothing of the disk.
    absl::Status st = queue_.Flush();
    st.Update(deferred_.Flush());
    if (!st.ok()) engine_->RecordStorageResult(st);
  }
  int64_t next = INT64_MAX;
  if (more_due || dispatch_pending_) next = now_ns;
  if (!deadlines_.empty()) next = std::min(next, deadlines_.top().at_ns);
  next = std::min(next, deferred_.NextDue());
  return next == INT64_MAX ? absl::InfiniteFuture() : absl::FromUnixNanos(next);
}

ChannelStats Channel::Stats(bool include_consumers) const {
  absl::MutexLock lock(&mu_);
  ChannelStats s;
  s.name = name_;
  s.depth = queue_.Depth();
  s.backend_depth = queue_.backend_depth();
  s.held_count = queue_.held_count() + deferred_.held_count();
  s.in_flight_count = static_cast<int64_t>(in_flight_.size());
  s.deferred_count = deferred_.size();
  s.message_count = message_count_;
  s.zone_local_msg_count = delivered_by_locality_[static_cast<int>(DeliveryLocality::kZone)];
  s.region_local_msg_count = delivered_by_locality_[static_cast<int>(DeliveryLocality::kRegion)];
  s.global_msg_count = delivered_by_locality_[static_cast<int>(DeliveryLocality::kGlobal)];
  s.requeue_count = requeue_count_;
  s.timeout_count = timeout_count_;
  s.attempts_exceeded_count = attempts_exceeded_count_;
  s.expired_count = expired_count_;
  s.dead_letter_count = dead_letter_count_;
  s.depth_dropped_count = depth_dropped_count_;
  s.depth_rejected_count = depth_rejected_count_;
  s.policy = policy_;
  if (e2e_ != nullptr) s.e2e = e2e_->Stats(absl::ToUnixNanos(engine_->clock()->Now()));
  s.paused = paused_;
  s.ephemeral = ephemeral_;
  s.consumer_count = static_cast<int64_t>(consumers_.size());
  if (include_consumers) {
    for (const ConsumerImpl* c : consumers_) s.consumers.push_back(c->StatsLocked());
  }
  return s;
}

// ---------------------------------------------------------------------------------------

ConsumerImpl::ConsumerImpl(Engine* engine, std::shared_ptr<Topic> topic,
                           std::shared_ptr<Channel> channel, ConsumerInfo info,
                           absl::Duration msg_timeout, DeliverySink* sink, absl::Time connect_time)
    : engine_(engine),
      topic_(std::move(topic)),
      channel_(std::move(channel)),
      info_(std::move(info)),
      locality_(LocalityOf(engine->options(), info_)),
      msg_timeout_(msg_timeout),
      msg_timeout_ns_(absl::ToInt64Nanoseconds(msg_timeout)),
      sink_(sink),
      connect_time_(connect_time),
      sample_state_(reinterpret_cast<uintptr_t>(this) ^
                    static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^ 0x9e3779b97f4a7c15ull) {}

bool ConsumerImpl::SampleOut() {
  // xorshift64*: nsqd drops when rand.Int31n(100) > sample_rate.
  sample_state_ ^= sample_state_ >> 12;
  sample_state_ ^= sample_state_ << 25;
  sample_state_ ^= sample_state_ >> 27;
  const uint64_t r = (sample_state_ * 0x2545f4914f6cdd1dull) >> 32;
  return static_cast<int32_t>(r % 100) > info_.sample_rate;
}

ConsumerImpl::~ConsumerImpl() { Close(); }

absl::Status ConsumerImpl::SetReady(int64_t count) {
  const int64_t max = engine_->options().max_rdy_count;
  if (count < 0 || count > max) {
    return absl::InvalidArgumentError(absl::StrCat("RDY count ", count, " out of range 0-", max));
  }
  absl::MutexLock lock(&channel_->mu_);
  if (closed_) return absl::FailedPreconditionError("consumer closed");
  ready_count_ = count;
  channel_->DispatchLocked();
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Finish(const MessageId& id) {
  absl::MutexLock lock(&channel_->mu_);
  if (closed_) return NotInFlight("FIN", id);
  absl::Status st = channel_->FinishLocked(this, id);
  if (st.ok()) channel_->DispatchLocked();
  return st;
}

std::vector<absl::Status> ConsumerImpl::FinishBatch(absl::Span<const MessageId> ids) {
  std::vector<absl::Status> out;
  out.reserve(ids.size());
  // One clock read for the batch's e2e latencies.
  const int64_t now_ns = channel_->records_e2e() ? absl::ToUnixNanos(engine_->clock()->Now()) : -1;
  absl::MutexLock lock(&channel_->mu_);
  bool any = false;
  for (const MessageId& id : ids) {
    if (closed_) {
      out.push_back(NotInFlight("FIN", id));
      continue;
    }
    out.push_back(channel_->FinishLocked(this, id, now_ns));
    any |= out.back().ok();
  }
  if (any) channel_->DispatchLocked();
  return out;
}

absl::Status ConsumerImpl::Requeue(const MessageId& id, absl::Duration delay) {
  return RequeueImpl(id, delay, /*count_attempt=*/true);
}

absl::Status ConsumerImpl::RequeueWithoutAttempt(const MessageId& id, absl::Duration delay) {
  return RequeueImpl(id, delay, /*count_attempt=*/false);
}

absl::Status ConsumerImpl::RequeueImpl(const MessageId& id, absl::Duration delay, bool count_attempt) {
  const absl::Duration max = engine_->options().max_req_timeout;
  delay = std::clamp(delay, absl::ZeroDuration(), max);
  absl::MutexLock lock(&channel_->mu_);
  Channel& ch = *channel_;
  auto it = ch.in_flight_.find(id);
  if (closed_ || it == ch.in_flight_.end()) return NotInFlight("REQ", id);
  if (it->second.owner != this) return NotOwned("REQ", id);
  QueuedMessage qm = std::move(it->second.queued);
  ch.in_flight_.erase(it);
  --in_flight_count_;
  ++requeue_count_;
  if (!count_attempt && qm.attempts > 0) --qm.attempts;  // the next delivery counts it again
  ++ch.requeue_count_;
  if (delay == absl::ZeroDuration()) {
    // Kept even if storage refuses it (held in memory, reported to health).
    ch.PutReadyLocked(std::move(qm)).IgnoreError();
  } else {
    ch.DeferLocked(std::move(qm), absl::ToUnixNanos(engine_->clock()->Now() + delay));
  }
  ch.DispatchLocked();
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Touch(const MessageId& id) {
  absl::MutexLock lock(&channel_->mu_);
  Channel& ch = *channel_;
  auto it = ch.in_flight_.find(id);
  if (closed_ || it == ch.in_flight_.end()) return NotInFlight("TOUCH", id);
  if (it->second.owner != this) return NotOwned("TOUCH", id);
  const int64_t now_ns = absl::ToUnixNanos(engine_->clock()->Now());
  const int64_t cap = it->second.delivered_ns + absl::ToInt64Nanoseconds(engine_->options().max_msg_timeout);
  const int64_t deadline = std::min(now_ns + msg_timeout_ns_, cap);
  if (deadline != it->second.deadline_ns) {
    it->second.deadline_ns = deadline;
    ch.PushDeadlineLocked(deadline, id);
  }
  return absl::OkStatus();
}

void ConsumerImpl::Close() {
  {
    absl::MutexLock lock(&channel_->mu_);
    if (closed_) return;
    channel_->RemoveConsumerLocked(this);
  }
  if (channel_->ephemeral()) engine_->ReapEphemeral(topic_, channel_);
}

ConsumerStats ConsumerImpl::Stats() const {
  absl::MutexLock lock(&channel_->mu_);
  return StatsLocked();
}

ConsumerStats ConsumerImpl::StatsLocked() const {
  ConsumerStats s;
  s.info = info_;
  s.msg_timeout = msg_timeout_;
  s.ready_count = ready_count_;
  s.in_flight_count = in_flight_count_;
  s.message_count = message_count_;
  s.finish_count = finish_count_;
  s.requeue_count = requeue_count_;
  s.connect_time = connect_time_;
  return s;
}

}  // namespace nsq::broker
