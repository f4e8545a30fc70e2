#pragma once

// Shared by the engine's tests (topic_test, channel_test, engine_test): a recording
// delivery sink, a storage whose writes can be made to fail, and a fixture that runs an
// Engine on a fake clock.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"

namespace nsq::broker::engine_testing {



// Records what the engine hands to one consumer.
class RecordingSink : public DeliverySink {
 public:
  void Deliver(std::vector<Delivery>& batch) override {
    ++batches;
    for (auto& d : batch) deliveries.push_back(d);
  }
  void Closed(const absl::Status& why) override {
    closed = true;
    close_status = why;
  }
  std::vector<std::string> Bodies() const {
    std::vector<std::string> out;
    for (const auto& d : deliveries) out.push_back(d.message->body);
    return out;
  }
  // Takes what was delivered since the last call.
  std::vector<Delivery> Take() {
    std::vector<Delivery> out;
    out.swap(deliveries);
    return out;
  }

  std::vector<Delivery> deliveries;
  int batches = 0;
  bool closed = false;
  absl::Status close_status;
};

// A storage that forwards every call to a MemoryStorage (durable queues included) and can
// be told to fail writes: all of them (`fail_writes`), or the Nth write from now on
// (`FailNthWrite`). It counts what reached the backend, and remembers saved metadata.
class ControlledStorage : public Storage {
 public:
  absl::StatusOr<std::unique_ptr<BackendQueue>> OpenQueue(std::string_view topic,
                                                          std::string_view channel,
                                                          bool durable) override {
    auto q = memory_.OpenQueue(topic, channel, durable);
    if (!q.ok()) return q.status();
    return std::unique_ptr<BackendQueue>(new FailingQueue(std::move(*q), this));
  }
  absl::Status MoveQueue(BackendQueue* queue, std::string_view topic, std::string_view channel,
                         bool durable) override {
    auto* q = dynamic_cast<FailingQueue*>(queue);
    return memory_.MoveQueue(q ? q->inner() : queue, topic, channel, durable);
  }
  absl::StatusOr<std::unique_ptr<DeferredQueue>> OpenDeferred(std::string_view topic,
                                                              std::string_view channel) override {
    auto q = memory_.OpenDeferred(topic, channel);
    if (!q.ok()) return q.status();
    return std::unique_ptr<DeferredQueue>(new FailingDeferred(std::move(*q), this));
  }
  absl::Status SaveMetadata(const Metadata& md) override {
    saved = md;
    ++saves;
    return memory_.SaveMetadata(md);
  }
  absl::StatusOr<Metadata> LoadMetadata() override { return to_load; }
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override {
    memory_.WhenDurable(std::move(done));
  }

  // The nth write (Append, Prepend or a deferred Add; 1 = the next one) fails; the others
  // go through.
  void FailNthWrite(int n) { fail_at_write_ = writes + n; }

  bool fail_writes = false;
  // Runs inside every queue's Destroy (e.g. to make a delete slow).
  std::function<void()> on_destroy;
  // Runs inside every Append (e.g. to make a disk write slow).
  std::function<void()> on_append;
  Metadata saved;
  Metadata to_load;
  int saves = 0;
  int writes = 0;  // Append, Prepend and deferred Add calls, failed ones included
  int deferred_adds = 0;  // messages that reached a deferred queue
  int acks = 0;
  int updates = 0;
  int flushes = 0;

 private:
  bool NextWriteFails() {
    ++writes;
    return fail_writes || writes == fail_at_write_;
  }

  class FailingQueue : public BackendQueue {
   public:
    FailingQueue(std::unique_ptr<BackendQueue> inner, ControlledStorage* owner)
        : inner_(std::move(inner)), owner_(owner) {}
    absl::Status Append(absl::Span<const QueuedMessage> m) override {
      if (owner_->on_append) owner_->on_append();
      if (owner_->NextWriteFails()) return absl::UnavailableError("disk full");
      return inner_->Append(m);
    }
    absl::Status Prepend(absl::Span<const QueuedMessage> m) override {
      if (owner_->NextWriteFails()) return absl::UnavailableError("disk full");
      return inner_->Prepend(m);
    }
    absl::Status Pop(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Pop(max, out); }
    absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Peek(max, out); }
    void Ack(uint64_t backend_seq) override {
      ++owner_->acks;
      inner_->Ack(backend_seq);
    }
    absl::Status Update(absl::Span<const QueuedMessage> m) override {
      ++owner_->updates;
      return inner_->Update(m);
    }
    absl::Status Flush() override {
      ++owner_->flushes;
      return inner_->Flush();
    }
    int64_t Depth() const override { return inner_->Depth(); }
    absl::Status Clear() override { return inner_->Clear(); }
    absl::Status Destroy() override {
      if (owner_->on_destroy) owner_->on_destroy();
      return inner_->Destroy();
    }
    BackendQueue* inner() { return inner_.get(); }

   private:
    std::unique_ptr<BackendQueue> inner_;
    ControlledStorage* owner_;
  };
  class FailingDeferred : public DeferredQueue {
   public:
    FailingDeferred(std::unique_ptr<DeferredQueue> inner, ControlledStorage* owner)
        : inner_(std::move(inner)), owner_(owner) {}
    absl::Status Add(absl::Span<const QueuedMessage> m) override {
      if (owner_->NextWriteFails()) return absl::UnavailableError("disk full");
      owner_->deferred_adds += static_cast<int>(m.size());
      return inner_->Add(m);
    }
    absl::Status PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out) override {
      return inner_->PopDue(now_ns, max, out);
    }
    absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Peek(max, out); }
    int64_t NextDue() const override { return inner_->NextDue(); }
    int64_t Depth() const override { return inner_->Depth(); }
    absl::Status Flush() override {
      ++owner_->flushes;
      return inner_->Flush();
    }
    absl::Status Clear() override { return inner_->Clear(); }
    absl::Status Destroy() override {
      if (owner_->on_destroy) owner_->on_destroy();
      return inner_->Destroy();
    }

   private:
    std::unique_ptr<DeferredQueue> inner_;
    ControlledStorage* owner_;
  };
  int fail_at_write_ = -1;
  MemoryStorage memory_;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() { Reset(EngineOptions{}); }

  void Reset(EngineOptions options) {
    engine_.reset();
    engine_ = std::make_unique<Engine>(options, &clock_, &storage_);
    ASSERT_TRUE(engine_->Start().ok());
  }

  void Publish(const std::string& topic, std::vector<std::string> bodies,
               absl::Duration defer = absl::ZeroDuration()) {
    std::vector<std::string_view> views(bodies.begin(), bodies.end());
    ASSERT_TRUE(engine_->Publish(topic, views, defer).ok());
  }
  void PublishN(const std::string& topic, int n, const std::string& prefix = "m") {
    std::vector<std::string> bodies;
    for (int i = 0; i < n; ++i) bodies.push_back(prefix + std::to_string(i));
    Publish(topic, bodies);
  }

  std::shared_ptr<Consumer> Sub(const std::string& topic, const std::string& channel,
                                RecordingSink* sink, int64_t rdy = 100,
                                absl::Duration timeout = absl::ZeroDuration()) {
    ConsumerInfo info;
    info.client_id = "test";
    info.msg_timeout = timeout;
    auto c = engine_->Subscribe(topic, channel, info, sink);
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->SetReady(rdy).ok());
    return *c;
  }

  ChannelStats ChannelStatsOf(const std::string& topic, const std::string& channel) {
    auto stats = engine_->GetStats(StatsFilter{topic, channel, true});
    EXPECT_TRUE(stats.ok()) << stats.status();
    EXPECT_THAT(*stats, ::testing::SizeIs(1));
    EXPECT_THAT((*stats)[0].channels, ::testing::SizeIs(1));
    return (*stats)[0].channels[0];
  }
  TopicStats TopicStatsOf(const std::string& topic) {
    auto stats = engine_->GetStats(StatsFilter{topic, "", true});
    EXPECT_TRUE(stats.ok()) << stats.status();
    return (*stats)[0];
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    engine_->ProcessTimers();
  }

  FakeClock clock_;
  ControlledStorage storage_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace nsq::broker::engine_testing
