#include "services/admin/notify.h"

#include "absl/strings/match.h"
#include "common/http/client.h"
#include "common/json/go_json.h"

namespace nsq::admin {

std::string NotificationJson(const AdminAction& a) {
  json::GoJsonWriter w;
  w.BeginObject();
  w.Key("action").String(a.action);
  w.Key("topic").String(a.topic);
  if (!a.channel.empty()) w.Key("channel").String(a.channel);
  if (!a.node.empty()) w.Key("node").String(a.node);
  w.Key("timestamp").Int(a.timestamp);
  if (!a.user.empty()) w.Key("user").String(a.user);
  w.Key("remote_ip").String(a.remote_ip);
  w.Key("user_agent").String(a.user_agent);
  w.Key("url").String(a.url);
  w.Key("via").String(a.via);
  w.EndObject();
  return w.Release();
}

Notifier::Notifier(std::string endpoint, absl::Duration timeout, size_t max_queue)
    : timeout_(timeout), max_queue_(max_queue) {
  if (endpoint.empty()) return;
  std::string rest = endpoint;
  if (absl::StartsWith(rest, "http://")) rest = rest.substr(7);
  size_t slash = rest.find('/');
  host_port_ = rest.substr(0, slash);
  target_ = slash == std::string::npos ? "/" : rest.substr(slash);
  if (host_port_.find(':') == std::string::npos) host_port_ += ":80";
  thread_ = std::thread([this] { Loop(); });
}

Notifier::~Notifier() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Notifier::Notify(const AdminAction& action) {
  if (!enabled()) return;
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= max_queue_) {
    failed_++;
    return;
  }
  queue_.push_back(NotificationJson(action));
}

int64_t Notifier::sent() const {
  absl::MutexLock lock(&mu_);
  return sent_;
}

int64_t Notifier::failed() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

void Notifier::Loop() {
  while (true) {
    std::string body;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    auto resp = http::HttpRequest("POST", host_port_, target_, body,
                                  {{"Content-Type", "application/json"}}, timeout_);
    absl::MutexLock lock(&mu_);
    if (resp.ok() && resp->status / 100 == 2) {
      sent_++;
    } else {
      failed_++;
    }
  }
}

}  // namespace nsq::admin
