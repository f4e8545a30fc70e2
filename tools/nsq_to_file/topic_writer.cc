#include "tools/nsq_to_file/topic_writer.h"

#include <utility>

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace nsq::tools {

TopicWriter::TopicWriter(client::ConsumerOptions consumer, FileOptions file, std::string filename_format,
                         absl::Duration sync_interval)
    : topic_(consumer.topic),
      batch_(static_cast<size_t>(std::max<int64_t>(1, consumer.config.max_in_flight))),
      sync_interval_(sync_interval),
      file_(std::move(file), std::move(filename_format)) {
  consumer_ = std::make_unique<client::Consumer>(std::move(consumer), client::Async{[this](client::Message m) {
                                                   absl::MutexLock lock(&mu_);
                                                   queue_.push_back(std::move(m));
                                                 }});
}

TopicWriter::~TopicWriter() { Stop(); }

absl::Status TopicWriter::Start() {
  if (auto st = consumer_->Start(); !st.ok()) return st;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void TopicWriter::Reopen() {
  absl::MutexLock lock(&mu_);
  reopen_ = true;
}

void TopicWriter::Stop() {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;  // sync after every message that arrives now
  }
  consumer_->Stop();  // waits for the in-flight messages to be FINished (or requeues them)
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

int64_t TopicWriter::written() const {
  absl::MutexLock lock(&file_mu_);
  return written_;
}

int64_t TopicWriter::requeued() const {
  absl::MutexLock lock(&file_mu_);
  return requeued_;
}

void TopicWriter::RequeuePending(const absl::Status& why) {
  spdlog::error("[{}] {}: requeueing {} messages", topic_, std::string(why.message()), pending_.size());
  file_.Abort();
  for (const client::Message& m : pending_) m.Requeue();
  requeued_ += static_cast<int64_t>(pending_.size());
  pending_.clear();
}

void TopicWriter::SyncAndFinish() {
  if (pending_.empty()) return;
  if (auto st = file_.Sync(); !st.ok()) {
    RequeuePending(st);
    return;
  }
  client::FinishAll(pending_);
  written_ += static_cast<int64_t>(pending_.size());
  pending_.clear();
}

void TopicWriter::Run() {
  absl::Time next_sync = absl::Now() + sync_interval_;
  for (;;) {
    std::deque<client::Message> batch;
    bool reopen, draining, stop;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || reopen_ || stop_; };
      mu_.AwaitWithDeadline(absl::Condition(&ready), next_sync);
      batch.swap(queue_);
      reopen = std::exchange(reopen_, false);
      draining = draining_;
      stop = stop_;
    }
    absl::MutexLock lock(&file_mu_);
    absl::Time now = absl::Now();
    for (client::Message& m : batch) {
      if (file_.NeedsRotation(now)) {
        SyncAndFinish();
        if (auto st = file_.Close(); !st.ok()) spdlog::error("[{}] closing: {}", topic_, std::string(st.message()));
      }
      if (auto st = file_.Append(m.body, now); !st.ok()) {
        pending_.push_back(std::move(m));
        RequeuePending(st);
        continue;
      }
      pending_.push_back(std::move(m));
      if (pending_.size() >= batch_) SyncAndFinish();
    }
    now = absl::Now();
    const bool tick = now >= next_sync;
    if (tick) next_sync = now + sync_interval_;
    if (tick || draining || reopen || stop || consumer_->IsStarved()) SyncAndFinish();
    if ((tick && file_.NeedsRotation(now)) || reopen || stop) {
      if (auto st = file_.Close(); !st.ok()) spdlog::error("[{}] closing: {}", topic_, std::string(st.message()));
    }
    if (stop) {
      absl::MutexLock qlock(&mu_);
      if (queue_.empty()) return;
    }
  }
}

}  // namespace nsq::tools
