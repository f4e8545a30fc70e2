#include "services/admin/admin_metrics.h"

#include "prometheus/client_metric.h"
#include "services/admin/cluster.h"
#include "services/admin/history.h"
#include "services/admin/notify.h"

namespace nsq::admin {
namespace {

prometheus::MetricFamily One(std::string name, std::string help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

void AdminMetrics::RecordAction(const std::string& action, const std::string& result) {
  absl::MutexLock lock(&mu_);
  actions_[{action, result}]++;
}

std::vector<prometheus::MetricFamily> AdminMetrics::Collect() const {
  using prometheus::MetricType;
  const PollStats polls = cluster_->poll_stats();
  std::vector<prometheus::MetricFamily> out = {
      One("nsq_admin_polls_total", "Stats polls of the whole cluster", MetricType::Counter,
          static_cast<double>(polls.polls)),
      One("nsq_admin_upstream_errors_total", "Failed upstream calls during polls (discovery or broker)",
          MetricType::Counter, static_cast<double>(polls.upstream_errors)),
      One("nsq_admin_poll_duration_seconds", "Duration of the last poll", MetricType::Gauge,
          absl::ToDoubleSeconds(polls.last_poll_duration)),
      One("nsq_admin_history_series", "Series kept in the history ring buffers", MetricType::Gauge,
          static_cast<double>(history_->series_count())),
      One("nsq_admin_history_dropped_series_total", "Series not kept because the bound was reached",
          MetricType::Counter, static_cast<double>(history_->dropped_series())),
      One("nsq_admin_notifications_sent_total", "Action notifications delivered", MetricType::Counter,
          static_cast<double>(notifier_->sent())),
      One("nsq_admin_notifications_failed_total", "Action notifications failed or dropped",
          MetricType::Counter, static_cast<double>(notifier_->failed())),
  };
  prometheus::MetricFamily actions;
  actions.name = "nsq_admin_actions_total";
  actions.help = "Admin actions by action and result";
  actions.type = MetricType::Counter;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, count] : actions_) {
      prometheus::ClientMetric m;
      m.label = {{"action", key.first}, {"result", key.second}};
      m.counter.value = static_cast<double>(count);
      actions.metric.push_back(std::move(m));
    }
  }
  out.push_back(std::move(actions));
  return out;
}

}  // namespace nsq::admin
