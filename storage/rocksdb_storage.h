#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/broker/core/storage.h"

namespace nsq::storage {

struct RocksStorageOptions {
  // The broker's --data-path; the database lives in <data_path>/nsqd.rocksdb.
  std::string data_path;
  // nsqd's --sync-every: messages written per fsync of the log; 1 = every write batch is
  // on stable storage before it is acknowledged.
  int64_t sync_every = 2500;
  // nsqd's --sync-timeout: longest time written messages wait for an fsync.
  absl::Duration sync_timeout = absl::Seconds(2);
};

struct StorageCounters {
  uint64_t wal_bytes = 0;         // written to the write-ahead log
  uint64_t flush_bytes = 0;       // written by memtable flushes
  uint64_t compaction_bytes = 0;  // written by compactions
  uint64_t corrupt_records = 0;   // records that failed their checksum (skipped)
  uint64_t syncs = 0;             // fsyncs of the log
};

// The broker's storage on RocksDB: one database per --data-path (RocksDB's LOCK file
// keeps a second broker out), queue records in the "messages" column family under
// [queue id][sequence] keys, metadata and cursors in the default one. Thread-safe; each
// queue is used under its owner's lock. Owns one thread for --sync-timeout.
class RocksStorage : public broker::Storage {
 public:
  // Errors: FailedPrecondition when another process holds the data path, DataLoss when
  // the database is damaged (the message names the file and what to do), Unavailable
  // for other I/O failures.
  static absl::StatusOr<std::unique_ptr<RocksStorage>> Open(const RocksStorageOptions& options);

  virtual StorageCounters Counters() const = 0;
  // fsyncs the log now.
  virtual absl::Status Sync() = 0;
};

}  // namespace nsq::storage
