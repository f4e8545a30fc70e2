// Storage that fails while messages are in flight: consumers FIN, REQ (with and without
// delay), time out and disconnect while writes fail (all of them for a while, or one Nth
// write now and then). Nothing the engine acknowledged may be lost: what storage refuses
// is held in memory (ChannelStats::held_count) and delivered once storage works again.
// Seeded: NSQ_TEST_SEED repeats a run; the seed is printed and named in every failure.
// Unit-level cases (one message each) are in services/broker/core/channel_test.cc
// (ChannelStorageFailureTest); this is the randomized, ledger-counted version.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/broker/core/engine_fixture.h"

namespace nsq::broker {
namespace {

using engine_testing::EngineTest;
using engine_testing::RecordingSink;

uint64_t SeedFromEnv() {
  uint64_t seed = 0;
  const char* env = std::getenv("NSQ_TEST_SEED");
  if (env == nullptr || !absl::SimpleAtoi(env, &seed) || seed == 0) seed = std::random_device{}();
  return seed;
}

int Scaled(int n) {
  double f = 1;
  if (const char* s = std::getenv("NSQ_FAULT_SCALE")) f = std::atof(s);
  if (const char* s = std::getenv("NSQ_SANITIZER"); s && std::string(s) == "asan") f /= 4;
  return std::max(1, static_cast<int>(n * f));
}

struct Ledger {
  int64_t published = 0;
  absl::flat_hash_set<std::string> acked;
  absl::flat_hash_set<std::string> delivered;  // FINished
  int64_t finishes = 0;

  int64_t duplicated() const { return finishes - static_cast<int64_t>(delivered.size()); }
  std::vector<std::string> Lost() const {
    std::vector<std::string> out;
    for (const auto& k : acked) {
      if (!delivered.contains(k)) out.push_back(k);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string Line(const std::string& name) const {
    return absl::StrCat("ledger: ", name, " published=", published, " acknowledged=", acked.size(),
                        " delivered=", delivered.size(), " duplicated=", duplicated(),
                        " lost=", Lost().size());
  }
};

class StorageFailureLedgerTest : public EngineTest {
 protected:
  struct Client {
    std::unique_ptr<RecordingSink> sink = std::make_unique<RecordingSink>();
    std::shared_ptr<Consumer> consumer;
    std::vector<Delivery> held;  // delivered, not yet FINished or REQueued
  };

  void Connect(Client* c, int64_t rdy) {
    c->sink = std::make_unique<RecordingSink>();
    c->held.clear();
    c->consumer = Sub("t", "ch", c->sink.get(), rdy, absl::Seconds(30));
  }

  void Collect(Client* c) {
    for (Delivery& d : c->sink->Take()) c->held.push_back(std::move(d));
  }

  void FinishSome(Client* c, std::mt19937_64& rng, double share) {
    Collect(c);
    std::vector<Delivery> keep;
    for (Delivery& d : c->held) {
      if (std::uniform_real_distribution<>(0, 1)(rng) < share) {
        // Fails for a delivery that timed out meanwhile (it comes again): not counted.
        if (c->consumer->Finish(d.message->id).ok()) {
          ++ledger_.finishes;
          ledger_.delivered.insert(d.message->body);
        }
      } else {
        keep.push_back(std::move(d));
      }
    }
    c->held = std::move(keep);
  }

  void RequeueSome(Client* c, std::mt19937_64& rng) {
    Collect(c);
    std::vector<Delivery> keep;
    for (Delivery& d : c->held) {
      if (rng() % 4 == 0) {
        const absl::Duration delay = absl::Milliseconds(rng() % 2 == 0 ? 0 : rng() % 3000);
        // Storage failing never fails a REQ (the message is kept either way); only a
        // delivery that timed out meanwhile is no longer in flight.
        absl::Status st = c->consumer->Requeue(d.message->id, delay);
        EXPECT_TRUE(st.ok() || st.code() == absl::StatusCode::kFailedPrecondition)
            << "seed " << seed_ << ": " << st;
      } else {
        keep.push_back(std::move(d));
      }
    }
    c->held = std::move(keep);
  }

  void PublishBatch(std::mt19937_64& rng) {
    const int n = 1 + static_cast<int>(rng() % 50);
    std::vector<std::string> bodies;
    for (int i = 0; i < n; ++i) bodies.push_back(absl::StrCat("k", next_key_++));
    std::vector<std::string_view> views(bodies.begin(), bodies.end());
    ledger_.published += n;
    // A publish the storage refuses fails as a whole; nothing of it is acknowledged.
    if (engine_->Publish("t", views).ok()) {
      for (auto& b : bodies) ledger_.acked.insert(b);
    }
  }

  uint64_t seed_ = SeedFromEnv();
  Ledger ledger_;
  int64_t next_key_ = 0;

  // Runs the random schedule; returns the most messages held in memory at once.
  int64_t Run(const std::string& name, int64_t mem_queue_size);
};

int64_t StorageFailureLedgerTest::Run(const std::string& name, int64_t mem_queue_size) {
  std::printf("%s: seed %llu (repeat with NSQ_TEST_SEED=%llu)\n", name.c_str(),
              static_cast<unsigned long long>(seed_), static_cast<unsigned long long>(seed_));
  std::mt19937_64 rng(seed_);
  EngineOptions opts;
  opts.mem_queue_size = mem_queue_size;
  Reset(opts);
  if (!engine_->CreateChannel("t", "ch").ok()) {
    ADD_FAILURE() << "cannot create the channel";
    return 0;
  }
  std::vector<Client> clients(3);
  for (auto& c : clients) Connect(&c, 1 + static_cast<int64_t>(rng() % 40));

  int64_t max_held = 0, steps_failing = 0;
  const int steps = Scaled(4000);
  for (int step = 0; step < steps; ++step) {
    Client& c = clients[rng() % clients.size()];
    switch (rng() % 10) {
      case 0:
      case 1:
        PublishBatch(rng);
        break;
      case 2:
        FinishSome(&c, rng, 0.8);
        break;
      case 3:
        RequeueSome(&c, rng);
        break;
      case 4:
        if (rng() % 8 == 0) {  // disconnect with messages in flight, then come back
          Collect(&c);
          c.consumer->Close();
          Connect(&c, 1 + static_cast<int64_t>(rng() % 40));
        }
        break;
      case 5:
        Advance(absl::Milliseconds(rng() % 40000));  // timeouts (30 s) and deferred releases
        break;
      case 6:
        storage_.fail_writes = rng() % 3 != 0;  // failing two thirds of the time
        break;
      case 7:
        storage_.FailNthWrite(1 + static_cast<int>(rng() % 5));
        break;
      default:
        FinishSome(&c, rng, 0.3);
        break;
    }
    if (HasFatalFailure()) return 0;
    if (storage_.fail_writes) ++steps_failing;
    max_held = std::max(max_held, ChannelStatsOf("t", "ch").held_count);
  }

  // Storage works again: everything acknowledged must come out.
  storage_.fail_writes = false;
  storage_.FailNthWrite(-1000000);
  for (auto& c : clients) EXPECT_TRUE(c.consumer->SetReady(100).ok());
  ChannelStats st;
  for (int round = 0; round < 100000; ++round) {
    for (auto& c : clients) FinishSome(&c, rng, 1.0);
    if (HasFatalFailure()) return 0;
    st = ChannelStatsOf("t", "ch");
    if (st.depth == 0 && st.in_flight_count == 0 && st.deferred_count == 0) break;
    Advance(absl::Seconds(1));
  }
  std::printf("%s seed=%llu steps=%d failing_steps=%lld max_held_in_memory=%lld\n",
              ledger_.Line(name).c_str(), static_cast<unsigned long long>(seed_),
              steps, static_cast<long long>(steps_failing), static_cast<long long>(max_held));
  EXPECT_EQ(st.depth, 0) << "seed " << seed_;
  EXPECT_EQ(st.held_count, 0) << "seed " << seed_;
  EXPECT_GT(ledger_.acked.size(), 0u);
  const std::vector<std::string> lost = ledger_.Lost();
  EXPECT_TRUE(lost.empty()) << "seed " << seed_ << ": " << lost.size()
                            << " acknowledged but never delivered, first " << lost.front();
  // Nothing of a refused publish is delivered.
  for (const auto& k : ledger_.delivered) {
    EXPECT_TRUE(ledger_.acked.contains(k)) << "seed " << seed_ << ": " << k << " was refused";
  }
  return max_held;
}

TEST_F(StorageFailureLedgerTest, NothingAcknowledgedIsLostWhileStorageFailsMidRequeue) {
  // --mem-queue-size=20: most requeues and timeouts must go to storage.
  EXPECT_GT(Run("storage-failure default", 20), 0)
      << "seed " << seed_ << ": the run never held a message in memory";
}

TEST_F(StorageFailureLedgerTest, DurableModeLosesNothingAcknowledgedWhileStorageFails) {
  // --mem-queue-size=0: every message is in storage until FIN.
  Run("storage-failure durable", 0);
}

}  // namespace
}  // namespace nsq::broker
