#include "storage/rocksdb_storage.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine.h"
#include "storage/record.h"

namespace nsq::storage {
namespace {

using broker::BackendQueue;
using broker::Metadata;
using broker::QueuedMessage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string NewDataPath() {
  static int n = 0;
  return absl::StrCat(::testing::TempDir(), "/storage", ++n);
}

QueuedMessage Msg(const std::string& body, uint16_t attempts = 0, int64_t deliver_at = 0) {
  auto m = std::make_shared<broker::Message>();
  broker::MessageId::FromBytes(absl::StrCat("id", std::string(14 - std::min<size_t>(14, body.size()), '0'),
                                            body.substr(0, 14)),
                               &m->id);
  m->timestamp_ns = 1234;
  m->body = body;
  return QueuedMessage{m, deliver_at, attempts, 0};
}

std::vector<QueuedMessage> Msgs(int from, int to) {
  std::vector<QueuedMessage> out;
  for (int i = from; i < to; ++i) out.push_back(Msg(std::to_string(i)));
  return out;
}

std::vector<std::string> PopBodies(BackendQueue* q, size_t max, std::vector<QueuedMessage>* keep = nullptr) {
  std::vector<QueuedMessage> out;
  EXPECT_TRUE(q->Pop(max, &out).ok());
  std::vector<std::string> bodies;
  for (const auto& m : out) bodies.push_back(m.message->body);
  if (keep) *keep = out;
  return bodies;
}

std::unique_ptr<RocksStorage> OpenAt(const std::string& path, int64_t sync_every = 2500) {
  RocksStorageOptions o;
  o.data_path = path;
  o.sync_every = sync_every;
  auto s = RocksStorage::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

TEST(RecordTest, RoundTripsEveryField) {
  QueuedMessage in = Msg("hello body", 7, 99);
  std::string rec;
  EncodeRecord(in, &rec);
  QueuedMessage out;
  ASSERT_TRUE(DecodeRecord(rec, &out));
  EXPECT_EQ(out.message->body, "hello body");
  EXPECT_EQ(out.message->id, in.message->id);
  EXPECT_EQ(out.message->timestamp_ns, 1234);
  EXPECT_EQ(out.attempts, 7);
  EXPECT_EQ(out.deliver_at_ns, 99);
}

TEST(RecordTest, AnyFlippedByteIsRejected) {
  std::string rec;
  EncodeRecord(Msg("payload"), &rec);
  for (size_t i = 0; i < rec.size(); ++i) {
    std::string bad = rec;
    bad[i] ^= 0x01;
    QueuedMessage out;
    EXPECT_FALSE(DecodeRecord(bad, &out)) << "byte " << i;
  }
  QueuedMessage out;
  EXPECT_FALSE(DecodeRecord(rec.substr(0, 10), &out));
}

TEST(RocksStorageTest, QueueIsFifoAcrossAppendsAndPops) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenQueue("t", "c", false);
  ASSERT_TRUE(q->Append(Msgs(0, 3)).ok());
  EXPECT_THAT(PopBodies(q.get(), 2), ElementsAre("0", "1"));
  ASSERT_TRUE(q->Append(Msgs(3, 5)).ok());
  EXPECT_EQ(q->Depth(), 3);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("2", "3", "4"));
  EXPECT_EQ(q->Depth(), 0);
  EXPECT_THAT(PopBodies(q.get(), 10), SizeIs(0));
}

TEST(RocksStorageTest, QueueResumesFromItsCursorAfterReopen) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 25000)).ok());
    EXPECT_THAT(PopBodies(q.get(), 12000), SizeIs(12000));
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 13000);
  auto bodies = PopBodies(q.get(), 2);
  EXPECT_THAT(bodies, ElementsAre("12000", "12001"));
}

TEST(RocksStorageTest, QueuesOfDifferentChannelsAreSeparate) {
  auto s = OpenAt(NewDataPath());
  auto a = *s->OpenQueue("t", "a", false);
  auto b = *s->OpenQueue("t", "b", false);
  auto topic = *s->OpenQueue("t", "", false);
  ASSERT_TRUE(a->Append(Msgs(0, 2)).ok());
  ASSERT_TRUE(b->Append(Msgs(5, 6)).ok());
  EXPECT_THAT(PopBodies(b.get(), 10), ElementsAre("5"));
  EXPECT_THAT(PopBodies(a.get(), 10), ElementsAre("0", "1"));
  EXPECT_EQ(topic->Depth(), 0);
}

TEST(RocksStorageTest, DurableQueueKeepsPoppedMessagesUntilAcked) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 6)).ok());
    std::vector<QueuedMessage> popped;
    EXPECT_THAT(PopBodies(q.get(), 6, &popped), SizeIs(6));
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(popped[i].backend_seq, 0u);
      q->Ack(popped[i].backend_seq);
    }
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("3", "4", "5"));
}

TEST(RocksStorageTest, LongRunsOfAcksAndStragglersAreAllDeleted) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 3000)).ok());
    std::vector<QueuedMessage> popped;
    PopBodies(q.get(), 3000, &popped);
    ASSERT_THAT(popped, SizeIs(3000));
    // Acked in a scrambled order: a long run (0..1999, as ranges), every other one of
    // the rest (points), 2999 left unacked along with the odd ones.
    for (int i = 1999; i >= 0; --i) q->Ack(popped[i].backend_seq);
    for (int i = 2000; i < 2999; i += 2) q->Ack(popped[i].backend_seq);
    ASSERT_TRUE(q->Flush().ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  std::vector<std::string> expected;
  for (int i = 2001; i < 2999; i += 2) expected.push_back(std::to_string(i));
  expected.push_back("2999");
  EXPECT_EQ(PopBodies(q.get(), 5000), expected);
}

TEST(RocksStorageTest, UpdateRewritesAttemptsAndDueTimeOfHeldMessages) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", true);
    ASSERT_TRUE(q->Append(Msgs(0, 1)).ok());
    std::vector<QueuedMessage> popped;
    PopBodies(q.get(), 1, &popped);
    popped[0].attempts = 3;
    popped[0].deliver_at_ns = 777;
    ASSERT_TRUE(q->Update(popped).ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", true);
  std::vector<QueuedMessage> popped;
  PopBodies(q.get(), 1, &popped);
  ASSERT_THAT(popped, SizeIs(1));
  EXPECT_EQ(popped[0].attempts, 3);
  EXPECT_EQ(popped[0].deliver_at_ns, 777);
}

TEST(RocksStorageTest, PrependPutsMessagesBeforeTheHeadAndSurvivesReopen) {
  const std::string path = NewDataPath();
  {
    auto s = OpenAt(path);
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 4)).ok());
    PopBodies(q.get(), 2);
    ASSERT_TRUE(q->Prepend({Msg("a"), Msg("b")}).ok());
  }
  auto s = OpenAt(path);
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("a", "b", "2", "3"));
}

TEST(RocksStorageTest, ClearDropsEveryMessage) {
  auto s = OpenAt(NewDataPath());
  auto q = *s->OpenQueue("t", "c", false);
  ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
  ASSERT_TRUE(q->Clear().ok());
  EXPECT_EQ(q->Depth(), 0);
  ASSERT_TRUE(q->Append(Msgs(9, 10)).ok());
  EXPECT_THAT(PopBodies(q.get(), 10), ElementsAre("9"));
}

TEST(RocksStorageTest, DestroyedQueueComesBackEmpty) {
  const std::string path = NewDataPath();
  auto s = OpenAt(path);
  {
    auto q = *s->OpenQueue("t", "c", false);
    ASSERT_TRUE(q->Append(Msgs(0, 5)).ok());
    ASSERT_TRUE(q->Destroy().ok());
  }
  auto q = *s->OpenQueue("t", "c", false);
  EXPECT_EQ(q->Depth(), 0);
}

TEST(RocksStorageTest, MetadataRoundTrips) {
  const std::string path = NewDataPath();
  Metadata md;
  md.topics.push_back({"orders", true, {{"audit", false}, {"billing", true}}});
  {
    auto s = OpenAt(path);
    ASSERT_TRUE(s->SaveMetadata(md).ok());
  }
  auto s = OpenAt(path);
  auto loaded = s->LoadMetadata();
  ASSERT_TRUE(loaded.ok());
  ASSERT_THAT(loaded->topics, SizeIs(1));
  EXPECT_EQ(loaded->topics[0].name, "orders");
  EXPECT_TRUE(loaded->topics[0].paused);
  ASSERT_THAT(loaded->topics[0].channels, SizeIs(2));
  EXPECT_TRUE(loaded->topics[0].channels[1].paused);
}

TEST(RocksStorageTest, SecondOpenOfADataPathIsRefused) {
  const std::string path = NewDataPath();
  auto first = OpenAt(path);
  RocksStorageOptions o;
  o.data_path = path;
  auto second = RocksStorage::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("failed to lock data-path"));
}

TEST(RocksStorageTest, DamagedDatabaseGivesAClearErrorAndChangesNothing) {
  const std::string path = NewDataPath();
  { auto s = OpenAt(path); }
  const std::string current = path + "/nsqd.rocksdb/CURRENT";
  std::ofstream(current, std::ios::trunc) << "garbage";
  RocksStorageOptions o;
  o.data_path = path;
  auto s = RocksStorage::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("is damaged"));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("Move the directory aside"));
  std::ifstream in(current);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "garbage");
}

TEST(RocksStorageTest, SyncEveryOneFsyncsBeforeThePublisherIsAnswered) {
  auto s = OpenAt(NewDataPath(), /*sync_every=*/1);
  auto q = *s->OpenQueue("t", "c", true);
  ASSERT_TRUE(q->Append(Msgs(0, 10)).ok());
  EXPECT_EQ(s->Counters().syncs, 0u);  // written to the log; the fsync comes with WaitDurable
  ASSERT_TRUE(s->WaitDurable().ok());
  EXPECT_EQ(s->Counters().syncs, 1u);
  ASSERT_TRUE(s->WaitDurable().ok());  // nothing new written: no second fsync
  EXPECT_EQ(s->Counters().syncs, 1u);
  ASSERT_TRUE(q->Append(Msgs(10, 20)).ok());
  ASSERT_TRUE(s->WaitDurable().ok());
  EXPECT_EQ(s->Counters().syncs, 2u);
  EXPECT_GT(s->Counters().wal_bytes, 20u * kRecordHeaderSize);
}

TEST(RocksStorageTest, ConcurrentPublishersShareFsyncs) {
  auto s = OpenAt(NewDataPath(), /*sync_every=*/1);
  constexpr int kThreads = 4, kWrites = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto q = *s->OpenQueue("t", absl::StrCat("c", t), true);
      for (int i = 0; i < kWrites; ++i) {
        ASSERT_TRUE(q->Append(Msgs(i, i + 1)).ok());
        ASSERT_TRUE(s->WaitDurable().ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t syncs = s->Counters().syncs;
  EXPECT_GE(syncs, 1u);
  EXPECT_LE(syncs, static_cast<uint64_t>(kThreads * kWrites));
}

// ---- the engine over RocksDB ---------------------------------------------------------

class RecordingSink : public broker::DeliverySink {
 public:
  void Deliver(std::vector<broker::Delivery>& batch) override {
    for (auto& d : batch) deliveries.push_back(d);
  }
  void Closed(const absl::Status&) override {}
  std::vector<broker::Delivery> Take() {
    std::vector<broker::Delivery> out;
    out.swap(deliveries);
    return out;
  }
  std::vector<broker::Delivery> deliveries;
};

// Takes what `sink` was given and FINs it, until `got` holds `want` bodies (bounded).
void DrainInto(broker::Consumer* c, RecordingSink* sink, size_t want,
               std::vector<std::string>* got) {
  for (int round = 0; round < 100 && got->size() < want; ++round) {
    for (auto& d : sink->Take()) {
      got->push_back(d.message->body);
      ASSERT_TRUE(c->Finish(d.message->id).ok());
    }
  }
}

TEST(EngineOnRocksTest, OrderHoldsAcrossTheMemoryDiskBoundaryForEveryChannel) {
  auto s = OpenAt(NewDataPath());
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 10;
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink a, b;
  auto ca = *engine.Subscribe("t", "a", {}, &a);
  auto cb = *engine.Subscribe("t", "b", {}, &b);
  std::vector<std::string> got_a, got_b, expected;
  int next = 0;
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 37; ++i) bodies.push_back(std::to_string(next++));
    std::vector<std::string_view> views(bodies.begin(), bodies.end());
    ASSERT_TRUE(engine.Publish("t", views).ok());
    expected.insert(expected.end(), bodies.begin(), bodies.end());
    // a consumes a little each round, b only at the end: both overflow to disk.
    ASSERT_TRUE(ca->SetReady(20).ok());
    DrainInto(ca.get(), &a, got_a.size() + 20, &got_a);
    ASSERT_TRUE(ca->SetReady(0).ok());
  }
  auto stats = *engine.GetStats({"t", "b", false});
  EXPECT_GT(stats[0].channels[0].backend_depth, 1000);
  ASSERT_TRUE(ca->SetReady(2500).ok());
  DrainInto(ca.get(), &a, expected.size(), &got_a);
  ASSERT_TRUE(cb->SetReady(2500).ok());
  DrainInto(cb.get(), &b, expected.size(), &got_b);
  EXPECT_EQ(got_a, expected);
  EXPECT_EQ(got_b, expected);
}

TEST(EngineOnRocksTest, ShutdownKeepsQueuedInFlightAndDeferredMessagesForTheNextStart) {
  const std::string path = NewDataPath();
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 100;
  {
    auto s = OpenAt(path);
    broker::Engine engine(opts, &clock, s.get());
    ASSERT_TRUE(engine.Start().ok());
    RecordingSink sink;
    auto c = *engine.Subscribe("t", "c", {}, &sink);
    std::vector<std::string_view> bodies = {"q1", "q2", "q3", "q4"};
    ASSERT_TRUE(engine.Publish("t", bodies).ok());
    std::vector<std::string_view> later = {"deferred"};
    ASSERT_TRUE(engine.Publish("t", later, absl::Seconds(30)).ok());
    ASSERT_TRUE(c->SetReady(2).ok());  // q1, q2 in flight (attempts 1)
    ASSERT_THAT(sink.deliveries, SizeIs(2));
    engine.Shutdown();
  }
  auto s = OpenAt(path);
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink sink;
  auto c = *engine.Subscribe("t", "c", {}, &sink);
  ASSERT_TRUE(c->SetReady(100).ok());
  std::vector<std::string> bodies;
  for (const auto& d : sink.deliveries) bodies.push_back(d.message->body);
  EXPECT_THAT(bodies, ElementsAre("q1", "q2", "q3", "q4"));
  EXPECT_EQ(sink.deliveries[0].attempts, 2);  // delivered once before the restart
  EXPECT_EQ(sink.deliveries[2].attempts, 1);
  clock.Advance(absl::Seconds(29));
  engine.ProcessTimers();
  EXPECT_THAT(sink.deliveries, SizeIs(4));
  clock.Advance(absl::Seconds(1));
  engine.ProcessTimers();
  ASSERT_THAT(sink.deliveries, SizeIs(5));
  EXPECT_EQ(sink.deliveries[4].message->body, "deferred");
}

TEST(EngineOnRocksTest, DurableModeRedeliversUnfinishedMessagesOnly) {
  const std::string path = NewDataPath();
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 0;
  {
    auto s = OpenAt(path);
    broker::Engine engine(opts, &clock, s.get());
    ASSERT_TRUE(engine.Start().ok());
    RecordingSink sink;
    auto c = *engine.Subscribe("t", "c", {}, &sink);
    std::vector<std::string_view> bodies = {"m0", "m1", "m2", "m3"};
    ASSERT_TRUE(engine.Publish("t", bodies).ok());
    ASSERT_TRUE(c->SetReady(4).ok());
    ASSERT_THAT(sink.deliveries, SizeIs(4));
    ASSERT_TRUE(c->Finish(sink.deliveries[0].message->id).ok());
    ASSERT_TRUE(c->Finish(sink.deliveries[2].message->id).ok());
    engine.Shutdown();
  }
  auto s = OpenAt(path);
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink sink;
  auto c = *engine.Subscribe("t", "c", {}, &sink);
  ASSERT_TRUE(c->SetReady(100).ok());
  std::vector<std::string> bodies;
  for (const auto& d : sink.deliveries) bodies.push_back(d.message->body);
  EXPECT_THAT(bodies, ElementsAre("m1", "m3"));
  EXPECT_EQ(sink.deliveries[0].attempts, 2);
}

TEST(EngineOnRocksTest, FirstChannelTakesOverTheTopicBacklogWithoutCopyingIt) {
  const std::string path = NewDataPath();
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 100;
  constexpr int kBacklog = 20000;
  {
    auto s = OpenAt(path);
    broker::Engine engine(opts, &clock, s.get());
    ASSERT_TRUE(engine.Start().ok());
    std::vector<std::string> bodies;
    for (int i = 0; i < kBacklog; ++i) bodies.push_back(std::to_string(i));
    std::vector<std::string_view> views(bodies.begin(), bodies.end());
    ASSERT_TRUE(engine.Publish("t", views).ok());
    const uint64_t wal_before = s->Counters().wal_bytes;
    ASSERT_TRUE(engine.CreateChannel("t", "first").ok());
    // A few registry records, not 20000 message records.
    EXPECT_LT(s->Counters().wal_bytes - wal_before, 4096u);
    auto stats = *engine.GetStats({"t", "", false});
    EXPECT_EQ(stats[0].depth, 0);
    ASSERT_THAT(stats[0].channels, SizeIs(1));
    EXPECT_EQ(stats[0].channels[0].depth, kBacklog);
    EXPECT_EQ(stats[0].channels[0].message_count, static_cast<uint64_t>(kBacklog));
    // A later channel sees only new messages; the first one gets them after its backlog.
    ASSERT_TRUE(engine.CreateChannel("t", "second").ok());
    std::vector<std::string_view> more = {"new"};
    ASSERT_TRUE(engine.Publish("t", more).ok());
    engine.Shutdown();
  }
  auto s = OpenAt(path);
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink first, second;
  auto c1 = *engine.Subscribe("t", "first", {}, &first);
  auto c2 = *engine.Subscribe("t", "second", {}, &second);
  ASSERT_TRUE(c2->SetReady(10).ok());
  ASSERT_THAT(second.deliveries, SizeIs(1));
  EXPECT_EQ(second.deliveries[0].message->body, "new");
  std::vector<std::string> got;
  ASSERT_TRUE(c1->SetReady(2500).ok());
  DrainInto(c1.get(), &first, kBacklog + 1, &got);
  ASSERT_EQ(got.size(), kBacklog + 1u);
  for (int i = 0; i < kBacklog; ++i) ASSERT_EQ(got[i], std::to_string(i));
  EXPECT_EQ(got.back(), "new");
  EXPECT_EQ((*engine.GetStats({"t", "", false}))[0].depth, 0);
}

TEST(EngineOnRocksTest, DurableDeferredPublishWaitsForItsDueTime) {
  auto s = OpenAt(NewDataPath());
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 0;
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink sink;
  auto c = *engine.Subscribe("t", "c", {}, &sink);
  ASSERT_TRUE(c->SetReady(10).ok());
  std::vector<std::string_view> later = {"later"};
  ASSERT_TRUE(engine.Publish("t", later, absl::Seconds(5)).ok());
  std::vector<std::string_view> now = {"now"};
  ASSERT_TRUE(engine.Publish("t", now).ok());
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  EXPECT_EQ(sink.deliveries[0].message->body, "now");
  clock.Advance(absl::Seconds(5));
  engine.ProcessTimers();
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].message->body, "later");
}

}  // namespace
}  // namespace nsq::storage
