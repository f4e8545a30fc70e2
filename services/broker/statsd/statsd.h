#pragma once

// nsqd's statsd push (nsqd/statsd.go): every interval, one UDP burst of
// "<prefix><key>:<value>|c" (counters, the change since the last push) and "|g" (gauges)
// lines, newline-terminated, packed into datagrams of at most --statsd-udp-packet-size
// bytes. Keys are nsqd's, so Graphite dashboards built on nsqd keep working.

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/broker/core/engine.h"

namespace nsq::broker::statsd {

struct StatsdOptions {
  std::string address;                          // UDP host:port of the statsd daemon
  std::string prefix;                           // resolved (ResolvePrefix), "" or ending in '.'
  absl::Duration interval = absl::Seconds(60);  // between pushes; > 0
  bool mem_stats = true;                        // also push the mem.* keys
  int64_t udp_packet_size = 508;                // most bytes per datagram (< 1: a line each)
  bool exclude_ephemeral = false;               // leave #ephemeral topics and channels out
};

// nsqd's prefix: every "%s" becomes <broadcast_address>_<port of http_address> with '.'
// and ':' turned into '_', and a '.' is appended unless it ends with one. "" stays "".
std::string ResolvePrefix(const std::string& prefix, const std::string& broadcast_address,
                          const std::string& http_address);

// Process memory, for the mem.* keys. nsqd sends Go runtime figures; the ones with no
// C++ counterpart (GC pauses, GC runs, next GC) are sent as 0 so the keys still exist.
struct MemStats {
  int64_t heap_in_use_bytes = 0;  // resident set size
};
MemStats ReadMemStats();

// One interval's lines without the trailing newline, in nsqd's order: per topic its
// counters and gauges, then its channels'; then mem.* when `mem_stats`.
std::vector<std::string> FormatLines(const std::vector<TopicStats>& now,
                                     const std::vector<TopicStats>& last,
                                     const StatsdOptions& options, const MemStats* mem);

// Packs lines, each with its '\n', into datagrams no larger than `packet_size`; a line
// longer than that goes alone.
std::vector<std::string> PackDatagrams(const std::vector<std::string>& lines,
                                       int64_t packet_size);

// Pushes the engine's stats to statsd from its own thread. Start() and Stop() are called
// from the owner's thread; PushOnce() may be called from any thread (pushes serialise).
class StatsdPusher {
 public:
  StatsdPusher(const Engine* engine, StatsdOptions options);
  ~StatsdPusher();
  StatsdPusher(const StatsdPusher&) = delete;
  StatsdPusher& operator=(const StatsdPusher&) = delete;

  // Starts the thread: the first push one interval from now, as nsqd's ticker.
  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop();
  // Sends one interval now. A failed send is returned (the thread logs it once per push).
  absl::Status PushOnce() ABSL_LOCKS_EXCLUDED(push_mu_);

 private:
  void Loop();

  const Engine* const engine_;
  const StatsdOptions options_;
  absl::Mutex push_mu_;
  std::vector<TopicStats> last_ ABSL_GUARDED_BY(push_mu_);
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace nsq::broker::statsd
