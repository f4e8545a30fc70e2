// Damages a stopped broker's RocksDB on purpose, for corruption_test.py:
//   corrupt_record <data-path>/nsqd.rocksdb record <n>   flips one body byte of the nth
//       message record (0-based, in key order, counting the records inside packs)
//       through RocksDB itself, so only our own
//       record checksum (storage/record.h) can tell; prints the record's key.
//   corrupt_record <data-path>/nsqd.rocksdb flush        flushes the memtables, so that
//       the records are in SST files (which the test then damages byte by byte).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rocksdb/db.h"
#include "storage/record.h"

namespace {

int Fail(const std::string& what, const rocksdb::Status& st) {
  std::fprintf(stderr, "corrupt_record: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: corrupt_record DB (record N | flush)\n");
    return 2;
  }
  const std::string path = argv[1], mode = argv[2];
  std::vector<std::string> names;
  rocksdb::Status st = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  if (!st.ok()) return Fail("list column families", st);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  // As the broker's storage writes them (storage/rocksdb_storage.cc): uncompressed.
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.compression = rocksdb::kNoCompression;
  for (const auto& n : names) cfs.emplace_back(n, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  st = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  if (!st.ok()) return Fail("open", st);
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* messages = nullptr;
  for (auto* h : handles) {
    if (h->GetName() == "messages") messages = h;
  }
  if (messages == nullptr) {
    std::fprintf(stderr, "corrupt_record: no messages column family\n");
    return 1;
  }
  int rc = 0;
  if (mode == "flush") {
    st = db->Flush(rocksdb::FlushOptions(), handles);
    if (!st.ok()) rc = Fail("flush", st);
  } else if (mode == "record" && argc == 4) {
    const long want = std::strtol(argv[3], nullptr, 10);
    // Records are single values or packs of them (storage/record.h): count records.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), messages));
    long i = 0;
    bool done = false;
    for (it->SeekToFirst(); it->Valid() && !done; it->Next()) {
      std::string key = it->key().ToString(), value = it->value().ToString();
      nsq::storage::ValueRecords records(value);
      std::string_view record;
      for (uint64_t seq = nsq::storage::SeqOfKey(key); records.Next(&record); ++seq, ++i) {
        if (i < want) continue;
        done = true;
        if (record.size() <= nsq::storage::kRecordHeaderSize) {
          std::fprintf(stderr, "corrupt_record: record %ld has no body\n", want);
          rc = 1;
          break;
        }
        const size_t at = static_cast<size_t>(record.data() - value.data()) + nsq::storage::kRecordHeaderSize;
        const std::string body_start = value.substr(at, 12);
        value[at] ^= 0x20;  // one bit of the body's first byte
        st = db->Put(rocksdb::WriteOptions(), messages, key, value);
        if (!st.ok()) rc = Fail("put", st);
        std::printf("corrupted record %ld: seq %llu, body starts %s\n", want,
                    static_cast<unsigned long long>(seq), body_start.c_str());
        break;
      }
    }
    if (!done) {
      std::fprintf(stderr, "corrupt_record: fewer than %ld records\n", want + 1);
      rc = 1;
    }
  } else {
    std::fprintf(stderr, "corrupt_record: unknown mode %s\n", mode.c_str());
    rc = 2;
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  st = db->Close();
  if (!st.ok() && rc == 0) rc = Fail("close", st);
  return rc;
}
