// v2_bench: throughput of the NSQ TCP protocol V2 (the legacy gateway, or a stock nsqd),
// like NSQ's bench/bench_writer and bench/bench_reader.
//
//   v2_bench --mode=pub           MPUB batches of --batch-size, waiting for each OK
//                                 (--pub: single-message PUBs instead)
//   v2_bench --mode=sub           SUB + RDY --rdy, FIN every message
//   v2_bench --mode=pubsub        both at once
//   v2_bench --mode=pub-then-sub  publish for --duration, then drain that backlog
//   --rate=N                      fixed rate, pipelined, latency percentiles
//   --topics=T --channels=C       fan out over T topics x C channels
//
// Raw sockets, no client library: what is measured is the broker.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/net/host_port.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flags/flags.h"
#include "tools/bench/bench_util.h"

namespace nsq::bench {
namespace {

struct Options {
  std::string address = "127.0.0.1:4150";  // broker TCP (V2) address
  std::string mode = "pub";                // pub | sub | pubsub | pub-then-sub
  std::string topic;                       // default: sub_bench<unix time>
  std::string channel = "ch";
  int64_t writers = 2;      // publisher connections (bench_writer: GOMAXPROCS)
  int64_t readers = 2;      // subscriber connections per channel (bench_reader: GOMAXPROCS)
  int64_t batch_size = 200;  // messages per MPUB
  bool pub = false;          // PUB one message per command instead of MPUB
  int64_t size = 200;        // bytes per message
  absl::Duration duration = absl::Seconds(10);
  int64_t rdy = 2500;
  // Fixed rate (msgs/s over all writers; 0 = as fast as the broker answers). Commands are
  // pipelined, each body starts with its send time, and readers report latency percentiles.
  int64_t rate = 0;
  absl::Duration warmup = absl::Seconds(1);  // latency samples sent before this are skipped
  int64_t topics = 1;    // > 1: topics <topic>_0.., writers go round robin over them
  int64_t channels = 1;  // > 1: channels <channel>_0.. on every topic, --readers each
  int64_t messages = 0;  // pub: stop after about this many (whole commands); 0 = --duration
};

std::string TopicName(const Options& o, int64_t i) { return FanoutName(o.topic, o.topics, i); }
std::string ChannelName(const Options& o, int64_t j) { return FanoutName(o.channel, o.channels, j); }

void Be32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}
uint32_t ReadBe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

int Dial(const std::string& address) {
  const std::optional<nsq::net::HostPort> parsed = nsq::net::ParseHostPort(address);
  if (!parsed) return -1;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(parsed->port);
  inet_pton(AF_INET, parsed->host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Buffered frame reader.
class FrameReader {
 public:
  explicit FrameReader(int fd, size_t initial = 4 << 20) : fd_(fd), buf_(initial, '\0') {}
  // Next frame (type, data view valid until the next call); false on EOF/error.
  bool Next(int32_t* type, std::string_view* data) {
    while (!NextBuffered(type, data)) {
      if (!Fill()) return false;
    }
    return true;
  }
  // The next frame if it is whole in the buffer (no read).
  bool NextBuffered(int32_t* type, std::string_view* data) {
    if (end_ - pos_ < 8) return false;
    const uint32_t size = ReadBe32(buf_.data() + pos_);
    if (end_ - pos_ < 4 + size) {
      if (buf_.size() < 4 + size) Reserve(4 + size + (1 << 16));
      return false;
    }
    *type = static_cast<int32_t>(ReadBe32(buf_.data() + pos_ + 4));
    *data = std::string_view(buf_.data() + pos_ + 8, size - 4);
    pos_ += 4 + size;
    return true;
  }
  // One recv into the buffer; false on EOF/error.
  bool Fill() {
    Compact();
    if (buf_.size() - end_ < buf_.size() / 4) buf_.resize(buf_.size() * 2);
    const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
    if (n <= 0) return false;
    end_ += static_cast<size_t>(n);
    return true;
  }

 private:
  // Moves the unread bytes to the front.
  void Compact() {
    if (pos_ == 0) return;
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  void Reserve(size_t n) {
    Compact();
    if (buf_.size() < n) buf_.resize(n);
  }
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
};

bool Handshake(int fd, FrameReader* reader) {
  const std::string identify = "{\"feature_negotiation\":true,\"user_agent\":\"v2_bench\"}";
  std::string out = "  V2IDENTIFY\n";
  Be32(&out, static_cast<uint32_t>(identify.size()));
  out += identify;
  if (!WriteAll(fd, out)) return false;
  int32_t type;
  std::string_view data;
  return reader->Next(&type, &data) && type == 0;
}

struct Totals {
  std::atomic<int64_t> msgs{0};
  std::atomic<bool> stop{false};
};

// Appends one message body of `size` bytes; with `stamp`, its first 8 bytes are the send
// time (NowNs, host order: the reader is this process).
void AppendBody(std::string* out, int64_t size, bool stamp) {
  const size_t at = out->size();
  out->append(static_cast<size_t>(size), 'a');
  if (stamp) StampBody(out->data() + at, static_cast<size_t>(size));
}

// Appends a PUB of one message, or an MPUB of `n`, to `topic`.
void AppendPublish(std::string* out, const Options& o, const std::string& topic, int64_t n,
                   bool stamp) {
  if (o.pub) {
    for (int64_t i = 0; i < n; ++i) {
      absl::StrAppend(out, "PUB ", topic, "\n");
      Be32(out, static_cast<uint32_t>(o.size));
      AppendBody(out, o.size, stamp);
    }
    return;
  }
  absl::StrAppend(out, "MPUB ", topic, "\n");
  Be32(out, static_cast<uint32_t>(4 + n * (4 + o.size)));
  Be32(out, static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Be32(out, static_cast<uint32_t>(o.size));
    AppendBody(out, o.size, stamp);
  }
}

// As fast as the broker answers: one command, wait for its OK, next (round robin over
// the topics).
void Writer(const Options& o, Totals* totals, std::atomic<bool>* failed) {
  const int fd = Dial(o.address);
  if (fd < 0) {
    *failed = true;
    return;
  }
  FrameReader reader(fd);
  if (!Handshake(fd, &reader)) {
    *failed = true;
    close(fd);
    return;
  }
  std::vector<std::string> cmds(static_cast<size_t>(o.topics));
  for (int64_t t = 0; t < o.topics; ++t) {
    AppendPublish(&cmds[t], o, TopicName(o, t), o.pub ? 1 : o.batch_size, false);
  }
  const int64_t per_command = o.pub ? 1 : o.batch_size;
  size_t next = 0;
  while (!totals->stop.load(std::memory_order_relaxed)) {
    if (!WriteAll(fd, cmds[next])) break;
    next = (next + 1) % cmds.size();
    int32_t type;
    std::string_view data;
    do {
      if (!reader.Next(&type, &data)) {
        *failed = true;
        close(fd);
        return;
      }
    } while (type == 0 && data == "_heartbeat_");
    if (type != 0) {
      std::cerr << (o.pub ? "PUB" : "MPUB") << " failed: " << data << "\n";
      *failed = true;
      break;
    }
    const int64_t total = totals->msgs.fetch_add(per_command, std::memory_order_relaxed) + per_command;
    if (o.messages > 0 && total >= o.messages) totals->stop = true;
  }
  close(fd);
}

// At `rate` msgs/s: whatever is due (at most one MPUB of --batch-size, or that many
// pipelined PUBs) goes out without waiting for earlier answers, which a second thread
// reads. Each body carries its send time.
void RateWriter(const Options& o, double rate, Totals* totals, std::atomic<bool>* failed) {
  const int fd = Dial(o.address);
  if (fd < 0) {
    *failed = true;
    return;
  }
  FrameReader reader(fd);
  if (!Handshake(fd, &reader)) {
    *failed = true;
    close(fd);
    return;
  }
  std::mutex write_mu;  // the answer thread writes NOPs
  std::atomic<int64_t> answered{0};
  std::thread answers([&] {
    int32_t type;
    std::string_view data;
    while (reader.Next(&type, &data)) {
      if (type == 0 && data == "_heartbeat_") {
        std::lock_guard<std::mutex> lock(write_mu);
        WriteAll(fd, "NOP\n");
      } else if (type == 0) {
        answered.fetch_add(1, std::memory_order_relaxed);
      } else {
        std::cerr << "publish failed: " << data << "\n";
        *failed = true;
      }
    }
  });
  const int64_t start = NowNs();
  int64_t sent = 0, commands = 0;
  size_t next_topic = 0;
  std::string out;
  while (!totals->stop.load(std::memory_order_relaxed)) {
    const double elapsed = static_cast<double>(NowNs() - start) / 1e9;
    int64_t due = static_cast<int64_t>(rate * elapsed) - sent;
    if (due <= 0) {
      const double wait_s = static_cast<double>(sent + 1) / rate - elapsed;
      absl::SleepFor(absl::Microseconds(std::max(50.0, wait_s * 1e6)));
      continue;
    }
    due = std::min(due, o.batch_size);
    out.clear();
    const std::string topic = TopicName(o, static_cast<int64_t>(next_topic));
    next_topic = (next_topic + 1) % static_cast<size_t>(o.topics);
    AppendPublish(&out, o, topic, due, true);
    {
      std::lock_guard<std::mutex> lock(write_mu);
      if (!WriteAll(fd, out)) {
        *failed = true;
        break;
      }
    }
    sent += due;
    commands += o.pub ? due : 1;
  }
  // Every command answered (bounded).
  const int64_t deadline = NowNs() + int64_t{10} * 1000000000;
  while (answered.load() < commands && NowNs() < deadline && !*failed) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (answered.load() < commands) {
    std::cerr << "only " << answered.load() << " of " << commands << " commands answered\n";
    *failed = true;
  }
  totals->msgs.fetch_add(sent, std::memory_order_relaxed);
  shutdown(fd, SHUT_RDWR);
  answers.join();
  close(fd);
}

// Latency samples (ns), one vector per reader thread, merged at the end.
struct Latencies {
  std::mutex mu;
  std::vector<int64_t> samples;
};

struct ReaderConn {
  explicit ReaderConn(int f) : fd(f), reader(f, 256 << 10) {}
  int fd;
  FrameReader reader;
  std::string fins;
};

// Consumes on `conns` (SUB sent, RDY --rdy) with one epoll loop until stopped or, with
// `until` > 0, until the shared count reaches it. FINs go out after each read.
void ReaderLoop(const Options& o, std::vector<std::unique_ptr<ReaderConn>> conns, Totals* totals,
                int64_t until, int64_t sample_from_ns, Latencies* latencies) {
  const int ep = epoll_create1(0);
  for (size_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i]->fd, &ev);
  }
  std::vector<int64_t> samples;
  std::vector<epoll_event> events(64);
  size_t open = conns.size();
  while (open > 0 && !totals->stop.load(std::memory_order_relaxed)) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 5);
    for (int e = 0; e < n; ++e) {
      ReaderConn& c = *conns[events[e].data.u64];
      if (!c.reader.Fill()) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        --open;
        continue;
      }
      int32_t type;
      std::string_view data;
      int64_t got = 0;
      const int64_t now = o.rate > 0 ? NowNs() : 0;
      while (c.reader.NextBuffered(&type, &data)) {
        if (type == 0) {
          if (data == "_heartbeat_") c.fins += "NOP\n";
          continue;
        }
        if (type != 2 || data.size() < 26) {
          std::cerr << "error frame: " << data << "\n";
          continue;
        }
        c.fins += "FIN ";
        c.fins.append(data.data() + 10, 16);
        c.fins += '\n';
        ++got;
        if (o.rate > 0) {
          const int64_t sent = BodyStamp(data.data() + 26, data.size() - 26);
          if (sent >= 0 && sent >= sample_from_ns) samples.push_back(now - sent);
        }
      }
      if (!c.fins.empty()) {
        WriteAll(c.fd, c.fins);
        c.fins.clear();
      }
      if (got > 0) {
        const int64_t total = totals->msgs.fetch_add(got, std::memory_order_relaxed) + got;
        if (until > 0 && total >= until) totals->stop = true;
      }
    }
  }
  close(ep);
  for (auto& c : conns) close(c->fd);
  if (latencies != nullptr) {
    std::lock_guard<std::mutex> lock(latencies->mu);
    latencies->samples.insert(latencies->samples.end(), samples.begin(), samples.end());
  }
}

// Every topic x channel gets --readers connections, spread over at most 2 threads each
// running one epoll loop (as many threads as connections when there are fewer).
class Readers {
 public:
  Readers(const Options& o, Totals* totals, int64_t until, int64_t sample_from_ns,
          Latencies* latencies, std::atomic<bool>* failed) {
    std::vector<std::unique_ptr<ReaderConn>> all;
    for (int64_t t = 0; t < o.topics; ++t) {
      for (int64_t ch = 0; ch < o.channels; ++ch) {
        for (int64_t r = 0; r < o.readers; ++r) {
          const int fd = Dial(o.address);
          if (fd < 0) {
            *failed = true;
            continue;
          }
          auto conn = std::make_unique<ReaderConn>(fd);
          if (!Handshake(fd, &conn->reader)) {
            *failed = true;
            close(fd);
            continue;
          }
          WriteAll(fd, absl::StrCat("SUB ", TopicName(o, t), " ", ChannelName(o, ch), "\nRDY ",
                                    o.rdy, "\n"));
          all.push_back(std::move(conn));
        }
      }
    }
    const size_t threads = std::min<size_t>(all.size(), 2);
    std::vector<std::vector<std::unique_ptr<ReaderConn>>> split(std::max<size_t>(threads, 1));
    for (size_t i = 0; i < all.size(); ++i) split[i % split.size()].push_back(std::move(all[i]));
    for (auto& part : split) {
      if (part.empty()) continue;
      threads_.emplace_back(ReaderLoop, std::cref(o), std::move(part), totals, until,
                            sample_from_ns, latencies);
    }
  }
  void Join() {
    for (auto& t : threads_) t.join();
  }

 private:
  std::vector<std::thread> threads_;
};

void Report(const char* phase, int64_t msgs, absl::Duration elapsed, int64_t size) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  std::printf("%s: %lld msgs in %.1fs = %.0f msgs/s, %.1f MiB/s\n", phase,
              static_cast<long long>(msgs), secs, msgs / secs,
              msgs * static_cast<double>(size) / secs / (1 << 20));
  std::fflush(stdout);
}


void StartWriters(const Options& o, Totals* totals, std::atomic<bool>* failed,
                  std::vector<std::thread>* threads) {
  for (int64_t i = 0; i < o.writers; ++i) {
    if (o.rate > 0) {
      threads->emplace_back(RateWriter, std::cref(o), static_cast<double>(o.rate) / o.writers,
                            totals, failed);
    } else {
      threads->emplace_back(Writer, std::cref(o), totals, failed);
    }
  }
}

int64_t RunPub(const Options& o, absl::Duration duration) {
  Totals totals;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  StartWriters(o, &totals, &failed, &threads);
  const absl::Time until = start + (o.messages > 0 ? absl::Hours(1) : duration);
  while (!totals.stop && absl::Now() < until) absl::SleepFor(absl::Milliseconds(2));
  totals.stop = true;
  for (auto& t : threads) t.join();
  Report("pub", totals.msgs, absl::Now() - start, o.size);
  return failed ? -1 : totals.msgs.load();
}

// SUB on every topic x channel (and close) so that each queues from the first message.
bool CreateChannels(const Options& o) {
  for (int64_t t = 0; t < o.topics; ++t) {
    for (int64_t ch = 0; ch < o.channels; ++ch) {
      const int fd = Dial(o.address);
      if (fd < 0) return false;
      FrameReader r(fd, 1 << 16);
      if (!Handshake(fd, &r)) {
        close(fd);
        return false;
      }
      WriteAll(fd, absl::StrCat("SUB ", TopicName(o, t), " ", ChannelName(o, ch), "\n"));
      int32_t type;
      std::string_view data;
      r.Next(&type, &data);
      close(fd);
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  Options o;
  flags::FlagSet fs("v2_bench");
  fs.AddString("address", &o.address, "broker TCP (protocol V2) address");
  fs.AddString("mode", &o.mode, "pub, sub, pubsub or pub-then-sub");
  fs.AddString("topic", &o.topic, "topic (default sub_bench<unix time>)");
  fs.AddString("channel", &o.channel, "channel");
  fs.AddInt64("writers", &o.writers, "publisher connections");
  fs.AddInt64("readers", &o.readers, "subscriber connections per channel");
  fs.AddInt64("batch-size", &o.batch_size,
              "messages per MPUB (with --rate: at most this many per write)");
  fs.AddBool("pub", &o.pub, "publish with PUB, one message per command (else MPUB batches)");
  fs.AddInt64("size", &o.size, "bytes per message");
  fs.AddDuration("duration", &o.duration, "how long each phase runs");
  fs.AddInt64("rdy", &o.rdy, "RDY per subscriber connection");
  fs.AddInt64("rate", &o.rate,
              "publish at this many msgs/s in all (pipelined, time-stamped bodies) and report "
              "publish-to-delivery latency; 0 = as fast as answered");
  fs.AddDuration("warmup", &o.warmup, "with --rate: latency of messages sent before this is not counted");
  fs.AddInt64("messages", &o.messages, "pub: stop after this many messages instead of --duration");
  fs.AddInt64("topics", &o.topics, "topics <topic>_0..N-1 (1: just --topic)");
  fs.AddInt64("channels", &o.channels, "channels <channel>_0..N-1 on every topic (1: just --channel)");
  absl::Status st = fs.Parse(argc, argv);
  if (fs.HelpRequested()) {
    std::cout << fs.Usage();
    return 0;
  }
  if (!st.ok()) {
    std::cerr << st.message() << "\n" << fs.Usage();
    return 2;
  }
  if (o.topics < 1 || o.channels < 1 || o.writers < 1 || o.readers < 1 || o.batch_size < 1) {
    std::cerr << "--topics, --channels, --writers, --readers and --batch-size must be >= 1\n";
    return 2;
  }
  if (o.rate > 0 && o.size < 8) {
    std::cerr << "--rate needs --size >= 8 (the body carries its send time)\n";
    return 2;
  }
  if (o.topic.empty()) o.topic = absl::StrCat("sub_bench", absl::ToUnixSeconds(absl::Now()));

  if (o.mode == "pub") return RunPub(o, o.duration) < 0 ? 1 : 0;
  if (o.mode == "pub-then-sub") {
    // Create the channels first so the backlog lands in them, as bench.sh's runs do.
    if (!CreateChannels(o)) return 1;
    const int64_t published = RunPub(o, o.duration);
    if (published <= 0) return 1;
    std::atomic<bool> failed{false};
    Totals totals;
    const absl::Time start = absl::Now();
    Readers readers(o, &totals, published * o.channels, 0, nullptr, &failed);
    // Readers stop when the backlog is drained; bound the wait anyway.
    while (!totals.stop && absl::Now() - start < o.duration * 10) absl::SleepFor(absl::Milliseconds(5));
    totals.stop = true;
    const absl::Duration elapsed = absl::Now() - start;
    readers.Join();
    Report("sub", totals.msgs, elapsed, o.size);
    return failed ? 1 : 0;
  }
  if (o.mode == "sub" || o.mode == "pubsub") {
    if (o.mode == "pubsub" && !CreateChannels(o)) return 1;
    Totals pub_totals, sub_totals;
    std::atomic<bool> failed{false};
    Latencies latencies;
    const int64_t sample_from = NowNs() + absl::ToInt64Nanoseconds(o.warmup);
    Readers readers(o, &sub_totals, 0, sample_from, &latencies, &failed);
    std::vector<std::thread> writers;
    const absl::Time start = absl::Now();
    if (o.mode == "pubsub") StartWriters(o, &pub_totals, &failed, &writers);
    absl::SleepFor(o.duration);
    pub_totals.stop = true;
    for (auto& t : writers) t.join();
    const absl::Duration pub_elapsed = absl::Now() - start;
    // At a fixed rate every message is waited for (bounded), so the tail is measured too.
    if (o.rate > 0) {
      const int64_t expected = pub_totals.msgs.load() * o.channels;
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (sub_totals.msgs.load() < expected && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(2));
      }
      if (sub_totals.msgs.load() < expected) {
        std::cerr << "received " << sub_totals.msgs.load() << " of " << expected << "\n";
      }
    }
    sub_totals.stop = true;
    const absl::Duration elapsed = absl::Now() - start;
    readers.Join();
    if (o.mode == "pubsub") Report("pub", pub_totals.msgs, pub_elapsed, o.size);
    Report("sub", sub_totals.msgs, o.rate > 0 ? pub_elapsed : elapsed, o.size);
    if (o.rate > 0) ReportLatency(&latencies.samples);
    return failed ? 1 : 0;
  }
  std::cerr << "unknown --mode " << o.mode << "\n";
  return 2;
}

}  // namespace
}  // namespace nsq::bench

int main(int argc, char** argv) {
  const int rc = nsq::bench::Main(argc, argv);
  std::fflush(stdout);
  _exit(rc);  // readers may still be blocked in recv
}
