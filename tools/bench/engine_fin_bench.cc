// The engine alone, one thread: publish a batch, take its delivery, FIN it with one
// FinishBatch, over and over. It isolates what channel features cost on the data path
// (policy checks at dispatch, e2e latency recorded at FIN) from gRPC and the machine's
// other load: it reports this thread's CPU time per message, for three configurations
// interleaved round by round: none (no policy, e2e off), the broker's defaults (the e2e
// Prometheus histogram), all (max_attempts + dead-letter topic, TTL, max_depth, e2e
// histogram and windowed percentiles).
//
//   engine_fin_bench [--messages=2000000] [--batch-size=200] [--rounds=5] [--size=200]

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/flags/flags.h"
#include "common/time/clock.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"

namespace nsq::bench {
namespace {

class IdSink : public broker::DeliverySink {
 public:
  void Deliver(std::vector<broker::Delivery>& batch) override {
    for (const auto& d : batch) ids.push_back(d.message->id);
  }
  void Closed(const absl::Status&) override {}
  std::vector<broker::MessageId> ids;
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Config {
  const char* name;
  bool e2e_histogram;
  bool percentiles;
  bool policy;
  std::vector<double> ns_per_msg;
};

// ns of this thread's CPU per message published, delivered and finished.
double RunOnce(const Config& c, int64_t messages, int batch_size, int size) {
  broker::EngineOptions o;
  o.record_e2e_latency = c.e2e_histogram;
  if (c.percentiles) o.e2e_percentiles = {1.0, 0.99, 0.95};
  broker::MemoryStorage storage;
  broker::Engine engine(o, RealClock::Get(), &storage);
  if (!engine.Start().ok()) return -1;
  if (c.policy) {
    broker::QueuePolicy p;
    p.max_attempts = 5;
    p.dead_letter_topic = "t_dead";
    p.message_ttl = absl::Hours(1);
    p.max_depth = int64_t{1} << 40;
    if (!engine.SetChannelPolicy("t", "c", p).ok()) return -1;
  } else if (!engine.CreateChannel("t", "c").ok()) {
    return -1;
  }
  IdSink sink;
  sink.ids.reserve(batch_size);
  broker::ConsumerInfo info;
  info.client_id = "bench";
  auto consumer = engine.Subscribe("t", "c", info, &sink);
  if (!consumer.ok() || !(*consumer)->SetReady(batch_size).ok()) return -1;
  const std::string body(size, 'x');
  std::vector<std::string_view> bodies(batch_size, body);
  const double start = ThreadCpuSeconds();
  int64_t done = 0;
  int idle = 0;
  while (done < messages) {
    if (!engine.Publish("t", bodies).ok()) return -1;
    if (sink.ids.empty()) {
      engine.ProcessTimers();  // a dispatch left for the timer
      if (++idle > 1000) return -1;
      continue;
    }
    (*consumer)->FinishBatch(sink.ids);
    done += static_cast<int64_t>(sink.ids.size());
    sink.ids.clear();
  }
  const double cpu = ThreadCpuSeconds() - start;
  (*consumer)->Close();
  engine.Shutdown();
  return cpu * 1e9 / static_cast<double>(done);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace
}  // namespace nsq::bench

int main(int argc, char** argv) {
  int64_t messages = 2000000;
  int batch_size = 200, rounds = 5, size = 200;
  nsq::flags::FlagSet flags("engine_fin_bench");
  flags.AddInt64("messages", &messages, "messages per configuration per round");
  flags.AddInt("batch-size", &batch_size, "messages per publish and per FinishBatch");
  flags.AddInt("rounds", &rounds, "rounds (configurations interleaved)");
  flags.AddInt("size", &size, "bytes per body");
  absl::Status status = flags.Parse(argc, argv);
  if (flags.HelpRequested()) {
    std::printf("%s", flags.Usage().c_str());
    return 0;
  }
  if (!status.ok() || messages < 1 || batch_size < 1 || rounds < 1 || size < 1) {
    std::fprintf(stderr, "%s\n%s", std::string(status.message()).c_str(), flags.Usage().c_str());
    return 2;
  }
  using nsq::bench::Config;
  std::vector<Config> configs = {{"none", false, false, false, {}},
                                 {"defaults (e2e histogram)", true, false, false, {}},
                                 {"e2e histogram + percentiles", true, true, false, {}},
                                 {"policy only", false, false, true, {}},
                                 {"all (policy + e2e percentiles)", true, true, true, {}}};
  for (int r = 1; r <= rounds; ++r) {
    for (Config& c : configs) {
      const double ns = nsq::bench::RunOnce(c, messages, batch_size, size);
      if (ns < 0) {
        std::fprintf(stderr, "engine setup failed\n");
        return 1;
      }
      c.ns_per_msg.push_back(ns);
      std::printf("round %d %-32s %8.1f ns cpu/msg\n", r, c.name, ns);
      std::fflush(stdout);
    }
  }
  const double base = nsq::bench::Median(configs[0].ns_per_msg);
  std::printf("\n%-32s %16s %10s\n", "median of rounds", "ns cpu/msg", "vs none");
  for (const Config& c : configs) {
    const double m = nsq::bench::Median(c.ns_per_msg);
    std::printf("%-32s %16.1f %+9.1f%%\n", c.name, m, base > 0 ? (m / base - 1) * 100 : 0);
  }
  return 0;
}
