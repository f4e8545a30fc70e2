// rocksdb_crc32c.cc takes the place of librocksdb's CRC-32C: every call the library makes
// reaches ours, ours is the same function (standard vectors, extension), and logs written
// by either implementation read with the other (plain_rocksdb_wal uses the library's own).
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crc32c/crc32c.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/wal_test_db.h"

namespace rocksdb::crc32c {
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
}

namespace nsq::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string RunPlain(const std::string& args) {
  const std::string cmd = absl::StrCat(std::getenv("PLAIN_ROCKSDB_WAL"), " ", args, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  if (p != nullptr) pclose(p);
  return out;
}

std::string NewDir(const char* name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", name);
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(RocksCrc32cTest, TheLibrarysCallsReachOurs) {
  void* f = dlsym(RTLD_DEFAULT, "_ZN7rocksdb6crc32c6ExtendEjPKcm");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f, reinterpret_cast<void*>(&rocksdb::crc32c::Extend));
  Dl_info info;
  ASSERT_NE(dladdr(f, &info), 0);
  EXPECT_THAT(std::string(info.dli_fname), ::testing::Not(HasSubstr("librocksdb")));
  // And the plain program's come from the library (the comparison below means something).
  EXPECT_THAT(RunPlain("which"), HasSubstr("librocksdb"));
}

TEST(RocksCrc32cTest, ItIsStandardCrc32cExtendedAsRocksDbExtendsIt) {
  // RFC 3720 (iSCSI) vectors, the ones RocksDB's own crc32c test uses.
  char buf[32];
  std::fill(buf, buf + 32, 0);
  EXPECT_EQ(rocksdb::crc32c::Extend(0, buf, 32), 0x8a9136aau);
  std::fill(buf, buf + 32, static_cast<char>(0xff));
  EXPECT_EQ(rocksdb::crc32c::Extend(0, buf, 32), 0x62a8ab43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(i);
  EXPECT_EQ(rocksdb::crc32c::Extend(0, buf, 32), 0x46dd794eu);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<char>(31 - i);
  EXPECT_EQ(rocksdb::crc32c::Extend(0, buf, 32), 0x113fdb5cu);
  const std::string hello = "hello world";
  EXPECT_EQ(rocksdb::crc32c::Extend(rocksdb::crc32c::Extend(0, hello.data(), 5), hello.data() + 5, 6),
            rocksdb::crc32c::Extend(0, hello.data(), hello.size()));
  // Every length and alignment agrees with the table implementation.
  std::string data(300, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  for (size_t off = 0; off < 9; ++off) {
    for (size_t n = 0; off + n <= data.size(); n += 13) {
      ASSERT_EQ(rocksdb::crc32c::Extend(0x1234, data.data() + off, n),
                crc32c_internal::Software(0x1234, data.data() + off, n)) << off << " " << n;
    }
  }
}

TEST(RocksCrc32cTest, ALogWrittenByThePlainLibraryReadsHereAndTheOtherWayRound) {
  const std::string theirs = NewDir("theirs");
  ASSERT_THAT(RunPlain(absl::StrCat("write ", theirs, " 2000")), StartsWith("ok 2000"));
  EXPECT_EQ(wal_test::Read(theirs, 2000), "ok 2000");

  const std::string ours = NewDir("ours");
  ASSERT_EQ(wal_test::Write(ours, 2000), "ok 2000");
  EXPECT_THAT(RunPlain(absl::StrCat("read ", ours, " 2000")), StartsWith("ok 2000"));
}

TEST(RocksCrc32cTest, ADamagedLogStillFailsItsChecksum) {
  const std::string dir = NewDir("damaged");
  ASSERT_EQ(wal_test::Write(dir, 200), "ok 200");
  std::string log;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".log") log = e.path().string();
  }
  ASSERT_FALSE(log.empty());
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(log) / 2));
    f.put('\x5a');
  }
  EXPECT_THAT(wal_test::Read(dir, 200), HasSubstr("orruption"));
  EXPECT_THAT(RunPlain(absl::StrCat("read ", dir, " 200")), HasSubstr("orruption"));
}

}  // namespace
}  // namespace nsq::storage
