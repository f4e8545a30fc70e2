// RocksDB's CRC-32C, computed by ours. Debian's librocksdb is a portable build: its
// crc32c::Extend runs a table loop (no SSE4.2 instruction), and the write-ahead log's
// record checksums, which cannot be switched off or changed, go through it: ~20% of the
// broker's CPU with a backlog of 1 KiB messages. The library calls it through its PLT, so
// this definition in the executable is the one every call reaches (the dynamic linker
// looks in the executable first). The same function (standard CRC-32C, extended the same
// way), so files written by either read with the other; SSE4.2 where the CPU has it.
// rocksdb_crc32c_test checks both directions against a plain RocksDB build.
#include <cstddef>
#include <cstdint>

#include "common/crc32c/crc32c.h"

namespace rocksdb::crc32c {

uint32_t Extend(uint32_t init_crc, const char* data, size_t n);

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  return nsq::Crc32c(init_crc, data, n);
}

}  // namespace rocksdb::crc32c
