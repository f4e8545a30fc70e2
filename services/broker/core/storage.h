#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/broker/core/message.h"
#include "services/broker/core/policy.h"

namespace nsq::broker {

// A message waiting in a topic or channel queue.
struct QueuedMessage {
  MessagePtr message;
  // Unix ns before which it must not be delivered (deferred publish waiting in a topic
  // backlog); 0 = deliverable now.
  int64_t deliver_at_ns = 0;
  // Deliveries so far on this channel (0 in a topic).
  uint16_t attempts = 0;
  // Where a durable backend still holds this message (0 = it holds no copy). Such a
  // message stays on disk until the engine acks it (FIN, or the channel is emptied).
  uint64_t backend_seq = 0;
};

// The overflow part of one topic's or channel's FIFO: what does not fit in
// --mem-queue-size goes here and comes back in order. Called with the owning topic's
// or channel's lock held, so implementations need no locking of their own for one
// queue (but several queues may be used from several threads at once).
class BackendQueue {
 public:
  virtual ~BackendQueue() = default;
  // Appends at the tail, in order.
  virtual absl::Status Append(absl::Span<const QueuedMessage> messages) = 0;
  // Puts messages back in front of the head, in order (shutdown: what was in memory).
  virtual absl::Status Prepend(absl::Span<const QueuedMessage> messages) = 0;
  // Removes up to `max` messages from the head, oldest first, appending them to `out`.
  // A durable queue keeps each one (backend_seq set) until Ack.
  virtual absl::Status Pop(size_t max, std::vector<QueuedMessage>* out) = 0;
  // Copies up to `max` messages from the head, oldest first, without removing them.
  virtual absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) = 0;
  // Durable queues: the message popped as `backend_seq` is done (FIN) and may go.
  virtual void Ack(uint64_t backend_seq) {}
  // Durable queues: rewrites held messages' records (attempts, due time) in place, so a
  // restart sees them as they are now.
  virtual absl::Status Update(absl::Span<const QueuedMessage> messages) { return absl::OkStatus(); }
  // Writes out what is batched in memory (cursor, pending deletes). Graceful shutdown.
  virtual absl::Status Flush() { return absl::OkStatus(); }
  virtual int64_t Depth() const = 0;
  // Drops every message.
  virtual absl::Status Clear() = 0;
  // Drops every message and the queue itself (its topic or channel was deleted).
  virtual absl::Status Destroy() = 0;
};

// A channel's deferred messages (DPUB, REQ with a delay) past the ones it keeps in
// memory, ordered by due time (deliver_at_ns), equal due times in arrival order. Used
// under the channel's lock, like BackendQueue.
class DeferredQueue {
 public:
  virtual ~DeferredQueue() = default;
  // Adds messages, each due at its deliver_at_ns. All or nothing.
  virtual absl::Status Add(absl::Span<const QueuedMessage> messages) = 0;
  // Removes up to `max` messages due at or before `now_ns`, earliest first, appending
  // them to `out` (deliver_at_ns kept). Their removal reaches the disk with the next
  // call or Flush, after the caller has queued them elsewhere: a crash in between
  // delivers them twice, never loses them.
  virtual absl::Status PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out) = 0;
  // Copies up to `max` messages, earliest due first, without removing them.
  virtual absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) = 0;
  // The earliest due time; INT64_MAX when empty.
  virtual int64_t NextDue() const = 0;
  virtual int64_t Depth() const = 0;
  // Writes out pending removals.
  virtual absl::Status Flush() { return absl::OkStatus(); }
  virtual absl::Status Clear() = 0;
  // Drops every message and the queue itself (its channel was deleted).
  virtual absl::Status Destroy() = 0;
};

// What survives a restart besides the messages: nsqd.dat's job.
struct Metadata {
  struct Channel {
    std::string name;
    bool paused = false;
    QueuePolicy policy;
  };
  struct Topic {
    std::string name;
    bool paused = false;
    QueuePolicy policy;  // the default of its new channels
    std::vector<Channel> channels;
  };
  std::vector<Topic> topics;
};

// Where queues overflow to and where metadata is kept. Thread-safe.
class Storage {
 public:
  virtual ~Storage() = default;
  // The backend of a topic (channel == "") or of a channel. Never called for ephemeral
  // names: those drop past --mem-queue-size instead. A durable queue keeps popped
  // messages until they are acked (--mem-queue-size=0: nothing acknowledged is lost).
  virtual absl::StatusOr<std::unique_ptr<BackendQueue>> OpenQueue(std::string_view topic,
                                                                   std::string_view channel,
                                                                   bool durable) = 0;
  // Makes `queue` (opened here) the queue of topic/channel, with the given durability;
  // its messages stay where they are and its old name has no queue any more. How a
  // topic's backlog becomes its first channel's queue without copying a message.
  virtual absl::Status MoveQueue(BackendQueue* queue, std::string_view topic,
                                 std::string_view channel, bool durable) = 0;
  // The deferred queue of a channel (never called for ephemeral ones: they keep at most
  // --mem-queue-size deferred messages, in memory).
  virtual absl::StatusOr<std::unique_ptr<DeferredQueue>> OpenDeferred(std::string_view topic,
                                                                      std::string_view channel) = 0;
  virtual absl::Status SaveMetadata(const Metadata& metadata) = 0;
  virtual absl::StatusOr<Metadata> LoadMetadata() = 0;
  // Calls `done` once everything the calling thread has written is on stable storage,
  // when the storage promises that for acknowledged publishes (--sync-every=1): from its
  // commit thread, so concurrent publishers share one fsync (group commit). Otherwise,
  // and when nothing is waiting to be synced, calls it inline. Called with no engine
  // lock held.
  virtual void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) {
    std::move(done)(absl::OkStatus());
  }
  // The same, blocking the calling thread.
  absl::Status WaitDurable();
};

}  // namespace nsq::broker
