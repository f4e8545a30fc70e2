// v2_bench: throughput of the NSQ TCP protocol V2 (the legacy gateway, or a stock nsqd),
// like NSQ's bench/bench_writer and bench/bench_reader.
//
//   v2_bench --mode=pub           MPUB batches of --batch-size, waiting for each OK
//                                 (--pub: single-message PUBs instead)
//   v2_bench --mode=sub           SUB + RDY --rdy, FIN every message
//   v2_bench --mode=pubsub        both at once
//   v2_bench --mode=pub-then-sub  publish for --duration, then drain that backlog
//
// Raw sockets, no client library: what is measured is the broker.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/net/host_port.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flags/flags.h"

namespace nsq::bench {
namespace {

struct Options {
  std::string address = "127.0.0.1:4150";  // broker TCP (V2) address
  std::string mode = "pub";                // pub | sub | pubsub | pub-then-sub
  std::string topic;                       // default: sub_bench<unix time>
  std::string channel = "ch";
  int64_t writers = 2;      // publisher connections (bench_writer: GOMAXPROCS)
  int64_t readers = 2;      // subscriber connections (bench_reader: GOMAXPROCS)
  int64_t batch_size = 200;  // messages per MPUB
  bool pub = false;          // PUB one message per command instead of MPUB
  int64_t size = 200;        // bytes per message
  absl::Duration duration = absl::Seconds(10);
  int64_t rdy = 2500;
};

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
  explicit FrameReader(int fd) : fd_(fd) {}
  // Next frame (type, data view valid until the next call); false on EOF/error.
  bool Next(int32_t* type, std::string_view* data) {
    while (true) {
      if (end_ - pos_ >= 8) {
        const uint32_t size = ReadBe32(buf_.data() + pos_);
        if (end_ - pos_ >= 4 + size) {
          *type = static_cast<int32_t>(ReadBe32(buf_.data() + pos_ + 4));
          *data = std::string_view(buf_.data() + pos_ + 8, size - 4);
          pos_ += 4 + size;
          return true;
        }
        if (buf_.size() < 4 + size) buf_.resize(4 + size + (1 << 20));
      }
      if (!Fill()) return false;
    }
  }
  // True when a whole frame is already buffered (no read needed).
  bool Buffered() const {
    return end_ - pos_ >= 8 && end_ - pos_ >= 4 + ReadBe32(buf_.data() + pos_);
  }
  int fd() const { return fd_; }

 private:
  bool Fill() {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (buf_.size() - end_ < 65536) buf_.resize(buf_.size() * 2);
    const ssize_t n = ::recv(fd_, buf_.data() + end_, buf_.size() - end_, 0);
    if (n <= 0) return false;
    end_ += static_cast<size_t>(n);
    return true;
  }
  int fd_;
  std::string buf_ = std::string(4 << 20, '\0');
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
  std::string body;
  Be32(&body, static_cast<uint32_t>(o.batch_size));
  const std::string msg(static_cast<size_t>(o.size), 'a');
  for (int64_t i = 0; i < o.batch_size; ++i) {
    Be32(&body, static_cast<uint32_t>(msg.size()));
    body += msg;
  }
  std::string cmd = absl::StrCat("MPUB ", o.topic, "\n");
  Be32(&cmd, static_cast<uint32_t>(body.size()));
  cmd += body;
  const int64_t per_command = o.pub ? 1 : o.batch_size;
  if (o.pub) {
    cmd = absl::StrCat("PUB ", o.topic, "\n");
    Be32(&cmd, static_cast<uint32_t>(msg.size()));
    cmd += msg;
  }
  while (!totals->stop.load(std::memory_order_relaxed)) {
    if (!WriteAll(fd, cmd)) break;
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
    totals->msgs.fetch_add(per_command, std::memory_order_relaxed);
  }
  close(fd);
}

// Consumes until stopped or, with `until` > 0, until the shared count reaches it.
void Reader(const Options& o, Totals* totals, int64_t until, std::atomic<bool>* failed) {
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
  std::string sub = absl::StrCat("SUB ", o.topic, " ", o.channel, "\nRDY ", o.rdy, "\n");
  WriteAll(fd, sub);
  std::string fins;
  int64_t pending = 0;
  const int64_t flush_at = std::max<int64_t>(1, o.rdy * 3 / 4);
  while (!totals->stop.load(std::memory_order_relaxed)) {
    // Don't block on a read with FINs still unsent: the broker may be waiting for them.
    if (pending > 0 && !reader.Buffered()) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) == 0) {
        WriteAll(fd, fins);
        fins.clear();
        pending = 0;
      }
    }
    int32_t type;
    std::string_view data;
    if (!reader.Next(&type, &data)) break;
    if (type == 0) {
      if (data == "_heartbeat_") WriteAll(fd, "NOP\n");
      continue;
    }
    if (type != 2) {
      std::cerr << "error frame: " << data << "\n";
      continue;
    }
    fins += "FIN ";
    fins.append(data.data() + 10, 16);
    fins += '\n';
    ++pending;
    const int64_t n = totals->msgs.fetch_add(1, std::memory_order_relaxed) + 1;
    if (pending >= flush_at) {
      WriteAll(fd, fins);
      fins.clear();
      pending = 0;
    }
    if (until > 0 && n >= until) {
      totals->stop = true;
      break;
    }
  }
  if (!fins.empty()) WriteAll(fd, fins);
  close(fd);
}

void Report(const char* phase, int64_t msgs, absl::Duration elapsed, int64_t size) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  std::printf("%s: %lld msgs in %.1fs = %.0f msgs/s, %.1f MiB/s\n", phase,
              static_cast<long long>(msgs), secs, msgs / secs,
              msgs * static_cast<double>(size) / secs / (1 << 20));
  std::fflush(stdout);
}

int64_t RunPub(const Options& o, absl::Duration duration) {
  Totals totals;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < o.writers; ++i) threads.emplace_back(Writer, std::cref(o), &totals, &failed);
  absl::SleepFor(duration);
  totals.stop = true;
  for (auto& t : threads) t.join();
  Report("pub", totals.msgs, absl::Now() - start, o.size);
  return failed ? -1 : totals.msgs.load();
}

int Main(int argc, char** argv) {
  Options o;
  flags::FlagSet fs("v2_bench");
  fs.AddString("address", &o.address, "broker TCP (protocol V2) address");
  fs.AddString("mode", &o.mode, "pub, sub, pubsub or pub-then-sub");
  fs.AddString("topic", &o.topic, "topic (default sub_bench<unix time>)");
  fs.AddString("channel", &o.channel, "channel");
  fs.AddInt64("writers", &o.writers, "publisher connections");
  fs.AddInt64("readers", &o.readers, "subscriber connections");
  fs.AddInt64("batch-size", &o.batch_size, "messages per MPUB");
  fs.AddBool("pub", &o.pub, "publish with PUB, one message per command (else MPUB batches)");
  fs.AddInt64("size", &o.size, "bytes per message");
  fs.AddDuration("duration", &o.duration, "how long each phase runs");
  fs.AddInt64("rdy", &o.rdy, "RDY per subscriber");
  absl::Status st = fs.Parse(argc, argv);
  if (fs.HelpRequested()) {
    std::cout << fs.Usage();
    return 0;
  }
  if (!st.ok()) {
    std::cerr << st.message() << "\n" << fs.Usage();
    return 2;
  }
  if (o.topic.empty()) o.topic = absl::StrCat("sub_bench", absl::ToUnixSeconds(absl::Now()));

  if (o.mode == "pub") return RunPub(o, o.duration) < 0 ? 1 : 0;
  if (o.mode == "pub-then-sub") {
    // Create the channel first so the backlog lands in it, as bench.sh's runs do.
    std::atomic<bool> failed{false};
    {
      const int fd = Dial(o.address);
      FrameReader r(fd);
      if (fd < 0 || !Handshake(fd, &r)) return 1;
      WriteAll(fd, absl::StrCat("SUB ", o.topic, " ", o.channel, "\n"));
      int32_t type;
      std::string_view data;
      r.Next(&type, &data);
      close(fd);
    }
    const int64_t published = RunPub(o, o.duration);
    if (published <= 0) return 1;
    Totals totals;
    std::vector<std::thread> threads;
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < o.readers; ++i) {
      threads.emplace_back(Reader, std::cref(o), &totals, published, &failed);
    }
    // Readers stop when the backlog is drained; bound the wait anyway.
    while (!totals.stop && absl::Now() - start < o.duration * 10) absl::SleepFor(absl::Milliseconds(5));
    totals.stop = true;
    const absl::Duration elapsed = absl::Now() - start;
    for (auto& t : threads) t.detach();  // a reader may still wait in recv; main _exits
    Report("sub", totals.msgs, elapsed, o.size);
    return failed ? 1 : 0;
  }
  if (o.mode == "sub" || o.mode == "pubsub") {
    Totals pub_totals, sub_totals;
    std::atomic<bool> failed{false};
    std::vector<std::thread> readers, writers;
    const absl::Time start = absl::Now();
    for (int64_t i = 0; i < o.readers; ++i) {
      readers.emplace_back(Reader, std::cref(o), &sub_totals, 0, &failed);
    }
    if (o.mode == "pubsub") {
      for (int64_t i = 0; i < o.writers; ++i) {
        writers.emplace_back(Writer, std::cref(o), &pub_totals, &failed);
      }
    }
    absl::SleepFor(o.duration);
    pub_totals.stop = true;
    sub_totals.stop = true;
    const absl::Duration elapsed = absl::Now() - start;
    for (auto& t : writers) t.join();
    for (auto& t : readers) t.detach();
    if (o.mode == "pubsub") Report("pub", pub_totals.msgs, elapsed, o.size);
    Report("sub", sub_totals.msgs, elapsed, o.size);
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
