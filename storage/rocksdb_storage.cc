#include "storage/rocksdb_storage.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "storage/record.h"
#include "storage/rocksdb_deferred.h"
#include "storage/rocksdb_queue.h"
#include "storage/rocksdb_shared.h"

namespace nsq::storage {
namespace {

using broker::BackendQueue;
using broker::Metadata;
using broker::QueuedMessage;


constexpr char kTopologyKey[] = "topology";

// The newest write of message records made by this thread (see WaitDurable).
thread_local uint64_t t_last_write_ticket = 0;
constexpr char kNextQueueIdKey[] = "next_queue_id";

std::string QueueRegistryKey(std::string_view topic, std::string_view channel) {
  return absl::StrCat("queue/", std::string(topic), "/", std::string(channel));
}
std::string DeferredRegistryKey(std::string_view topic, std::string_view channel) {
  return absl::StrCat("deferred/", std::string(topic), "/", std::string(channel));
}

// RocksDB's own log goes to ours, not to a LOG file in the data path: on a full disk
// that file fails too, and Debian's RocksDB asserts when its writer is used again.
class SpdlogLogger final : public rocksdb::Logger {
 public:
  SpdlogLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    vsnprintf(buf, sizeof(buf), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      spdlog::error("rocksdb: {}", buf);
    } else {
      spdlog::warn("rocksdb: {}", buf);
    }
  }
};

class RocksStorageImpl final : public RocksStorage, public QueueDatabase {
 public:
  explicit RocksStorageImpl(RocksStorageOptions options) : options_(std::move(options)) {}
  ~RocksStorageImpl() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (sync_thread_.joinable()) sync_thread_.join();
    {
      absl::MutexLock lock(&commit_mu_);
      commit_stopping_ = true;
    }
    if (commit_thread_.joinable()) commit_thread_.join();
    {
      absl::MutexLock lock(&answer_mu_);
      answer_stopping_ = true;
    }
    if (answer_thread_.joinable()) answer_thread_.join();
    if (db_) {
      Sync().IgnoreError();
      for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db_->Close().PermitUncheckedError();
    }
  }

  absl::Status OpenDb();

  absl::StatusOr<std::unique_ptr<BackendQueue>> OpenQueue(std::string_view topic,
                                                          std::string_view channel,
                                                          bool durable) override;
  absl::Status MoveQueue(BackendQueue* queue, std::string_view topic, std::string_view channel,
                         bool durable) override {
    auto* q = dynamic_cast<RocksQueue*>(queue);
    if (q == nullptr) return absl::InvalidArgumentError("MoveQueue: not a queue of this storage");
    SharedStore* shared = nullptr;
    if (!channel.empty() && !durable) {
      absl::StatusOr<SharedStore*> s = SharedFor(topic);
      if (!s.ok()) return s.status();
      shared = *s;
    }
    absl::MutexLock lock(&registry_mu_);
    return q->MoveTo(QueueRegistryKey(topic, channel), durable, shared);
  }
  absl::StatusOr<std::unique_ptr<broker::DeferredQueue>> OpenDeferred(
      std::string_view topic, std::string_view channel) override;
  absl::Status SaveMetadata(const Metadata& metadata) override;
  absl::StatusOr<Metadata> LoadMetadata() override;
  StorageCounters Counters() const override;
  absl::Status Sync() override {
    if (absl::Status failed = Failure(); !failed.ok()) return failed;
    unsynced_.store(0);
    syncs_.fetch_add(1, std::memory_order_relaxed);
    return FromRocks(db_->SyncWAL(), "sync");
  }

  // Writes a batch holding `messages` messages to the log (not yet fsynced), syncing
  // per --sync-every > 1; with --sync-every=1 the publisher then calls WaitDurable.
  // Writers of different queues run concurrently: RocksDB groups them into one log
  // write (no lock of ours around it).
  absl::Status Write(rocksdb::WriteBatch* batch, size_t messages) override {
    // After a failed write (disk full, I/O error) the first failure sticks until a
    // restart: publishes fail with it, /ping and health show it, reads go on. RocksDB
    // itself stops writing then (a background error with paranoid_checks), so a writer
    // that got past this check at the same moment gets its error too.
    if (absl::Status failed = Failure(); !failed.ok()) return failed;
    // RocksDB counts into a per-thread perf context unless told not to, once per thread.
    thread_local const bool perf_off = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
    (void)perf_off;
    rocksdb::Status st = db_->Write(rocksdb::WriteOptions(), batch);
    if (!st.ok()) {
      absl::MutexLock lock(&failure_mu_);
      if (failure_.ok()) {
        failure_ = FromRocks(st, "write");
        failed_.store(true, std::memory_order_release);
        spdlog::error("{}; no more writes until the broker is restarted",
                      std::string(failure_.message()));
      }
      return failure_;
    }
    if (messages == 0) return absl::OkStatus();
    if (options_.sync_every <= 1) {
      t_last_write_ticket = write_ticket_.fetch_add(1) + 1;
    } else if (unsynced_.fetch_add(messages) + static_cast<int64_t>(messages) >= options_.sync_every) {
      // The sync thread fsyncs: never under the caller's topic or channel lock.
      absl::MutexLock lock(&mu_);
      sync_wanted_ = true;
    }
    return absl::OkStatus();
  }

  // Group commit: the commit thread fsyncs the log for every write made before the
  // fsync started and then answers everyone those writes belong to, so publishers that
  // arrive during one fsync share the next.
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override {
    if (options_.sync_every > 1) {
      std::move(done)(absl::OkStatus());
      return;
    }
    const uint64_t mine = t_last_write_ticket;
    {
      absl::MutexLock lock(&commit_mu_);
      if (synced_ticket_ < mine) {
        waiting_.push_back(Waiter{mine, std::move(done)});
        return;
      }
    }
    std::move(done)(absl::OkStatus());
  }

  rocksdb::DB* db() override { return db_.get(); }
  rocksdb::ColumnFamilyHandle* messages_cf() override { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* meta_cf() override { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* deferred_cf() override { return handles_[2]; }
  void CountCorrupt() override { corrupt_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void SyncLoop();
  // The queue id registered under `key`, assigning the next one if there is none.
  absl::StatusOr<uint64_t> QueueId(const std::string& key);
  // The topic's shared store (rocksdb_shared.h), opened on first use.
  absl::StatusOr<SharedStore*> SharedFor(std::string_view topic);
  absl::Mutex shared_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<SharedStore>> shared_ ABSL_GUARDED_BY(shared_mu_);

  const RocksStorageOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::shared_ptr<rocksdb::Statistics> stats_;
  std::atomic<int64_t> unsynced_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> corrupt_{0};

  absl::Mutex registry_mu_;  // queue id assignment

  // The failed write that ends all writes until RocksDB recovers from it (TryResume).
  absl::Status Failure() {
    if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
    TryResume();
    absl::MutexLock lock(&failure_mu_);
    return failure_;
  }
  // After a failure, at most once a second: asks RocksDB to resume (it switches to a new
  // log once the cause, e.g. a full disk, is gone). Writes work again if it does.
  void TryResume() {
    {
      absl::MutexLock lock(&failure_mu_);
      const absl::Time now = absl::Now();
      if (failure_.ok() || now < next_resume_) return;
      next_resume_ = now + absl::Seconds(1);
    }
    rocksdb::Status st = db_->Resume();
    if (!st.ok()) {
      spdlog::debug("storage: resume: {}", st.ToString());
      return;
    }
    absl::MutexLock lock(&failure_mu_);
    spdlog::warn("storage: recovered from \"{}\"; writes are accepted again", std::string(failure_.message()));
    failure_ = absl::OkStatus();
    failed_.store(false, std::memory_order_release);
  }
  std::atomic<bool> failed_{false};
  absl::Mutex failure_mu_;
  absl::Status failure_ ABSL_GUARDED_BY(failure_mu_);
  absl::Time next_resume_ ABSL_GUARDED_BY(failure_mu_) = absl::InfinitePast();

  struct Waiter {
    uint64_t ticket;
    absl::AnyInvocable<void(absl::Status) &&> done;
  };
  void CommitLoop();
  void AnswerLoop();

  std::atomic<uint64_t> write_ticket_{0};  // writes of message records so far
  absl::Mutex commit_mu_;
  uint64_t synced_ticket_ ABSL_GUARDED_BY(commit_mu_) = 0;  // all writes up to it are fsynced
  std::vector<Waiter> waiting_ ABSL_GUARDED_BY(commit_mu_);
  bool commit_stopping_ ABSL_GUARDED_BY(commit_mu_) = false;
  std::thread commit_thread_;
  // Publishers a group fsync covered are answered from their own thread, so that the
  // next fsync does not wait for their answers (a gRPC Finish writes its response inline).
  absl::Mutex answer_mu_;
  std::vector<std::pair<Waiter, absl::Status>> answers_ ABSL_GUARDED_BY(answer_mu_);
  bool answer_stopping_ ABSL_GUARDED_BY(answer_mu_) = false;
  std::thread answer_thread_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sync_wanted_ ABSL_GUARDED_BY(mu_) = false;  // --sync-every messages are waiting
  std::thread sync_thread_;
};

absl::Status RocksStorageImpl::OpenDb() {
  const std::string path = (std::filesystem::path(options_.data_path) / "nsqd.rocksdb").string();
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create data-path ", path, ": ", ec.message()));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 256 << 20;
  db_options.keep_log_file_num = 3;
  // Reusing old log files means an fsync of the log rarely has file size metadata to
  // commit as well: fewer journal writes per --sync-every=1 group commit.
  db_options.recycle_log_file_num = 4;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.info_log = std::make_shared<SpdlogLogger>();
  stats_ = rocksdb::CreateDBStatistics();
  stats_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);
  db_options.statistics = stats_;

  // Block checksums: XXH3 instead of the default crc32c, which Debian's portable RocksDB
  // build computes with tables (no SSE4.2 instruction) and which was ~10% of the broker's
  // CPU with a 1 KiB backlog. The type is kept per file: older files stay readable.
  rocksdb::BlockBasedTableOptions meta_table;
  meta_table.checksum = rocksdb::kXXH3;
  rocksdb::ColumnFamilyOptions meta_options;
  meta_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(meta_table));
  rocksdb::ColumnFamilyOptions msg_options;
  // Memory: memtables of 8 MiB, flushed once 24 MiB are held over all column families,
  // at most 5 for messages while a flush catches up (3 stopped writes under load). A
  // 10M-message backlog stays on disk, not in memtables. Thirty-two level-0 files
  // (256 MiB) before a compaction: a queue's records are mostly consumed and
  // range-deleted before they would be rewritten.
  db_options.db_write_buffer_size = 24 << 20;
  msg_options.write_buffer_size = 8 << 20;
  msg_options.max_write_buffer_number = 5;
  msg_options.level0_file_num_compaction_trigger = 32;
  msg_options.level0_slowdown_writes_trigger = 80;
  msg_options.level0_stop_writes_trigger = 128;
  msg_options.compression = rocksdb::kNoCompression;
  msg_options.level_compaction_dynamic_level_bytes = true;
  // Queues are read sequentially, once: big blocks mean few reads per refill.
  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_size = 64 << 10;
  table_options.checksum = rocksdb::kXXH3;
  // Queues are read once, except a topic's shared store, which each of its channels
  // reads: 32 MiB of blocks lets channels some way apart still find them cached
  // (RocksDB's default is 8 MiB; a block's memory is only held while it is cached).
  table_options.block_cache = rocksdb::NewLRUCache(32 << 20);
  msg_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, meta_options},
      {"messages", msg_options},
      // Deferred messages, by due time: small, read by range from each queue's start.
      {"deferred", meta_options},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(db_options, path, cfs, &handles_, &raw);
  if (!st.ok()) {
    const std::string msg = st.ToString();
    if (st.IsIOError() && msg.find("lock") != std::string::npos) {
      return absl::FailedPreconditionError(absl::StrCat(
          "failed to lock data-path ", options_.data_path,
          ": another broker is using it (", msg, ")"));
    }
    if (st.IsCorruption() || msg.find("orrupt") != std::string::npos) {
      return absl::DataLossError(absl::StrCat(
          "data-path ", options_.data_path, " is damaged: ", msg,
          ". Nothing was changed. Move the directory aside (or restore a backup) and start "
          "again; RocksDB's `ldb repair` may recover what is left in it."));
    }
    return absl::UnavailableError(absl::StrCat("cannot open data-path ", path, ": ", msg));
  }
  db_.reset(raw);
  if (options_.sync_every > 1) {
    sync_thread_ = std::thread([this] { SyncLoop(); });
  } else {
    commit_thread_ = std::thread([this] { CommitLoop(); });
    answer_thread_ = std::thread([this] { AnswerLoop(); });
  }
  return absl::OkStatus();
}

void RocksStorageImpl::CommitLoop() {
  std::vector<Waiter> ready;
  absl::MutexLock lock(&commit_mu_);
  while (true) {
    commit_mu_.Await(absl::Condition(
        +[](RocksStorageImpl* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !s->waiting_.empty() || s->commit_stopping_;
        },
        this));
    if (waiting_.empty() && commit_stopping_) return;
    const uint64_t upto = write_ticket_.load();
    commit_mu_.Unlock();
    const absl::Status st = Sync();
    commit_mu_.Lock();
    if (st.ok()) synced_ticket_ = std::max(synced_ticket_, upto);
    // Answer everyone this fsync covered (everyone, with the error, if it failed).
    auto covered = [&](const Waiter& w) { return !st.ok() || w.ticket <= synced_ticket_; };
    auto split = std::stable_partition(waiting_.begin(), waiting_.end(),
                                       [&](const Waiter& w) { return !covered(w); });
    ready.clear();
    for (auto it = split; it != waiting_.end(); ++it) ready.push_back(std::move(*it));
    waiting_.erase(split, waiting_.end());
    commit_mu_.Unlock();
    if (!ready.empty()) {
      absl::MutexLock answer_lock(&answer_mu_);
      for (Waiter& w : ready) answers_.emplace_back(std::move(w), st);
    }
    commit_mu_.Lock();
  }
}

void RocksStorageImpl::AnswerLoop() {
  std::vector<std::pair<Waiter, absl::Status>> batch;
  absl::MutexLock lock(&answer_mu_);
  while (true) {
    answer_mu_.Await(absl::Condition(
        +[](RocksStorageImpl* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return !s->answers_.empty() || s->answer_stopping_;
        },
        this));
    if (answers_.empty()) return;  // stopping, and everyone answered
    batch.swap(answers_);
    answer_mu_.Unlock();
    for (auto& [w, st] : batch) std::move(w.done)(st);
    batch.clear();
    answer_mu_.Lock();
  }
}

void RocksStorageImpl::SyncLoop() {
  absl::MutexLock lock(&mu_);
  auto wake = +[](RocksStorageImpl* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return s->stopping_ || s->sync_wanted_;
  };
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(wake, this), options_.sync_timeout);
    if (stopping_) return;
    sync_wanted_ = false;
    if (failed_.load(std::memory_order_acquire)) {
      mu_.Unlock();
      TryResume();  // with no writes coming, recovery still happens
      mu_.Lock();
      continue;
    }
    if (unsynced_.load() > 0) {
      mu_.Unlock();
      absl::Status st = Sync();
      if (!st.ok()) spdlog::error("storage: {}", std::string(st.message()));
      mu_.Lock();
    }
  }
}

absl::StatusOr<uint64_t> RocksStorageImpl::QueueId(const std::string& key) {
  absl::MutexLock lock(&registry_mu_);
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), meta_cf(), key, &v);
  if (st.ok()) return ValueU64(v);
  if (!st.IsNotFound()) return FromRocks(st, "read queue registry");
  std::string next;
  rocksdb::Status gs = db_->Get(rocksdb::ReadOptions(), meta_cf(), kNextQueueIdKey, &next);
  if (!gs.ok() && !gs.IsNotFound()) return FromRocks(gs, "read queue registry");
  const uint64_t id = gs.ok() ? ValueU64(next) : 1;
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf(), key, U64Value(id));
  batch.Put(meta_cf(), kNextQueueIdKey, U64Value(id + 1));
  if (absl::Status ws = Write(&batch, 0); !ws.ok()) return ws;
  return id;
}

absl::StatusOr<std::unique_ptr<BackendQueue>> RocksStorageImpl::OpenQueue(std::string_view topic,
                                                                          std::string_view channel,
                                                                          bool durable) {
  const std::string key = QueueRegistryKey(topic, channel);
  absl::StatusOr<uint64_t> id = QueueId(key);
  if (!id.ok()) return id.status();
  auto queue = std::make_unique<RocksQueue>(this, *id, durable, key);
  if (!channel.empty() && !durable) {
    absl::StatusOr<SharedStore*> shared = SharedFor(topic);
    if (!shared.ok()) return shared.status();
    queue->AttachShared(*shared);
  }
  if (absl::Status st = queue->Load(); !st.ok()) return st;
  return std::unique_ptr<BackendQueue>(std::move(queue));
}

absl::StatusOr<SharedStore*> RocksStorageImpl::SharedFor(std::string_view topic) {
  absl::MutexLock lock(&shared_mu_);
  auto it = shared_.find(std::string(topic));
  if (it != shared_.end()) return it->second.get();
  absl::StatusOr<uint64_t> id = QueueId(absl::StrCat("shared/", std::string(topic)));
  if (!id.ok()) return id.status();
  auto store = std::make_unique<SharedStore>(this, *id);
  if (absl::Status st = store->Load(); !st.ok()) return st;
  SharedStore* raw = store.get();
  shared_.emplace(std::string(topic), std::move(store));
  return raw;
}

absl::StatusOr<std::unique_ptr<broker::DeferredQueue>> RocksStorageImpl::OpenDeferred(
    std::string_view topic, std::string_view channel) {
  const std::string key = DeferredRegistryKey(topic, channel);
  absl::StatusOr<uint64_t> id = QueueId(key);
  if (!id.ok()) return id.status();
  auto queue = std::make_unique<RocksDeferred>(this, *id, key);
  if (absl::Status st = queue->Load(); !st.ok()) return st;
  return std::unique_ptr<broker::DeferredQueue>(std::move(queue));
}

namespace {
// A policy as JSON: only what differs from the defaults, so NSQ-only topologies stay
// as they were.
nlohmann::json PolicyJson(const broker::QueuePolicy& p) {
  nlohmann::json j = nlohmann::json::object();
  if (p.max_attempts > 0) j["max_attempts"] = p.max_attempts;
  if (!p.dead_letter_topic.empty()) j["dead_letter_topic"] = p.dead_letter_topic;
  if (p.message_ttl > absl::ZeroDuration()) j["message_ttl_ms"] = absl::ToInt64Milliseconds(p.message_ttl);
  if (p.dead_letter_expired) j["dead_letter_expired"] = true;
  if (p.max_depth > 0) j["max_depth"] = p.max_depth;
  if (p.depth_policy == broker::DepthPolicy::kDropOldest) j["depth_policy"] = "drop_oldest";
  return j;
}

broker::QueuePolicy PolicyOf(const nlohmann::json& parent) {
  broker::QueuePolicy p;
  if (!parent.contains("policy")) return p;
  const nlohmann::json& j = parent.at("policy");
  p.max_attempts = j.value("max_attempts", 0);
  p.dead_letter_topic = j.value("dead_letter_topic", std::string());
  p.message_ttl = absl::Milliseconds(j.value("message_ttl_ms", int64_t{0}));
  p.dead_letter_expired = j.value("dead_letter_expired", false);
  p.max_depth = j.value("max_depth", int64_t{0});
  if (j.value("depth_policy", std::string()) == "drop_oldest") p.depth_policy = broker::DepthPolicy::kDropOldest;
  return p;
}

void AddPolicy(const broker::QueuePolicy& p, nlohmann::json* into) {
  nlohmann::json j = PolicyJson(p);
  if (!j.empty()) (*into)["policy"] = std::move(j);
}
}  // namespace

absl::Status RocksStorageImpl::SaveMetadata(const Metadata& md) {
  nlohmann::json topics = nlohmann::json::array();
  for (const auto& t : md.topics) {
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : t.channels) {
      nlohmann::json cj = {{"name", c.name}, {"paused", c.paused}};
      AddPolicy(c.policy, &cj);
      channels.push_back(std::move(cj));
    }
    nlohmann::json tj = {{"name", t.name}, {"paused", t.paused}, {"channels", channels}};
    AddPolicy(t.policy, &tj);
    topics.push_back(std::move(tj));
  }
  nlohmann::json doc = {{"version", 1}, {"topics", topics}};
  rocksdb::WriteBatch batch;
  batch.Put(meta_cf(), kTopologyKey, doc.dump());
  if (absl::Status st = Write(&batch, 0); !st.ok()) return st;
  return Sync();  // rare, and a lost topology would lose whole channels
}

absl::StatusOr<Metadata> RocksStorageImpl::LoadMetadata() {
  std::string v;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), meta_cf(), kTopologyKey, &v);
  if (st.IsNotFound()) return Metadata{};
  if (!st.ok()) return FromRocks(st, "metadata read");
  Metadata md;
  try {
    nlohmann::json doc = nlohmann::json::parse(v);
    for (const auto& t : doc.at("topics")) {
      Metadata::Topic topic{t.at("name").get<std::string>(), t.at("paused").get<bool>(), PolicyOf(t), {}};
      for (const auto& c : t.at("channels")) {
        topic.channels.push_back({c.at("name").get<std::string>(), c.at("paused").get<bool>(), PolicyOf(c)});
      }
      md.topics.push_back(std::move(topic));
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("data-path ", options_.data_path,
                                            " has damaged metadata: ", e.what()));
  }
  return md;
}

StorageCounters RocksStorageImpl::Counters() const {
  StorageCounters c;
  c.wal_bytes = stats_->getTickerCount(rocksdb::WAL_FILE_BYTES);
  c.flush_bytes = stats_->getTickerCount(rocksdb::FLUSH_WRITE_BYTES);
  c.compaction_bytes = stats_->getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
  c.corrupt_records = corrupt_.load(std::memory_order_relaxed);
  c.syncs = syncs_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksStorage>> RocksStorage::Open(const RocksStorageOptions& options) {
  auto storage = std::make_unique<RocksStorageImpl>(options);
  if (absl::Status st = storage->OpenDb(); !st.ok()) return st;
  return std::unique_ptr<RocksStorage>(std::move(storage));
}

}  // namespace nsq::storage
