#include <memory>
#include <string>
#include <vector>

#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine.h"
#include "storage/rocksdb_storage.h"
#include "storage/storage_test_util.h"

namespace nsq::storage {
namespace {

using storage_testing::NewDataPath;
using storage_testing::OpenAt;
using ::testing::ElementsAre;
using ::testing::SizeIs;

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

namespace nsq::storage {
namespace {

TEST(EngineOnRocksTest, DurableDeferredAndDelayedRequeuesSurviveARestartAndWaitForTheirTime) {
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
    ASSERT_TRUE(c->SetReady(10).ok());
    std::vector<std::string_view> later = {"dpub"};
    ASSERT_TRUE(engine.Publish("t", later, absl::Seconds(20)).ok());
    std::vector<std::string_view> now = {"req"};
    ASSERT_TRUE(engine.Publish("t", now).ok());
    ASSERT_THAT(sink.deliveries, SizeIs(1));
    ASSERT_TRUE(c->Requeue(sink.deliveries[0].message->id, absl::Seconds(10)).ok());
    engine.Shutdown();
  }
  auto s = OpenAt(path);
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  RecordingSink sink;
  auto c = *engine.Subscribe("t", "c", {}, &sink);
  ASSERT_TRUE(c->SetReady(10).ok());
  auto stats = *engine.GetStats({"t", "c", false});
  EXPECT_EQ(stats[0].channels[0].deferred_count, 2);
  EXPECT_THAT(sink.deliveries, SizeIs(0));
  clock.Advance(absl::Seconds(10));
  engine.ProcessTimers();
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  EXPECT_EQ(sink.deliveries[0].message->body, "req");
  EXPECT_EQ(sink.deliveries[0].attempts, 2);
  clock.Advance(absl::Seconds(10));
  engine.ProcessTimers();
  ASSERT_THAT(sink.deliveries, SizeIs(2));
  EXPECT_EQ(sink.deliveries[1].message->body, "dpub");
}

TEST(EngineOnRocksTest, DeferredRecordsInAnAdoptedBacklogMoveToTheDeferredQueue) {
  // Deferred publishes to a topic with no channel wait in its backlog with their due
  // time; the first channel takes the backlog over and moves them, a budget at a time.
  auto s = OpenAt(NewDataPath());
  FakeClock clock;
  broker::EngineOptions opts;
  opts.mem_queue_size = 0;
  broker::Engine engine(opts, &clock, s.get());
  ASSERT_TRUE(engine.Start().ok());
  constexpr int kDeferred = 10000;
  std::vector<std::string> bodies;
  for (int i = 0; i < kDeferred; ++i) bodies.push_back("d" + std::to_string(i));
  std::vector<std::string_view> views(bodies.begin(), bodies.end());
  ASSERT_TRUE(engine.Publish("t", views, absl::Seconds(60)).ok());
  std::vector<std::string_view> now = {"now"};
  ASSERT_TRUE(engine.Publish("t", now).ok());
  RecordingSink sink;
  auto c = *engine.Subscribe("t", "c", {}, &sink);
  ASSERT_TRUE(c->SetReady(10).ok());
  for (int i = 0; i < 100 && sink.deliveries.empty(); ++i) engine.ProcessTimers();
  ASSERT_THAT(sink.deliveries, SizeIs(1));
  EXPECT_EQ(sink.deliveries[0].message->body, "now");
  auto st = (*engine.GetStats({"t", "c", false}))[0].channels[0];
  EXPECT_EQ(st.deferred_count, kDeferred);
  EXPECT_EQ(st.depth, 0);
  std::vector<std::string> got = {"now"};
  ASSERT_TRUE(c->Finish(sink.Take()[0].message->id).ok());
  ASSERT_TRUE(c->SetReady(2500).ok());
  clock.Advance(absl::Seconds(60));
  for (int i = 0; i < 1000 && got.size() < kDeferred + 1; ++i) {
    engine.ProcessTimers();
    for (auto& d : sink.Take()) {
      got.push_back(d.message->body);
      ASSERT_TRUE(c->Finish(d.message->id).ok());
    }
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kDeferred) + 1);  // "now" first
  for (int i = 0; i < kDeferred; ++i) ASSERT_EQ(got[i + 1], bodies[i]);
}

}  // namespace
}  // namespace nsq::storage
