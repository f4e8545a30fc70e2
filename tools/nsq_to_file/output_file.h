#pragma once

// One topic's output file for nsq_to_file, without threads or a consumer: appends
// newline-terminated bodies (optionally gzip), syncs (a gzip member ends at each sync,
// then fsync), rotates by name (<DATETIME>), size and age, and moves a finished file from
// the work dir to the output dir without overwriting (<REV> is bumped). On an I/O error
// Abort() cuts the file back to what the last sync made durable, so the caller can
// requeue exactly the messages written since.

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace nsq::tools {

// The file system calls OutputFile makes, replaceable by a test that fails some of them.
class FileIo {
 public:
  virtual ~FileIo() = default;
  virtual int Open(const std::string& path, int flags, int mode);
  virtual ssize_t Write(int fd, const char* data, size_t n);
  virtual int Fsync(int fd);
  virtual int Ftruncate(int fd, off_t size);
  virtual int Close(int fd);
  static FileIo* Default();
};

struct FileOptions {
  std::string output_dir = "/tmp";
  std::string work_dir;  // "" = output_dir
  std::string datetime_format = "%Y-%m-%d_%H";
  std::string filename_format = "<TOPIC>.<HOST><REV>.<DATETIME>.log";
  std::string host_identifier;  // "" = short hostname; <SHORT_HOST>, <HOSTNAME> replaced
  bool gzip = false;
  int gzip_level = 6;
  bool skip_empty_files = false;
  int64_t rotate_size = 0;  // bytes; 0 = never
  absl::Duration rotate_interval = absl::ZeroDuration();  // 0 = never
};

// The file name template for `topic` with everything but <DATETIME> and <REV> replaced
// (<REV> is removed when nothing can need it); InvalidArgument when <REV> is required
// (gzip, rotation or a separate work dir) but missing.
absl::StatusOr<std::string> ComputeFilenameFormat(const FileOptions& o, const std::string& topic);

class OutputFile {
 public:
  OutputFile(FileOptions options, std::string filename_format, FileIo* io = FileIo::Default());
  ~OutputFile();  // Closes (syncs and moves) if still open.
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Whether the next Append at `now` goes to another file (none open counts as no).
  bool NeedsRotation(absl::Time now) const;
  // Adds body + '\n', opening a file first if none is open. Buffered: only Sync()
  // makes it durable.
  absl::Status Append(std::string_view body, absl::Time now);
  // Everything appended so far is on disk and fsynced (for gzip in a complete member).
  absl::Status Sync();
  // After a failed Append/Sync: drops what was not synced and cuts the file back to its
  // last synced size.
  void Abort();
  // Sync(), close, and move to the output dir (an empty file is removed with
  // skip_empty_files). A no-op without an open file.
  absl::Status Close();

  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }
  int64_t files_closed() const { return files_closed_; }

 private:
  absl::Status Open(absl::Time now);
  absl::Status WriteOut(bool all);
  std::string CurrentName(absl::Time now) const;
  absl::Status Fail(std::string_view what, int err);

  const FileOptions options_;
  const std::string work_dir_;
  const std::string format_;
  FileIo* const io_;
  int fd_ = -1;
  std::string name_;  // CurrentName() when opened
  std::string path_;  // in the work dir, <REV> resolved
  int rev_ = 0;
  absl::Time opened_;
  int64_t synced_size_ = 0;   // bytes of the file known durable
  int64_t written_size_ = 0;  // bytes written to the fd
  std::string buffer_;        // bytes not yet written (compressed when gzip)
  z_stream zs_{};
  bool zs_ready_ = false;
  bool member_open_ = false;  // gzip: input since the member began
  int64_t files_closed_ = 0;
};

}  // namespace nsq::tools
