// A topic's shared store (rocksdb_shared.h): channels that overflow together hold
// references to one copy of each record. These tests look at what is on disk (the
// database opened directly while the storage is closed) and at each way a reference is
// consumed, kept across a restart, or released.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/record.h"
#include "storage/rocksdb_queue.h"
#include "storage/rocksdb_shared.h"
#include "storage/rocksdb_storage.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using broker::QueuedMessage;
using storage_testing::Msg;
using storage_testing::NewDataPath;
using storage_testing::OpenAt;
using storage_testing::PopBodies;
using ::testing::ElementsAre;
using ::testing::SizeIs;

using Value = storage_testing::RawMessages::Entry;

std::vector<Value> ValuesAt(const std::string& data_path) {
  return storage_testing::RawMessages(data_path).Entries();
}

size_t Refs(const std::vector<Value>& values) {
  size_t n = 0;
  for (const auto& v : values) n += v.ref ? 1 : 0;
  return n;
}
size_t StoredRecords(const std::vector<Value>& values) {
  size_t n = 0;
  for (const auto& v : values) n += v.ref ? 0 : v.records;
  return n;
}

// One publish: the same message objects go to every channel, as the engine's fan-out
// hands them over.
std::vector<QueuedMessage> Batch(int from, int to, size_t size = 0) {
  std::vector<QueuedMessage> out;
  for (int i = from; i < to; ++i) {
    std::string body = std::to_string(i);
    if (size > body.size()) body.resize(size, '.');
    out.push_back(Msg(body));
  }
  return out;
}

std::vector<std::string> Names(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i));
  return out;
}

std::vector<std::string> Trimmed(std::vector<std::string> bodies) {
  for (auto& b : bodies) b = b.substr(0, b.find('.'));
  return bodies;
}

TEST(RocksSharedTest, ChannelsOverflowingTogetherStoreEachRecordOnce) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    std::vector<std::unique_ptr<broker::BackendQueue>> channels;
    for (const char* c : {"a", "b", "c"}) channels.push_back(*s->OpenQueue("t", c, false));
    for (int b = 0; b < 3; ++b) {
      const auto batch = Batch(b * 100, (b + 1) * 100, 1000);
      for (auto& q : channels) ASSERT_TRUE(q->Append(batch).ok());
    }
  }
  const auto values = ValuesAt(path);
  EXPECT_EQ(StoredRecords(values), 300u);  // once, not three times
  EXPECT_EQ(Refs(values), 9u);
  size_t bytes = 0;
  for (const auto& v : values) bytes += v.bytes;
  EXPECT_LT(bytes, 300u * 1100u);
  auto s = OpenAt(path);
  for (const char* c : {"a", "b", "c"}) {
    auto q = *s->OpenQueue("t", c, false);
    EXPECT_EQ(q->Depth(), 300);
    EXPECT_EQ(Trimmed(PopBodies(q.get(), 1000)), Names(0, 300)) << c;
  }
}

TEST(RocksSharedTest, ALoneChannelWritesItsOwnRecords) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto other = *s->OpenQueue("u", "a", false);  // another topic's channel shares nothing
    ASSERT_TRUE(a->Append(Batch(0, 50)).ok());
  }
  const auto values = ValuesAt(path);
  EXPECT_EQ(Refs(values), 0u);
  EXPECT_EQ(StoredRecords(values), 50u);
}

TEST(RocksSharedTest, StoredRecordsGoOnceEveryChannelHasConsumedThem) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    for (int i = 0; i < 3; ++i) {
      const auto batch = Batch(i * 10, (i + 1) * 10);
      ASSERT_TRUE(a->Append(batch).ok());
      ASSERT_TRUE(b->Append(batch).ok());
    }
    EXPECT_THAT(PopBodies(a.get(), 100), SizeIs(30));
    ASSERT_TRUE(a->Flush().ok());
    EXPECT_THAT(PopBodies(b.get(), 15), SizeIs(15));
    ASSERT_TRUE(b->Flush().ok());
  }
  {
    // b still needs the second and third batches (and the rest of the first pack,
    // which stays whole).
    const auto values = ValuesAt(path);
    EXPECT_GE(StoredRecords(values), 15u);
  }
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    EXPECT_EQ(a->Depth(), 0);
    EXPECT_EQ(PopBodies(b.get(), 100), Names(15, 30));
    ASSERT_TRUE(b->Flush().ok());
  }
  EXPECT_THAT(ValuesAt(path), SizeIs(0));
}

TEST(RocksSharedTest, AChannelNotOpenedYetAfterARestartKeepsItsRecords) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    const auto batch = Batch(0, 20);
    ASSERT_TRUE(a->Append(batch).ok());
    ASSERT_TRUE(b->Append(batch).ok());
  }
  {
    // Only a is open: it consumes everything, more of its own comes and goes.
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    EXPECT_EQ(PopBodies(a.get(), 100), Names(0, 20));
    ASSERT_TRUE(a->Flush().ok());
    ASSERT_TRUE(a->Append(Batch(20, 30)).ok());
    EXPECT_EQ(PopBodies(a.get(), 100), Names(20, 30));
    ASSERT_TRUE(a->Flush().ok());
  }
  auto s = OpenAt(path);
  auto b = *s->OpenQueue("t", "b", false);
  EXPECT_EQ(PopBodies(b.get(), 100), Names(0, 20));
}

TEST(RocksSharedTest, RequeuedAndOutOfOrderMessagesStayAChannelsOwn) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    const auto x = Batch(0, 10), y = Batch(10, 20);
    ASSERT_TRUE(a->Append(x).ok());
    ASSERT_TRUE(a->Append(y).ok());
    // Two publishes reach b in the other order: b's references must rise, so x (stored
    // below y) is b's own.
    ASSERT_TRUE(b->Append(y).ok());
    ASSERT_TRUE(b->Append(x).ok());
    auto requeued = Batch(100, 102);
    for (auto& m : requeued) m.attempts = 2;
    ASSERT_TRUE(b->Append(requeued).ok());
    // a consumes all: the store keeps what b references (y) and nothing b owns.
    EXPECT_THAT(PopBodies(a.get(), 100), SizeIs(20));
    ASSERT_TRUE(a->Flush().ok());
  }
  auto s = OpenAt(path);
  auto b = *s->OpenQueue("t", "b", false);
  std::vector<QueuedMessage> popped;
  std::vector<std::string> want = Names(10, 20);
  for (auto& n : Names(0, 10)) want.push_back(n);
  want.push_back("100");
  want.push_back("101");
  EXPECT_EQ(PopBodies(b.get(), 100, &popped), want);
  EXPECT_EQ(popped.back().attempts, 2);
}

TEST(RocksSharedTest, ADestroyedOrClearedChannelReleasesWhatItReferenced) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    auto c = *s->OpenQueue("t", "c", false);
    const auto batch = Batch(0, 30);
    for (auto* q : {a.get(), b.get(), c.get()}) ASSERT_TRUE(q->Append(batch).ok());
    ASSERT_TRUE(b->Destroy().ok());
    ASSERT_TRUE(c->Clear().ok());
    EXPECT_EQ(PopBodies(a.get(), 100), Names(0, 30));
    ASSERT_TRUE(a->Flush().ok());
  }
  EXPECT_THAT(ValuesAt(path), SizeIs(0));
}

TEST(RocksSharedTest, PeekAndPrependReadThroughReferences) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto a = *s->OpenQueue("t", "a", false);
    auto b = *s->OpenQueue("t", "b", false);
    const auto batch = Batch(0, 10);
    ASSERT_TRUE(a->Append(batch).ok());
    ASSERT_TRUE(b->Append(batch).ok());
    EXPECT_THAT(PopBodies(b.get(), 4), ElementsAre("0", "1", "2", "3"));
    std::vector<QueuedMessage> peeked;
    ASSERT_TRUE(b->Peek(3, &peeked).ok());
    ASSERT_THAT(peeked, SizeIs(3));
    EXPECT_EQ(peeked[0].message->body, "4");
    // Shutdown: what b held in memory goes back in front of its head, which is inside
    // a reference.
    ASSERT_TRUE(b->Prepend({Msg("x"), Msg("y"), Msg("z"), Msg("w"), Msg("v"), Msg("u")}).ok());
  }
  auto s = OpenAt(path);
  auto b = *s->OpenQueue("t", "b", false);
  EXPECT_THAT(PopBodies(b.get(), 100),
              ElementsAre("x", "y", "z", "w", "v", "u", "4", "5", "6", "7", "8", "9"));
  auto a = *s->OpenQueue("t", "a", false);
  EXPECT_EQ(PopBodies(a.get(), 100), Names(0, 10));
}

TEST(RocksSharedTest, MoreChannelsThanOneWriteKeepsEveryRecordUntilTheSlowestIsDone) {
  // Seven channels consuming at different speeds over many batches: every channel gets
  // every message once, in order, and what is left on disk is what the slowest needs.
  const std::string path = NewDataPath();
  auto s = OpenAt(path);
  std::vector<std::unique_ptr<broker::BackendQueue>> qs;
  for (int c = 0; c < 7; ++c) qs.push_back(*s->OpenQueue("t", std::to_string(c), false));
  std::vector<std::vector<std::string>> got(qs.size());
  int next = 0;
  for (int round = 0; round < 60; ++round) {
    const auto batch = Batch(next, next + 250, 200);
    next += 250;
    for (auto& q : qs) ASSERT_TRUE(q->Append(batch).ok());
    for (size_t c = 0; c < qs.size(); ++c) {
      for (auto& b : Trimmed(PopBodies(qs[c].get(), 40 * (c + 1)))) got[c].push_back(b);
      if (round % 5 == 0) ASSERT_TRUE(qs[c]->Flush().ok());
    }
  }
  for (size_t c = 0; c < qs.size(); ++c) {
    for (auto& b : Trimmed(PopBodies(qs[c].get(), 100000))) got[c].push_back(b);
    EXPECT_EQ(got[c], Names(0, next)) << "channel " << c;
    ASSERT_TRUE(qs[c]->Flush().ok());
  }
  qs.clear();
  s.reset();
  EXPECT_THAT(ValuesAt(path), SizeIs(0));
}

// A real database whose next write can be made to fail (a full disk, an I/O error).
class FailingDatabase final : public QueueDatabase {
 public:
  FailingDatabase() {
    rocksdb::DBOptions o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"messages", {}}, {"deferred", {}}};
    rocksdb::DB* raw = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(o, NewDataPath(), cfs, &handles_, &raw);
    EXPECT_TRUE(st.ok()) << st.ToString();
    db_.reset(raw);
  }
  ~FailingDatabase() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  void FailNextWrite() { fail_next_ = true; }
  uint64_t corrupt() const { return corrupt_; }

  rocksdb::DB* db() override { return db_.get(); }
  rocksdb::ColumnFamilyHandle* messages_cf() override { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* meta_cf() override { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* deferred_cf() override { return handles_[2]; }
  absl::Status Write(rocksdb::WriteBatch* batch, size_t) override {
    if (fail_next_) {
      fail_next_ = false;
      return absl::UnavailableError("storage write failed: injected");
    }
    return FromRocks(db_->Write(rocksdb::WriteOptions(), batch), "write");
  }
  void CountCorrupt() override { ++corrupt_; }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  bool fail_next_ = false;
  uint64_t corrupt_ = 0;
};

TEST(RocksSharedTest, ARecordWhoseWriteFailedIsNeverReferencedByTheOtherChannels) {
  // The first channel's write (which would have stored the publish's records) fails;
  // the next channel of the same publish succeeds and must get every message.
  FailingDatabase db;
  SharedStore store(&db, 1000);
  ASSERT_TRUE(store.Load().ok());
  RocksQueue a(&db, 1, false, "queue/t/a"), b(&db, 2, false, "queue/t/b");
  a.AttachShared(&store);
  b.AttachShared(&store);
  ASSERT_TRUE(a.Load().ok());
  ASSERT_TRUE(b.Load().ok());
  const auto batch = Batch(0, 10);
  db.FailNextWrite();
  EXPECT_FALSE(a.Append(batch).ok());
  EXPECT_EQ(a.Depth(), 0);
  ASSERT_TRUE(b.Append(batch).ok());
  EXPECT_EQ(PopBodies(&b, 100), Names(0, 10));
  EXPECT_EQ(db.corrupt(), 0u);
  // And sharing goes on with the next publish.
  const auto next = Batch(10, 20);
  ASSERT_TRUE(a.Append(next).ok());
  ASSERT_TRUE(b.Append(next).ok());
  EXPECT_EQ(PopBodies(&a, 100), Names(10, 20));
  EXPECT_EQ(PopBodies(&b, 100), Names(10, 20));
}

}  // namespace
}  // namespace nsq::storage
