#include "tools/nsq_to_file/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/match.h"

namespace nsq::tools {
namespace {

constexpr size_t kWriteChunk = 1 << 20;

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status MakeParentDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return absl::UnavailableError(absl::StrCat("mkdir for ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string Rev(int rev) { return absl::StrFormat("-%06d", rev); }

}  // namespace

int FileIo::Open(const std::string& path, int flags, int mode) { return ::open(path.c_str(), flags, mode); }
ssize_t FileIo::Write(int fd, const char* data, size_t n) { return ::write(fd, data, n); }
int FileIo::Fsync(int fd) { return ::fsync(fd); }
int FileIo::Ftruncate(int fd, off_t size) { return ::ftruncate(fd, size); }
int FileIo::Close(int fd) { return ::close(fd); }
FileIo* FileIo::Default() {
  static FileIo* io = new FileIo();
  return io;
}

absl::StatusOr<std::string> ComputeFilenameFormat(const FileOptions& o, const std::string& topic) {
  const std::string hostname = Hostname();
  const std::string short_host = hostname.substr(0, hostname.find('.'));
  std::string identifier = short_host;
  if (!o.host_identifier.empty()) {
    identifier = absl::StrReplaceAll(o.host_identifier, {{"<SHORT_HOST>", short_host}, {"<HOSTNAME>", hostname}});
  }
  std::string f = o.filename_format;
  const std::string work = o.work_dir.empty() ? o.output_dir : o.work_dir;
  if (o.gzip || o.rotate_size > 0 || o.rotate_interval > absl::ZeroDuration() || work != o.output_dir) {
    if (!absl::StrContains(f, "<REV>")) {
      return absl::InvalidArgumentError(
          "--filename-format: missing <REV> in --filename-format when gzip, rotation, or work dir enabled");
    }
  } else {
    f = absl::StrReplaceAll(f, {{"<REV>", ""}});
  }
  f = absl::StrReplaceAll(f, {{"<TOPIC>", topic}, {"<HOST>", identifier}, {"<PID>", std::to_string(getpid())}});
  if (o.gzip && !absl::EndsWith(f, ".gz")) f += ".gz";
  return f;
}

OutputFile::OutputFile(FileOptions options, std::string filename_format, FileIo* io)
    : options_(std::move(options)),
      work_dir_(options_.work_dir.empty() ? options_.output_dir : options_.work_dir),
      format_(std::move(filename_format)),
      io_(io) {}

OutputFile::~OutputFile() {
  (void)Close();
  if (zs_ready_) deflateEnd(&zs_);
}

std::string OutputFile::CurrentName(absl::Time now) const {
  const time_t t = absl::ToTimeT(now);
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[256];
  const size_t n = std::strftime(buf, sizeof(buf), options_.datetime_format.c_str(), &tm);
  return absl::StrReplaceAll(format_, {{"<DATETIME>", std::string(buf, n)}});
}

bool OutputFile::NeedsRotation(absl::Time now) const {
  if (fd_ < 0) return false;
  if (CurrentName(now) != name_) return true;
  if (options_.rotate_interval > absl::ZeroDuration() && now - opened_ > options_.rotate_interval) return true;
  if (options_.rotate_size > 0 && written_size_ + static_cast<int64_t>(buffer_.size()) > options_.rotate_size) {
    return true;
  }
  return false;
}

absl::Status OutputFile::Fail(std::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat(std::string(what), " ", path_, ": ", std::strerror(err)));
}

absl::Status OutputFile::Open(absl::Time now) {
  const std::string name = CurrentName(now);
  rev_ = name == name_ ? rev_ + 1 : 0;
  name_ = name;
  opened_ = now;
  const std::string full = (std::filesystem::path(work_dir_) / name).string();
  if (auto st = MakeParentDirs(full); !st.ok()) return st;
  const bool exclusive = options_.gzip || options_.rotate_interval > absl::ZeroDuration();
  for (;; ++rev_) {
    const std::string path = absl::StrReplaceAll(full, {{"<REV>", Rev(rev_)}});
    if (work_dir_ != options_.output_dir) {
      const std::string out = (std::filesystem::path(options_.output_dir) / std::filesystem::path(path).lexically_relative(work_dir_)).string();
      if (auto st = MakeParentDirs(out); !st.ok()) return st;
      if (Exists(out)) continue;
    }
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_APPEND);
    const int fd = io_->Open(path, flags, 0666);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      path_ = path;
      return Fail("open", errno);
    }
    struct stat st;
    const int64_t size = ::fstat(fd, &st) == 0 ? st.st_size : 0;
    if (options_.rotate_size > 0 && size > options_.rotate_size) {
      io_->Close(fd);
      continue;
    }
    fd_ = fd;
    path_ = path;
    synced_size_ = written_size_ = size;
    break;
  }
  if (options_.gzip && !zs_ready_) {
    if (deflateInit2(&zs_, options_.gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return absl::InternalError("deflateInit2 failed");
    }
    zs_ready_ = true;
  }
  return absl::OkStatus();
}

absl::Status OutputFile::WriteOut(bool all) {
  size_t off = 0;
  while (off < buffer_.size() && (all || buffer_.size() - off >= kWriteChunk)) {
    const ssize_t n = io_->Write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      buffer_.erase(0, off);
      return Fail("write", n < 0 ? errno : EIO);
    }
    off += static_cast<size_t>(n);
    written_size_ += n;
  }
  buffer_.erase(0, off);
  return absl::OkStatus();
}

absl::Status OutputFile::Append(std::string_view body, absl::Time now) {
  if (fd_ < 0) {
    if (auto st = Open(now); !st.ok()) return st;
  }
  if (options_.gzip) {
    auto feed = [this](std::string_view in) {
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs_.avail_in = static_cast<uInt>(in.size());
      while (zs_.avail_in > 0) {
        char out[16384];
        zs_.next_out = reinterpret_cast<Bytef*>(out);
        zs_.avail_out = sizeof(out);
        deflate(&zs_, Z_NO_FLUSH);
        buffer_.append(out, sizeof(out) - zs_.avail_out);
      }
    };
    feed(body);
    feed("\n");
    member_open_ = true;
  } else {
    buffer_.append(body);
    buffer_ += '\n';
  }
  if (buffer_.size() >= kWriteChunk) return WriteOut(false);
  return absl::OkStatus();
}

absl::Status OutputFile::Sync() {
  if (fd_ < 0) return absl::OkStatus();
  if (options_.gzip && member_open_) {
    // End the member: its trailer (CRC, length) vouches for every line in it.
    int rc;
    do {
      char out[16384];
      zs_.next_in = nullptr;
      zs_.avail_in = 0;
      zs_.next_out = reinterpret_cast<Bytef*>(out);
      zs_.avail_out = sizeof(out);
      rc = deflate(&zs_, Z_FINISH);
      buffer_.append(out, sizeof(out) - zs_.avail_out);
    } while (rc == Z_OK);
    deflateReset(&zs_);
    member_open_ = false;
  }
  if (auto st = WriteOut(true); !st.ok()) return st;
  if (written_size_ == synced_size_) return absl::OkStatus();
  if (io_->Fsync(fd_) != 0) return Fail("fsync", errno);
  synced_size_ = written_size_;
  return absl::OkStatus();
}

void OutputFile::Abort() {
  buffer_.clear();
  if (zs_ready_) deflateReset(&zs_);
  member_open_ = false;
  if (fd_ >= 0 && written_size_ != synced_size_) {
    if (io_->Ftruncate(fd_, synced_size_) == 0) written_size_ = synced_size_;
  }
}

absl::Status OutputFile::Close() {
  if (fd_ < 0) return absl::OkStatus();
  if (auto st = Sync(); !st.ok()) return st;
  const bool empty = synced_size_ == 0;
  io_->Close(fd_);
  fd_ = -1;
  ++files_closed_;
  if (empty && options_.skip_empty_files) {
    ::unlink(path_.c_str());
    return absl::OkStatus();
  }
  if (work_dir_ == options_.output_dir) return absl::OkStatus();
  // Move without overwriting: link() fails on an existing name, then a later <REV>.
  const std::string rel = std::filesystem::path(path_).lexically_relative(work_dir_).string();
  std::string dst = (std::filesystem::path(options_.output_dir) / rel).string();
  const std::string tmpl = (std::filesystem::path(options_.output_dir) / name_).string();
  for (int r = rev_ + 1;; ++r) {
    if (::link(path_.c_str(), dst.c_str()) == 0) break;
    if (errno != EEXIST) return Fail("move to output dir", errno);
    dst = absl::StrReplaceAll(tmpl, {{"<REV>", Rev(r)}});
  }
  ::unlink(path_.c_str());
  return absl::OkStatus();
}

}  // namespace nsq::tools
