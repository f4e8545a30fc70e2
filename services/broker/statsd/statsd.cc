#include "services/broker/statsd/statsd.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/net/host_port.h"
#include "spdlog/spdlog.h"

namespace nsq::broker::statsd {
namespace {

// Line helpers, so each key reads as nsqd's.
void Counter(std::vector<std::string>* out, const std::string& prefix, const std::string& key,
             uint64_t now, uint64_t last) {
  // nsqd sends now - last; a topic deleted and made again restarts at its own count.
  const uint64_t delta = now >= last ? now - last : now;
  out->push_back(absl::StrCat(prefix, key, ":", static_cast<int64_t>(delta), "|c"));
}

void Gauge(std::vector<std::string>* out, const std::string& prefix, const std::string& key,
           int64_t value) {
  out->push_back(absl::StrCat(prefix, key, ":", value, "|g"));
}

// nsqd: "<key>.e2e_processing_latency_<%.0f of quantile*100>" per configured percentile.
void E2eGauges(std::vector<std::string>* out, const std::string& prefix, const std::string& key,
               const E2eLatencyStats& e2e) {
  for (const E2ePercentile& q : e2e.percentiles) {
    Gauge(out, prefix, absl::StrFormat("%s.e2e_processing_latency_%.0f", key, q.quantile * 100.0),
          static_cast<int64_t>(q.value_ns));
  }
}

const TopicStats* FindTopic(const std::vector<TopicStats>& stats, const std::string& name) {
  for (const TopicStats& t : stats) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const ChannelStats* FindChannel(const TopicStats* topic, const std::string& name) {
  if (topic == nullptr) return nullptr;
  for (const ChannelStats& c : topic->channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

absl::Status SendDatagrams(const std::string& address, const std::vector<std::string>& packets) {
  std::optional<net::HostPort> hp = net::ParseHostPort(address);
  if (!hp) return absl::InvalidArgumentError(absl::StrCat("bad statsd address ", address));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string host = hp->host.empty() ? "127.0.0.1" : hp->host;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(hp->port).c_str(), &hints, &res);
      rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", address, ": ", gai_strerror(rc)));
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return absl::UnavailableError(
        absl::StrCat("failed to create UDP socket to statsd(", address, "): ", strerror(err)));
  }
  freeaddrinfo(res);
  absl::Status status;
  for (const std::string& p : packets) {
    // A refused datagram (nobody listening) is reported, and the rest still go.
    if (send(fd, p.data(), p.size(), 0) < 0 && status.ok()) {
      status = absl::UnavailableError(
          absl::StrCat("sending to statsd(", address, "): ", strerror(errno)));
    }
  }
  close(fd);
  return status;
}

}  // namespace

std::string ResolvePrefix(const std::string& prefix, const std::string& broadcast_address,
                          const std::string& http_address) {
  if (prefix.empty()) return "";
  std::string port;
  if (size_t colon = http_address.rfind(':'); colon != std::string::npos) {
    port = http_address.substr(colon + 1);
  }
  // nsqd: statsd.HostKey(net.JoinHostPort(broadcast_address, port)).
  const std::string joined =
      broadcast_address.find(':') != std::string::npos
          ? absl::StrCat("[", broadcast_address, "]:", port)
          : absl::StrCat(broadcast_address, ":", port);
  const std::string host_key = absl::StrReplaceAll(joined, {{".", "_"}, {":", "_"}});
  std::string out = absl::StrReplaceAll(prefix, {{"%s", host_key}});
  if (out.back() != '.') out.push_back('.');
  return out;
}

MemStats ReadMemStats() {
  MemStats m;
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    m.heap_in_use_bytes = resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  }
  return m;
}

std::vector<std::string> FormatLines(const std::vector<TopicStats>& now,
                                     const std::vector<TopicStats>& last,
                                     const StatsdOptions& options, const MemStats* mem) {
  std::vector<std::string> out;
  const std::string& p = options.prefix;
  for (const TopicStats& topic : now) {
    if (options.exclude_ephemeral && topic.ephemeral) continue;
    const TopicStats* before = FindTopic(last, topic.name);
    const std::string t = absl::StrCat("topic.", topic.name);
    Counter(&out, p, t + ".message_count", topic.message_count, before ? before->message_count : 0);
    Counter(&out, p, t + ".message_bytes", topic.message_bytes, before ? before->message_bytes : 0);
    Gauge(&out, p, t + ".depth", topic.depth);
    Gauge(&out, p, t + ".backend_depth", topic.backend_depth);
    E2eGauges(&out, p, t, topic.e2e);
    for (const ChannelStats& channel : topic.channels) {
      if (options.exclude_ephemeral && channel.ephemeral) continue;
      const ChannelStats* was = FindChannel(before, channel.name);
      const std::string c = absl::StrCat(t, ".channel.", channel.name);
      Counter(&out, p, c + ".message_count", channel.message_count, was ? was->message_count : 0);
      Gauge(&out, p, c + ".depth", channel.depth);
      Gauge(&out, p, c + ".backend_depth", channel.backend_depth);
      Gauge(&out, p, c + ".in_flight_count", channel.in_flight_count);
      Gauge(&out, p, c + ".deferred_count", channel.deferred_count);
      Counter(&out, p, c + ".requeue_count", channel.requeue_count, was ? was->requeue_count : 0);
      Counter(&out, p, c + ".timeout_count", channel.timeout_count, was ? was->timeout_count : 0);
      Gauge(&out, p, c + ".clients", channel.consumer_count);
      E2eGauges(&out, p, c, channel.e2e);
    }
  }
  if (options.mem_stats && mem != nullptr) {
    Gauge(&out, p, "mem.heap_objects", 0);
    Gauge(&out, p, "mem.heap_idle_bytes", 0);
    Gauge(&out, p, "mem.heap_in_use_bytes", mem->heap_in_use_bytes);
    Gauge(&out, p, "mem.heap_released_bytes", 0);
    Gauge(&out, p, "mem.gc_pause_usec_100", 0);
    Gauge(&out, p, "mem.gc_pause_usec_99", 0);
    Gauge(&out, p, "mem.gc_pause_usec_95", 0);
    Gauge(&out, p, "mem.next_gc_bytes", 0);
    Counter(&out, p, "mem.gc_runs", 0, 0);
  }
  return out;
}

std::vector<std::string> PackDatagrams(const std::vector<std::string>& lines,
                                       int64_t packet_size) {
  std::vector<std::string> out;
  std::string current;
  for (const std::string& line : lines) {
    const size_t size = line.size() + 1;
    if (!current.empty() && static_cast<int64_t>(current.size() + size) > packet_size) {
      out.push_back(std::move(current));
      current.clear();
    }
    current.append(line).push_back('\n');
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

StatsdPusher::StatsdPusher(const Engine* engine, StatsdOptions options)
    : engine_(engine), options_(std::move(options)) {}

StatsdPusher::~StatsdPusher() { Stop(); }

void StatsdPusher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void StatsdPusher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) {
    thread_.join();
    spdlog::info("STATSD: closing");
  }
}

absl::Status StatsdPusher::PushOnce() {
  absl::MutexLock lock(&push_mu_);
  StatsFilter filter;
  filter.include_consumers = false;
  absl::StatusOr<std::vector<TopicStats>> stats = engine_->GetStats(filter);
  if (!stats.ok()) return stats.status();
  MemStats mem;
  if (options_.mem_stats) mem = ReadMemStats();
  std::vector<std::string> lines =
      FormatLines(*stats, last_, options_, options_.mem_stats ? &mem : nullptr);
  last_ = *std::move(stats);
  return SendDatagrams(options_.address, PackDatagrams(lines, options_.udp_packet_size));
}

void StatsdPusher::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval);
    if (stopping_) break;
    mu_.Unlock();
    spdlog::info("STATSD: pushing stats to {}", options_.address);
    if (absl::Status st = PushOnce(); !st.ok()) spdlog::error("STATSD: {}", std::string(st.message()));
    mu_.Lock();
  }
}

}  // namespace nsq::broker::statsd
