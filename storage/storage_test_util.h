#pragma once

// Shared by the storage tests: temp data paths, messages, a RocksStorage opener, and the
// messages column family of a closed storage opened directly.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/broker/core/storage.h"
#include "storage/record.h"
#include "storage/rocksdb_storage.h"

namespace nsq::storage::storage_testing {

using broker::BackendQueue;
using broker::QueuedMessage;

inline std::string NewDataPath() {
  static int n = 0;  // one test process, one thread creating queues
  return absl::StrCat(::testing::TempDir(), "/storage", ++n);
}

inline QueuedMessage Msg(const std::string& body, uint16_t attempts = 0, int64_t deliver_at = 0) {
  auto m = std::make_shared<broker::Message>();
  broker::MessageId::FromBytes(absl::StrCat("id", std::string(14 - std::min<size_t>(14, body.size()), '0'),
                                            body.substr(0, 14)),
                               &m->id);
  m->timestamp_ns = 1234;
  m->body = body;
  return QueuedMessage{m, deliver_at, attempts, 0};
}

inline std::vector<QueuedMessage> Msgs(int from, int to) {
  std::vector<QueuedMessage> out;
  for (int i = from; i < to; ++i) out.push_back(Msg(std::to_string(i)));
  return out;
}

inline std::vector<std::string> PopBodies(BackendQueue* q, size_t max, std::vector<QueuedMessage>* keep = nullptr) {
  std::vector<QueuedMessage> out;
  EXPECT_TRUE(q->Pop(max, &out).ok());
  std::vector<std::string> bodies;
  for (const auto& m : out) bodies.push_back(m.message->body);
  if (keep) *keep = out;
  return bodies;
}

inline std::unique_ptr<RocksStorage> OpenAt(const std::string& path, int64_t sync_every = 2500) {
  RocksStorageOptions o;
  o.data_path = path;
  o.sync_every = sync_every;
  auto s = RocksStorage::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// The messages column family of a closed storage, opened directly.
class RawMessages {
 public:
  explicit RawMessages(const std::string& data_path) {
    const std::string path = data_path + "/nsqd.rocksdb";
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles_, &raw);
    EXPECT_TRUE(st.ok()) << st.ToString();
    db_.reset(raw);
    for (auto* h : handles_) {
      if (h->GetName() == "messages") messages_ = h;
    }
  }
  ~RawMessages() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }

  // Every (seq, records in its value) in key order.
  std::vector<std::pair<uint64_t, uint32_t>> Values() {
    std::vector<std::pair<uint64_t, uint32_t>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      out.emplace_back(SeqOfKey(key), ValueRecords(it->value().ToString()).count());
    }
    return out;
  }
  // Every value in key order: the queue (or shared store) it belongs to, its seq, the
  // records it holds, whether it is a reference, its size.
  struct Entry {
    uint64_t id;
    uint64_t seq;
    uint32_t records;
    bool ref;
    size_t bytes;
  };
  std::vector<Entry> Entries() {
    std::vector<Entry> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString(), value = it->value().ToString();
      ValueRecords rs(value);
      out.push_back(Entry{SeqOfKey(std::string(8, '\0') + key.substr(0, 8)), SeqOfKey(key), rs.count(),
                          rs.is_ref(), value.size()});
    }
    return out;
  }
  size_t LargestValue() {
    size_t largest = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) largest = std::max(largest, it->value().size());
    return largest;
  }
  // Changes byte `offset` of the value at the `nth` key (offset from the value's end when
  // negative).
  void Damage(size_t nth, long offset) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_));
    it->SeekToFirst();
    for (size_t i = 0; i < nth && it->Valid(); ++i) it->Next();
    ASSERT_TRUE(it->Valid());
    std::string key = it->key().ToString(), value = it->value().ToString();
    const size_t at = offset >= 0 ? static_cast<size_t>(offset) : value.size() - static_cast<size_t>(-offset);
    value[at] ^= 0x20;
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), messages_, key, value).ok());
  }
  // The byte offset of the body of record `index` in the pack at the `nth` key.
  size_t BodyOffset(size_t nth, size_t index) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), messages_));
    it->SeekToFirst();
    for (size_t i = 0; i < nth && it->Valid(); ++i) it->Next();
    EXPECT_TRUE(it->Valid());
    const std::string value = it->value().ToString();
    ValueRecords rs(value);
    std::string_view record;
    for (size_t i = 0; i <= index; ++i) EXPECT_TRUE(rs.Next(&record));
    return static_cast<size_t>(record.data() - value.data()) + kRecordHeaderSize;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
};

}  // namespace nsq::storage::storage_testing
