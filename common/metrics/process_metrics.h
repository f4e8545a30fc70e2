#pragma once

// The standard Prometheus process metrics (the names of client_golang's process
// collector, so existing dashboards and alerts work): CPU time, resident and virtual
// memory, open and maximum file descriptors, start time. Read from /proc/self at scrape
// time; nothing is kept between scrapes.

#include <memory>
#include <optional>
#include "absl/strings/string_view.h"
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace nsq::metrics {

// What /proc/<pid>/stat says, in base units.
struct ProcStat {
  double cpu_seconds = 0;           // utime + stime
  double start_time_seconds = 0;    // Unix seconds
  double virtual_memory_bytes = 0;  // vsize
  double resident_memory_bytes = 0; // rss pages x page size
};

// Parses the one line of /proc/<pid>/stat (the command name in parentheses may hold
// spaces and parentheses). `ticks_per_second` is sysconf(_SC_CLK_TCK), `boot_time` the
// btime line of /proc/stat. nullopt on a line with too few fields.
std::optional<ProcStat> ParseProcStat(absl::string_view stat, double ticks_per_second,
                                      double page_size_bytes, double boot_time_seconds);

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds. A value that cannot be
// read is left out (and the rest still reported). Thread-safe (no state).
class ProcessMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// The process's one instance, for every service's /metrics.
std::shared_ptr<prometheus::Collectable> ProcessCollectable();

}  // namespace nsq::metrics
