#include "tools/bench/bench_util.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace nsq::bench {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void StampBody(char* body, size_t size) {
  if (size < sizeof(int64_t)) return;
  const int64_t now = NowNs();
  std::memcpy(body, &now, sizeof(now));
}

int64_t BodyStamp(const char* body, size_t size) {
  if (size < sizeof(int64_t)) return -1;
  int64_t sent;
  std::memcpy(&sent, body, sizeof(sent));
  return sent;
}

void ReportLatency(std::vector<int64_t>* samples) {
  if (samples->empty()) {
    std::printf("latency: no samples\n");
    std::fflush(stdout);
    return;
  }
  std::sort(samples->begin(), samples->end());
  auto at = [&](double q) {
    const size_t i = std::min(samples->size() - 1, static_cast<size_t>(q * samples->size()));
    return static_cast<double>((*samples)[i]) / 1000.0;
  };
  std::printf("latency: %zu samples, p50 %.0f us, p99 %.0f us, p999 %.0f us, max %.0f us\n",
              samples->size(), at(0.5), at(0.99), at(0.999),
              static_cast<double>(samples->back()) / 1000.0);
  std::fflush(stdout);
}

std::string FanoutName(const std::string& base, int64_t count, int64_t i) {
  return count == 1 ? base : absl::StrCat(base, "_", i);
}

}  // namespace nsq::bench
