#include "common/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "prometheus/client_metric.h"

namespace nsq::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void AddSample(std::vector<MetricFamily>* out, const char* name, const char* help,
              MetricType type, double value) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  out->push_back(std::move(f));
}

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The btime line of /proc/stat: when the machine booted, Unix seconds.
std::optional<double> BootTime() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double v = 0;
      if (absl::SimpleAtod(line, &v)) return v;
    }
  }
  return std::nullopt;
}

// Entries of /proc/self/fd (the directory's own descriptor included, as client_golang
// counts it).
std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(absl::string_view stat, double ticks_per_second,
                                      double page_size_bytes, double boot_time_seconds) {
  // "pid (comm) state ppid ...": fields after the last ')' start at field 3 (state).
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<absl::string_view> f =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  // f[0] is field 3; field n is f[n - 3]. utime 14, stime 15, starttime 22, vsize 23, rss 24.
  if (f.size() < 22) return std::nullopt;
  double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0;
  if (!absl::SimpleAtod(f[11], &utime) || !absl::SimpleAtod(f[12], &stime) ||
      !absl::SimpleAtod(f[19], &start) || !absl::SimpleAtod(f[20], &vsize) ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(f[21]), &rss)) {
    return std::nullopt;
  }
  ProcStat s;
  s.cpu_seconds = (utime + stime) / ticks_per_second;
  s.start_time_seconds = boot_time_seconds + start / ticks_per_second;
  s.virtual_memory_bytes = vsize;
  s.resident_memory_bytes = rss * page_size_bytes;
  return s;
}

std::vector<MetricFamily> ProcessMetrics::Collect() const {
  std::vector<MetricFamily> out;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  std::optional<double> boot = BootTime();
  if (stat && boot) {
    if (std::optional<ProcStat> s = ParseProcStat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                                                  static_cast<double>(sysconf(_SC_PAGESIZE)), *boot)) {
      AddSample(&out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", C,
               s->cpu_seconds);
      AddSample(&out, "process_resident_memory_bytes", "Resident memory size in bytes.", G,
               s->resident_memory_bytes);
      AddSample(&out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", G,
               s->virtual_memory_bytes);
      AddSample(&out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
               G, s->start_time_seconds);
    }
  }
  if (std::optional<double> fds = OpenFds()) {
    AddSample(&out, "process_open_fds", "Number of open file descriptors.", G, *fds);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    // RLIM_INFINITY is reported as it is, a very large number (client_golang does the same).
    AddSample(&out, "process_max_fds", "Maximum number of open file descriptors.", G,
             static_cast<double>(limit.rlim_cur));
  }
  return out;
}

std::shared_ptr<prometheus::Collectable> ProcessCollectable() {
  static const auto* const instance = new std::shared_ptr<ProcessMetrics>(std::make_shared<ProcessMetrics>());
  return *instance;
}

}  // namespace nsq::metrics
