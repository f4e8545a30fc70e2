#include "tools/nsq_to_file/output_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <zlib.h>

#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace nsq::tools {
namespace {

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Decodes concatenated gzip members; counts them.
std::string Gunzip(const std::string& data, int* members) {
  std::string out;
  *members = 0;
  size_t off = 0;
  while (off < data.size()) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + off));
    zs.avail_in = static_cast<uInt>(data.size() - off);
    int rc;
    do {
      char buf[4096];
      zs.next_out = reinterpret_cast<Bytef*>(buf);
      zs.avail_out = sizeof(buf);
      rc = inflate(&zs, Z_NO_FLUSH);
      out.append(buf, sizeof(buf) - zs.avail_out);
    } while (rc == Z_OK);
    EXPECT_EQ(rc, Z_STREAM_END);
    off = data.size() - zs.avail_in;
    inflateEnd(&zs);
    ++*members;
    if (rc != Z_STREAM_END) break;
  }
  return out;
}

class OutputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    root_ = absl::StrCat(::testing::TempDir(), "/of", ++n, "_", getpid());
    o_.output_dir = root_ + "/out";
    o_.work_dir = root_ + "/work";
    o_.filename_format = "<TOPIC><REV>.<DATETIME>.log";
    o_.datetime_format = "%Y";
  }
  std::string Format(const std::string& topic = "t") { return *ComputeFilenameFormat(o_, topic); }

  std::string root_;
  FileOptions o_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(OutputFileTest, FilenameFormatNeedsRevWithGzipRotationOrWorkDir) {
  o_.filename_format = "<TOPIC>.log";
  EXPECT_FALSE(ComputeFilenameFormat(o_, "t").ok());
  o_.work_dir = o_.output_dir;
  EXPECT_EQ(*ComputeFilenameFormat(o_, "t"), "t.log");
  o_.filename_format = "<TOPIC><REV>.<PID>";
  EXPECT_EQ(*ComputeFilenameFormat(o_, "t"), absl::StrCat("t.", getpid()));
  o_.gzip = true;
  EXPECT_EQ(*ComputeFilenameFormat(o_, "t"), absl::StrCat("t<REV>.", getpid(), ".gz"));
}

TEST_F(OutputFileTest, LinesAreInTheOutputDirOnlyOnceClosed) {
  OutputFile f(o_, Format());
  ASSERT_TRUE(f.Append("a", now_).ok());
  ASSERT_TRUE(f.Append("b", now_).ok());
  ASSERT_TRUE(f.Sync().ok());
  EXPECT_TRUE(List(o_.output_dir).empty());
  EXPECT_EQ(List(o_.work_dir), std::vector<std::string>{"t-000000.2023.log"});
  ASSERT_TRUE(f.Close().ok());
  EXPECT_TRUE(List(o_.work_dir).empty());
  EXPECT_EQ(Read(o_.output_dir + "/t-000000.2023.log"), "a\nb\n");
}

TEST_F(OutputFileTest, EachSyncEndsAGzipMember) {
  o_.gzip = true;
  OutputFile f(o_, Format());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(f.Append(absl::StrCat("line", i), now_).ok());
    ASSERT_TRUE(f.Sync().ok());
  }
  ASSERT_TRUE(f.Sync().ok());  // nothing new: no empty member
  ASSERT_TRUE(f.Close().ok());
  int members = 0;
  EXPECT_EQ(Gunzip(Read(o_.output_dir + "/t-000000.2023.log.gz"), &members), "line0\nline1\nline2\n");
  EXPECT_EQ(members, 3);
}

TEST_F(OutputFileTest, RotatesBySizeIntervalAndNameWithoutOverwriting) {
  o_.rotate_size = 10;
  OutputFile f(o_, Format());
  int files = 0;
  for (int i = 0; i < 6; ++i) {
    if (f.NeedsRotation(now_)) {
      ASSERT_TRUE(f.Close().ok());
      ++files;
    }
    ASSERT_TRUE(f.Append("12345", now_).ok());  // 6 bytes with the newline
  }
  ASSERT_TRUE(f.Close().ok());
  EXPECT_EQ(List(o_.output_dir), (std::vector<std::string>{"t-000000.2023.log", "t-000001.2023.log",
                                                           "t-000002.2023.log"}));
  // A new run with the same names does not overwrite: it takes the next revision.
  OutputFile g(o_, Format());
  ASSERT_TRUE(g.Append("again", now_).ok());
  ASSERT_TRUE(g.Close().ok());
  EXPECT_EQ(List(o_.output_dir).size(), 4u);
  EXPECT_EQ(Read(o_.output_dir + "/t-000003.2023.log"), "again\n");
  // A new <DATETIME> is a new file.
  OutputFile h(o_, Format());
  ASSERT_TRUE(h.Append("x", now_).ok());
  EXPECT_TRUE(h.NeedsRotation(now_ + absl::Hours(24 * 400)));
}

// Fails every write after the first `ok_writes`, like a full disk.
class FullDisk : public FileIo {
 public:
  explicit FullDisk(int ok_writes) : left_(ok_writes) {}
  ssize_t Write(int fd, const char* data, size_t n) override {
    if (left_-- <= 0) {
      errno = ENOSPC;
      return -1;
    }
    return FileIo::Write(fd, data, n);
  }
  int left_;
};

TEST_F(OutputFileTest, AbortAfterAFailedSyncCutsTheFileBackToTheLastSync) {
  FullDisk disk(1);
  OutputFile f(o_, Format(), &disk);
  ASSERT_TRUE(f.Append("kept", now_).ok());
  ASSERT_TRUE(f.Sync().ok());
  ASSERT_TRUE(f.Append("lost", now_).ok());
  absl::Status st = f.Sync();
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_NE(st.message().find("No space"), absl::string_view::npos) << st;
  f.Abort();
  disk.left_ = 100;  // space again
  ASSERT_TRUE(f.Append("retried", now_).ok());
  ASSERT_TRUE(f.Close().ok());
  EXPECT_EQ(Read(o_.output_dir + "/t-000000.2023.log"), "kept\nretried\n");
}

TEST_F(OutputFileTest, SkipEmptyFilesRemovesAFileWithNothingSynced) {
  o_.skip_empty_files = true;
  FullDisk disk(0);
  OutputFile f(o_, Format(), &disk);
  ASSERT_TRUE(f.Append("x", now_).ok());
  EXPECT_FALSE(f.Sync().ok());
  f.Abort();
  ASSERT_TRUE(f.Close().ok());
  EXPECT_TRUE(List(o_.output_dir).empty());
  EXPECT_TRUE(List(o_.work_dir).empty());
}

}  // namespace
}  // namespace nsq::tools
