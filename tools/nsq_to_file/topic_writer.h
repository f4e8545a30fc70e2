#pragma once

// One topic of nsq_to_file: a consumer whose messages a writer thread appends to the
// topic's OutputFile. A message is FINished only once a sync made it durable (a batch of
// max_in_flight, every sync_interval, or when the consumer is starved); when a write or
// sync fails (a full disk), every message since the last sync is requeued.

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/consumer.h"
#include "tools/nsq_to_file/output_file.h"

namespace nsq::tools {

class TopicWriter {
 public:
  TopicWriter(client::ConsumerOptions consumer, FileOptions file, std::string filename_format,
              absl::Duration sync_interval);
  ~TopicWriter();

  absl::Status Start();
  // SIGHUP: sync and close the file (it moves to the output dir); the next message
  // opens a new one.
  void Reopen();
  // SIGTERM: stop taking messages, write and FIN the in-flight ones, close and move.
  void Stop();

  int64_t written() const;
  int64_t requeued() const;

 private:
  void Run();
  void SyncAndFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(file_mu_);
  void RequeuePending(const absl::Status& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(file_mu_);

  const std::string topic_;
  const size_t batch_;
  const absl::Duration sync_interval_;
  std::unique_ptr<client::Consumer> consumer_;

  mutable absl::Mutex mu_;
  std::deque<client::Message> queue_ ABSL_GUARDED_BY(mu_);
  bool reopen_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  // The writer thread's; the lock only makes the counters readable elsewhere.
  mutable absl::Mutex file_mu_ ABSL_ACQUIRED_AFTER(mu_);
  OutputFile file_ ABSL_GUARDED_BY(file_mu_);
  std::vector<client::Message> pending_ ABSL_GUARDED_BY(file_mu_);  // written, not synced
  int64_t written_ ABSL_GUARDED_BY(file_mu_) = 0;
  int64_t requeued_ ABSL_GUARDED_BY(file_mu_) = 0;
  std::thread thread_;
};

}  // namespace nsq::tools
