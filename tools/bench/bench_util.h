#pragma once

// What v2_bench and grpc_bench share: the send time carried in a --rate body, the
// latency report line compare.sh parses, and the names of a fan-out's topics/channels.

#include <cstdint>
#include <string>
#include <vector>

namespace nsq::bench {

// CLOCK_MONOTONIC in ns: the time stamp in a --rate body. Subscribers in this process (or
// on this host) compare it with their own clock.
int64_t NowNs();

// Writes NowNs() into the first 8 bytes of `body` (host order); bodies under 8 bytes
// are left alone.
void StampBody(char* body, size_t size);
// The stamp of a received body, or -1 when it is under 8 bytes.
int64_t BodyStamp(const char* body, size_t size);

// Prints `latency: N samples, p50 .. us, p99 .. us, p999 .. us, max .. us` (sorts
// `samples`, in ns), or `latency: no samples`.
void ReportLatency(std::vector<int64_t>* samples);

// `base` when `count` is 1, else `base`_i: the topics and channels of a fan-out run.
std::string FanoutName(const std::string& base, int64_t count, int64_t i);

}  // namespace nsq::bench
