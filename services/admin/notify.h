#pragma once

// nsqadmin's admin-action notifications (--notification-http-endpoint): one JSON POST per
// action, sent by a background thread from a bounded queue so that a slow or dead
// endpoint never delays an action (past the bound, notifications are dropped and counted).

#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace nsq::admin {

struct AdminAction {
  std::string action;  // create_topic, delete_channel, pause_topic, tombstone_topic_producer, ...
  std::string topic;
  std::string channel;  // omitted when empty
  std::string node;     // omitted when empty
  int64_t timestamp = 0;  // unix seconds
  std::string user;     // omitted when empty
  std::string remote_ip;
  std::string user_agent;
  std::string url;
  std::string via;  // this admin's hostname
};

// nsqadmin's notification body, keys in its order.
std::string NotificationJson(const AdminAction& action);

class Notifier {
 public:
  // `endpoint`: "http://host:port/path?query" ("" disables).
  Notifier(std::string endpoint, absl::Duration timeout, size_t max_queue = 1000);
  ~Notifier();  // Sends what is queued (bounded by the timeout each), then stops.

  bool enabled() const { return !host_port_.empty(); }
  void Notify(const AdminAction& action) ABSL_LOCKS_EXCLUDED(mu_);
  int64_t sent() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t failed() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop();

  std::string host_port_;
  std::string target_;
  const absl::Duration timeout_;
  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace nsq::admin
