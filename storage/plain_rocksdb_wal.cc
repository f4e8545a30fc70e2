// A program linked with librocksdb alone (its own CRC-32C, not rocksdb_crc32c.cc's), for
// rocksdb_crc32c_test: writes a database whose data is only in its write-ahead log, or
// reads one back with every log checksum verified.
//   plain_rocksdb_wal write DIR N   puts keys k0..k(N-1), values v0.., and closes unflushed
//   plain_rocksdb_wal read DIR N    opens DIR (a bad log checksum fails the open) and
//                                   checks the N values; prints "ok N"
//   plain_rocksdb_wal which         prints the file the Extend function comes from
#include <dlfcn.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "storage/wal_test_db.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "which") {
    Dl_info info;
    void* f = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
    if (f == nullptr || dladdr(f, &info) == 0) return 1;
    std::printf("%s\n", info.dli_fname);
    return 0;
  }
  if (argc != 4 || (mode != "write" && mode != "read")) {
    std::fprintf(stderr, "usage: plain_rocksdb_wal (write|read) DIR N | which\n");
    return 2;
  }
  const std::string result = mode == "write"
                                 ? nsq::storage::wal_test::Write(argv[2], std::atoi(argv[3]))
                                 : nsq::storage::wal_test::Read(argv[2], std::atoi(argv[3]));
  std::printf("%s\n", result.c_str());
  return result.rfind("ok", 0) == 0 ? 0 : 1;
}
