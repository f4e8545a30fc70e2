// nsq_to_http: sends each message to HTTP endpoints (NSQ's apps/nsq_to_http): --get (the
// URL's %s replaced by the URL-escaped body) or --post (the body as the request body).
// Success is exactly 200 for GET and any 2xx for POST; a failure requeues the message
// with backoff (it is never FINished unsent), and in hostpool mode the failing endpoint is
// avoided for a while.

#include <csignal>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "common/flags/flags.h"
#include "common/http/client.h"
#include "common/logging/logging.h"
#include "common/net/host_port.h"
#include "common/process/signals.h"
#include "spdlog/spdlog.h"
#include "tools/flags/tool_flags.h"
#include "tools/nsq_to_http/host_pool.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "nsq_to_http";

struct Endpoint {
  std::string host_port;
  std::string target;  // path and query; for GET with one %s
};

absl::StatusOr<Endpoint> ParseUrl(const std::string& flag, const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", url, ": want an http:// URL"));
  }
  const size_t slash = rest.find('/');
  Endpoint e;
  e.host_port = std::string(rest.substr(0, slash));
  e.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  auto hp = net::ParseHostPort(e.host_port);
  if (!hp) {
    if (e.host_port.find(':') == std::string::npos && !e.host_port.empty()) {
      e.host_port += ":80";
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", url, ": bad host"));
    }
  }
  return e;
}

std::string QueryEscape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int Run(int argc, char** argv) {
  process::BlockShutdownSignals();
  process::IgnoreSigpipe();
  std::vector<std::string> topics;
  std::string channel = "nsq_to_http";
  int64_t max_in_flight = 200;
  int64_t concurrency = 100;
  std::vector<std::string> gets, posts, header_flags;
  std::string mode = "hostpool";
  double sample = 1.0;
  std::string content_type = "application/octet-stream";
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration request_timeout = absl::Seconds(20);
  int64_t status_every = 250;
  std::string log_level = "info";
  SourceFlags source;
  flags::FlagSet fs(kTool);
  fs.AddStringList("topic", &topics, "nsq topic (may be given multiple times)");
  fs.AddString("channel", &channel, "nsq channel");
  fs.AddInt64("max-in-flight", &max_in_flight, "max number of messages to allow in flight");
  fs.AddInt64("n", &concurrency, "number of concurrent publishers");
  fs.AddStringList("get", &gets, "HTTP address to make a GET request to. '%s' will be printf replaced with data (may be given multiple times)");
  fs.AddStringList("post", &posts, "HTTP address to make a POST request to.  data will be in the body (may be given multiple times)");
  fs.AddStringList("header", &header_flags, "Custom header for HTTP requests (may be given multiple times)");
  fs.AddString("mode", &mode, "the upstream request mode options: round-robin, hostpool (default), epsilon-greedy");
  fs.AddDouble("sample", &sample, "% of messages to publish (float b/w 0 -> 1)");
  fs.AddString("content-type", &content_type, "the Content-Type used for POST requests");
  fs.AddDuration("http-client-connect-timeout", &connect_timeout, "timeout for HTTP connect");
  fs.AddDuration("http-client-request-timeout", &request_timeout, "timeout for HTTP request");
  fs.AddInt64("status-every", &status_every, "the # of requests between logging status (per handler), 0 disables");
  fs.AddString("log-level", &log_level, "set log verbosity: debug, info, warn, error, or fatal");
  source.Register(&fs);
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  if (auto st = logging::InitLogging(log_level, "[nsq_to_http] "); !st.ok()) return Fail(kTool, st);
  auto bad = [](std::string m) { return Fail(kTool, absl::InvalidArgumentError(std::move(m))); };
  if (auto st = CheckTopics(topics); !st.ok()) return Fail(kTool, st);
  if (auto st = CheckName("channel", channel, "channel"); !st.ok()) return Fail(kTool, st);
  if (gets.empty() && posts.empty()) return bad("--get or --post required");
  if (!gets.empty() && !posts.empty()) return bad("use --get or --post, not both");
  if (sample <= 0 || sample > 1) return bad("--sample must be in (0, 1]");
  if (max_in_flight < 1) return bad("--max-in-flight must be >= 1");
  if (concurrency < 1) return bad("-n must be >= 1");
  if (mode != "hostpool" && mode != "round-robin" && mode != "epsilon-greedy") {
    return bad(absl::StrCat("--mode ", mode, ": want round-robin, hostpool or epsilon-greedy"));
  }
  if (connect_timeout <= absl::ZeroDuration()) return bad("--http-client-connect-timeout must be positive");
  if (request_timeout <= absl::ZeroDuration()) return bad("--http-client-request-timeout must be positive");
  std::vector<std::pair<std::string, std::string>> headers;
  for (const std::string& h : header_flags) {
    const size_t colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return bad(absl::StrCat("--header ", h, ": want 'Key: Value'"));
    headers.emplace_back(h.substr(0, colon), std::string(absl::StripAsciiWhitespace(h.substr(colon + 1))));
  }
  const bool is_get = !gets.empty();
  std::vector<Endpoint> endpoints;
  for (const std::string& u : is_get ? gets : posts) {
    auto e = ParseUrl(is_get ? "get" : "post", u);
    if (!e.ok()) return Fail(kTool, e.status());
    if (is_get && absl::StrContains(e->target, "%s") == false) {
      return bad(absl::StrCat("--get ", u, ": the URL needs one %s"));
    }
    endpoints.push_back(*e);
  }
  if (!is_get) headers.emplace_back("Content-Type", content_type);
  if (auto st = source.Validate(); !st.ok()) return Fail(kTool, st);

  HostPool pool(endpoints.size(), mode != "round-robin");
  absl::Mutex mu;
  std::deque<client::Message> queue;
  bool stop = false;
  std::atomic<int64_t> sent{0};
  auto send = [&](const client::Message& m) -> bool {
    const size_t h = pool.Pick(absl::Now());
    const Endpoint& e = endpoints[h];
    absl::StatusOr<http::ClientResponse> r;
    if (is_get) {
      r = http::HttpRequest("GET", e.host_port, absl::StrReplaceAll(e.target, {{"%s", QueryEscape(m.body)}}), "",
                            headers, request_timeout);
    } else {
      r = http::HttpRequest("POST", e.host_port, e.target, m.body, headers, request_timeout);
    }
    const bool ok = r.ok() && (is_get ? r->status == 200 : r->status / 100 == 2);
    pool.Report(h, ok, absl::Now());
    if (!ok) {
      spdlog::warn("{} http://{}{}: {}", is_get ? "GET" : "POST", e.host_port, e.target,
                   r.ok() ? absl::StrCat("HTTP ", r->status) : std::string(r.status().message()));
    }
    return ok;
  };
  std::vector<std::thread> workers;
  std::mt19937_64 rng(std::random_device{}());
  for (int64_t i = 0; i < concurrency; ++i) {
    workers.emplace_back([&] {
      for (;;) {
        client::Message m;
        {
          absl::MutexLock lock(&mu);
          auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !queue.empty() || stop; };
          mu.Await(absl::Condition(&ready));
          if (queue.empty()) return;
          m = std::move(queue.front());
          queue.pop_front();
        }
        if (send(m)) {
          m.Finish();
          const int64_t n = ++sent;
          if (status_every > 0 && n % status_every == 0) spdlog::info("{} messages sent", n);
        } else {
          m.Requeue();  // auto delay, with backoff
        }
      }
    });
  }
  std::vector<std::unique_ptr<client::Consumer>> consumers;
  for (const std::string& t : topics) {
    client::ConsumerOptions o;
    o.topic = t;
    o.channel = channel;
    o.config.user_agent = "nsq_to_http/1.3.0 nsq-cpp";
    if (auto st = source.Apply(&o); !st.ok()) return Fail(kTool, st);
    o.config.max_in_flight = max_in_flight;
    consumers.push_back(std::make_unique<client::Consumer>(o, client::Async{[&](client::Message m) {
      absl::MutexLock lock(&mu);
      if (sample < 1.0 && std::uniform_real_distribution<double>(0, 1)(rng) >= sample) {
        m.Finish();  // not in the sample
        return;
      }
      queue.push_back(std::move(m));
    }}));
    if (auto st = consumers.back()->Start(); !st.ok()) return Fail(kTool, st);
  }
  for (;;) {
    if (process::WaitForShutdownSignal() != SIGHUP) break;
  }
  for (auto& c : consumers) c->Stop();
  {
    absl::MutexLock lock(&mu);
    stop = true;
  }
  for (auto& w : workers) w.join();
  return 0;
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
