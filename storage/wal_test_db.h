#pragma once

// Shared by rocksdb_crc32c_test and plain_rocksdb_wal: a database whose data lives only in
// its write-ahead log, written and read back with every log checksum verified.

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <string>

namespace nsq::storage::wal_test {

inline rocksdb::Options WalOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  o.avoid_flush_during_shutdown = true;
  o.avoid_flush_during_recovery = true;
  return o;
}

inline std::string Value(int i) { return "v" + std::to_string(i) + std::string(100 + i % 50, 'x'); }

// "ok N" or what failed.
inline std::string Write(const std::string& dir, int n) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(WalOptions(), dir, &raw);
  if (!st.ok()) return "open: " + st.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int i = 0; i < n; ++i) {
    st = db->Put(rocksdb::WriteOptions(), "k" + std::to_string(i), Value(i));
    if (!st.ok()) return "put: " + st.ToString();
  }
  st = db->Close();
  return st.ok() ? "ok " + std::to_string(n) : "close: " + st.ToString();
}

inline std::string Read(const std::string& dir, int n) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options o = WalOptions();
  o.create_if_missing = false;
  rocksdb::Status st = rocksdb::DB::Open(o, dir, &raw);
  if (!st.ok()) return "open: " + st.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  for (int i = 0; i < n; ++i) {
    std::string v;
    st = db->Get(rocksdb::ReadOptions(), "k" + std::to_string(i), &v);
    if (!st.ok()) return "get k" + std::to_string(i) + ": " + st.ToString();
    if (v != Value(i)) return "k" + std::to_string(i) + " has a different value";
  }
  st = db->Close();
  return st.ok() ? "ok " + std::to_string(n) : "close: " + st.ToString();
}

}  // namespace nsq::storage::wal_test
