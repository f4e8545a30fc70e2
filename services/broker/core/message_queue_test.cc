#include "services/broker/core/message_queue.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/broker/core/memory_storage.h"

namespace nsq::broker {
namespace {

QueuedMessage Msg(const std::string& body) {
  auto m = std::make_shared<Message>();
  m->body = body;
  return QueuedMessage{std::move(m)};
}

std::unique_ptr<BackendQueue> MemoryBackend() {
  static MemoryStorage storage;
  return *storage.OpenQueue("t", "", false);
}

std::vector<std::string> Drain(MessageQueue& q) {
  std::vector<std::string> out;
  QueuedMessage m;
  absl::Status error;
  while (q.Pop(&m, &error)) out.push_back(m.message->body);
  EXPECT_TRUE(error.ok()) << error;
  return out;
}

TEST(MessageQueueTest, KeepsUpToCapacityInMemoryAndTheRestInTheBackend) {
  MessageQueue q(2, MemoryBackend());
  for (const char* b : {"a", "b", "c", "d"}) ASSERT_TRUE(q.Put(Msg(b)).ok());
  EXPECT_EQ(q.Depth(), 4);
  EXPECT_EQ(q.backend_depth(), 2);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(q.empty());
}

TEST(MessageQueueTest, NewMessagesQueueBehindTheBackendOnceItHoldsAny) {
  MessageQueue q(2, MemoryBackend());
  for (const char* b : {"a", "b", "c"}) ASSERT_TRUE(q.Put(Msg(b)).ok());
  QueuedMessage m;
  absl::Status error;
  ASSERT_TRUE(q.Pop(&m, &error));  // frees room in memory, but "c" is still on disk
  EXPECT_EQ(m.message->body, "a");
  ASSERT_TRUE(q.Put(Msg("d")).ok());
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"b", "c", "d"}));
}

TEST(MessageQueueTest, PutBatchFillsMemoryThenTheBackendInOrder) {
  MessageQueue q(3, MemoryBackend());
  std::vector<QueuedMessage> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Msg("m" + std::to_string(i)));
  ASSERT_TRUE(q.PutBatch(batch).ok());
  EXPECT_EQ(q.backend_depth(), 7);
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) want.push_back("m" + std::to_string(i));
  EXPECT_EQ(Drain(q), want);
}

TEST(MessageQueueTest, WithoutABackendTrimDropsTheNewestPastCapacity) {
  MessageQueue q(2, nullptr);
  for (const char* b : {"a", "b", "c", "d"}) ASSERT_TRUE(q.Put(Msg(b)).ok());
  EXPECT_EQ(q.TrimToCapacity(), 2);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b"}));
}

TEST(MessageQueueTest, AMessageTheDurableBackendHoldsGoesToMemory) {
  MessageQueue q(0, MemoryBackend(), /*durable=*/true);
  QueuedMessage held = Msg("requeued");
  held.backend_seq = 42;
  ASSERT_TRUE(q.Put(held).ok());
  EXPECT_EQ(q.backend_depth(), 0);
  EXPECT_EQ(q.Depth(), 1);
}

// A memory backend whose writes fail while `fail` is set.
class RefusingBackend final : public BackendQueue {
 public:
  explicit RefusingBackend(bool* fail) : inner_(MemoryBackend()), fail_(fail) {}
  absl::Status Append(absl::Span<const QueuedMessage> m) override {
    if (*fail_) return absl::UnavailableError("disk full");
    return inner_->Append(m);
  }
  absl::Status Prepend(absl::Span<const QueuedMessage> m) override {
    if (*fail_) return absl::UnavailableError("disk full");
    return inner_->Prepend(m);
  }
  absl::Status Pop(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Pop(max, out); }
  absl::Status Peek(size_t max, std::vector<QueuedMessage>* out) override { return inner_->Peek(max, out); }
  int64_t Depth() const override { return inner_->Depth(); }
  absl::Status Clear() override { return inner_->Clear(); }
  absl::Status Destroy() override { return inner_->Destroy(); }

 private:
  std::unique_ptr<BackendQueue> inner_;
  bool* fail_;
};

TEST(MessageQueueTest, PutOrHoldKeepsWhatTheBackendRefusesAndDeliversItInOrder) {
  bool fail = false;
  MessageQueue q(1, std::make_unique<RefusingBackend>(&fail));
  ASSERT_TRUE(q.Put(Msg("a")).ok());  // memory
  ASSERT_TRUE(q.Put(Msg("b")).ok());  // backend
  fail = true;
  EXPECT_FALSE(q.PutOrHold(Msg("c")).ok());  // refused: held
  EXPECT_FALSE(q.PutOrHold(Msg("d")).ok());  // behind c
  EXPECT_EQ(q.held_count(), 2);
  EXPECT_EQ(q.Depth(), 4);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(MessageQueueTest, HeldMessagesGoToTheBackendBeforeTheNextWrite) {
  bool fail = true;
  MessageQueue q(0, std::make_unique<RefusingBackend>(&fail));
  EXPECT_FALSE(q.PutOrHold(Msg("a")).ok());
  fail = false;
  ASSERT_TRUE(q.Put(Msg("b")).ok());
  EXPECT_EQ(q.held_count(), 0);
  EXPECT_EQ(q.backend_depth(), 2);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b"}));
}

TEST(MessageQueueTest, APutBatchTheBackendRefusesQueuesNothing) {
  bool fail = true;
  MessageQueue q(2, std::make_unique<RefusingBackend>(&fail));
  std::vector<QueuedMessage> batch = {Msg("a"), Msg("b"), Msg("c")};
  EXPECT_FALSE(q.PutBatch(batch).ok());
  EXPECT_TRUE(q.empty());
  // The caller still has the whole batch, in order, to report or retry.
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].message->body, "a");
  EXPECT_EQ(batch[1].message->body, "b");
  fail = false;
  ASSERT_TRUE(q.PutBatch(batch).ok());
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(MessageQueueTest, ClearDropsMemoryAndBackend) {
  MessageQueue q(1, MemoryBackend());
  for (const char* b : {"a", "b", "c"}) ASSERT_TRUE(q.Put(Msg(b)).ok());
  ASSERT_TRUE(q.Clear().ok());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.backend_depth(), 0);
}

}  // namespace
}  // namespace nsq::broker
