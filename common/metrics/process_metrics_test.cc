#include "common/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <map>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::metrics {
namespace {

using ::testing::HasSubstr;

// name -> value of every family with one sample.
std::map<std::string, double> Values() {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : ProcessMetrics().Collect()) {
    EXPECT_EQ(f.metric.size(), 1u) << f.name;
    if (f.metric.empty()) continue;
    out[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                            : f.metric[0].gauge.value;
  }
  return out;
}

TEST(ParseProcStatTest, ReadsTimesAndMemoryAfterACommandWithSpacesAndParentheses) {
  // Fields 1-24 of proc(5): utime 250 ticks, stime 50, starttime 1000, vsize, rss 300 pages.
  const std::string line =
      "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 "
      "123456789 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
  std::optional<ProcStat> s = ParseProcStat(line, 100, 4096, 1.7e9);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1.7e9 + 10);
  EXPECT_DOUBLE_EQ(s->virtual_memory_bytes, 123456789);
  EXPECT_DOUBLE_EQ(s->resident_memory_bytes, 300 * 4096.0);
}

TEST(ParseProcStatTest, RejectsATruncatedLine) {
  EXPECT_FALSE(ParseProcStat("4242 (cmd) S 1 2 3", 100, 4096, 0).has_value());
  EXPECT_FALSE(ParseProcStat("no parenthesis at all", 100, 4096, 0).has_value());
}

TEST(ProcessMetricsTest, ReportsEveryStandardNameForThisProcess) {
  std::map<std::string, double> v = Values();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    EXPECT_TRUE(v.count(name)) << name;
  }
  EXPECT_GT(v["process_resident_memory_bytes"], 0);
  EXPECT_GE(v["process_virtual_memory_bytes"], v["process_resident_memory_bytes"]);
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(v["process_max_fds"], static_cast<double>(limit.rlim_cur));
  // The process started before this test ran, and after the machine booted.
  EXPECT_LE(v["process_start_time_seconds"], absl::ToUnixSeconds(absl::Now()) + 1);
  EXPECT_GT(v["process_start_time_seconds"], 1e9);
}

TEST(ProcessMetricsTest, OpenFdsCountsDescriptorsOpenedAndClosed) {
  const double before = Values()["process_open_fds"];
  int fds[2][2];
  ASSERT_EQ(pipe(fds[0]), 0);
  ASSERT_EQ(pipe(fds[1]), 0);
  EXPECT_EQ(Values()["process_open_fds"], before + 4);
  for (auto& p : fds) {
    close(p[0]);
    close(p[1]);
  }
  EXPECT_EQ(Values()["process_open_fds"], before);
}

TEST(ProcessMetricsTest, CpuSecondsGrowWithWork) {
  const double before = Values()["process_cpu_seconds_total"];
  // Spin until the kernel has charged at least one more tick (bounded: 10^10 iterations).
  volatile uint64_t sink = 0;
  double after = before;
  for (uint64_t i = 0; i < 10'000'000'000ULL && after <= before; ++i) {
    sink = sink + i;
    if (i % 1'000'000 == 0) after = Values()["process_cpu_seconds_total"];
  }
  EXPECT_GT(after, before);
}

TEST(ProcessMetricsTest, IsOneSharedInstanceRenderedAsText) {
  EXPECT_EQ(ProcessCollectable().get(), ProcessCollectable().get());
  const std::string text = SerializeText(std::vector<std::shared_ptr<prometheus::Collectable>>{ProcessCollectable()});
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_open_fds gauge\n"));
}

}  // namespace
}  // namespace nsq::metrics
