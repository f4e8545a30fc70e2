// nsq_stat: polls every broker of a topic for one channel's figures and prints them
// every --interval (NSQ's apps/nsq_stat): rates, depth (total, memory, disk), in flight,
// deferred, requeued, timed out, messages, clients, summed over the brokers. Brokers come
// from --nsqd-http-address / --lookupd-http-address (NSQ's HTTP /stats) or
// --broker-address / --discovery-address (gRPC GetStats).

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/lookupd.h"
#include "client/reachable.h"
#include "common/flags/flags.h"
#include "common/grpc/tls.h"
#include "common/http/client.h"
#include "common/net/host_port.h"
#include "common/process/signals.h"
#include "nlohmann/json.hpp"
#include "nsq/v1/broker.grpc.pb.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "tools/flags/tool_flags.h"

namespace nsq::tools {
namespace {

constexpr char kTool[] = "nsq_stat";

struct ChannelFigures {
  int64_t depth = 0, backend_depth = 0, in_flight = 0, deferred = 0, requeued = 0, timed_out = 0, messages = 0,
          clients = 0;
  bool found = false;
  void Add(const ChannelFigures& o) {
    depth += o.depth;
    backend_depth += o.backend_depth;
    in_flight += o.in_flight;
    deferred += o.deferred;
    requeued += o.requeued;
    timed_out += o.timed_out;
    messages += o.messages;
    clients += o.clients;
    found |= o.found;
  }
};

struct Options {
  std::string topic, channel;
  std::vector<std::string> nsqd_http, lookupd_http, brokers, discovery;
  absl::Duration request_timeout = absl::Seconds(5);
  grpcutil::ClientOptions grpc_options;  // --grpc-tls-*, --grpc-auth-secret
};

// The brokers to poll: HTTP "host:port" (NSQ) or gRPC "host:port" (ours).
absl::StatusOr<std::vector<std::string>> Producers(const Options& o) {
  if (!o.nsqd_http.empty()) return o.nsqd_http;
  if (!o.brokers.empty()) return o.brokers;
  std::set<std::string> out;
  absl::Status last = absl::OkStatus();
  for (const std::string& l : o.lookupd_http) {
    auto p = client::LookupdLookup(l, o.topic, o.request_timeout);
    if (!p.ok()) {
      last = p.status();
      continue;
    }
    for (const auto& x : *p) out.insert(x.HttpAddress());
  }
  for (const std::string& d : o.discovery) {
    auto channel = grpcutil::MakeChannel(d, o.grpc_options);
    if (!channel.ok()) return channel.status();
    auto stub = nsq::v1::Discovery::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(o.request_timeout));
    nsq::v1::LookupRequest req;
    req.set_topic(o.topic);
    nsq::v1::LookupResponse resp;
    grpc::Status st = stub->Lookup(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
      last = absl::UnavailableError(absl::StrCat("discovery ", d, ": ", st.error_message()));
      continue;
    }
    for (const auto& p : resp.producers()) {
      if (p.grpc_port() > 0) out.insert(net::JoinHostPort(p.broadcast_address(), static_cast<uint16_t>(p.grpc_port())));
    }
  }
  if (out.empty() && !last.ok()) return last;
  return std::vector<std::string>(out.begin(), out.end());
}

absl::StatusOr<ChannelFigures> PollHttp(const Options& o, const std::string& address) {
  auto r = http::HttpRequest("GET", address,
                             absl::StrCat("/stats?format=json&topic=", o.topic, "&channel=", o.channel,
                                          "&include_clients=false"),
                             "", {}, o.request_timeout);
  if (!r.ok()) return r.status();
  if (r->status != 200) return absl::UnavailableError(absl::StrCat(address, "/stats: HTTP ", r->status));
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(absl::StrCat(address, "/stats: bad JSON"));
  if (j.contains("data") && j.contains("status_code")) j = j["data"];
  ChannelFigures f;
  for (const auto& t : j.value("topics", nlohmann::json::array())) {
    if (t.value("topic_name", "") != o.topic) continue;
    for (const auto& c : t.value("channels", nlohmann::json::array())) {
      if (c.value("channel_name", "") != o.channel) continue;
      f.found = true;
      f.depth += c.value("depth", int64_t{0});
      f.backend_depth += c.value("backend_depth", int64_t{0});
      f.in_flight += c.value("in_flight_count", int64_t{0});
      f.deferred += c.value("deferred_count", int64_t{0});
      f.requeued += c.value("requeue_count", int64_t{0});
      f.timed_out += c.value("timeout_count", int64_t{0});
      f.messages += c.value("message_count", int64_t{0});
      f.clients += c.contains("client_count") ? c.value("client_count", int64_t{0})
                                              : static_cast<int64_t>(c.value("clients", nlohmann::json::array()).size());
    }
  }
  return f;
}

absl::StatusOr<ChannelFigures> PollGrpc(const Options& o, const std::string& address) {
  auto channel = grpcutil::MakeChannel(address, o.grpc_options);
  if (!channel.ok()) return channel.status();
  auto stub = nsq::v1::Broker::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(o.request_timeout));
  nsq::v1::GetStatsRequest req;
  req.set_topic(o.topic);
  req.set_channel(o.channel);
  req.set_exclude_clients(true);
  nsq::v1::GetStatsResponse resp;
  grpc::Status st = stub->GetStats(&ctx, req, &resp);
  if (!st.ok()) return absl::UnavailableError(absl::StrCat(address, ": ", st.error_message()));
  ChannelFigures f;
  for (const auto& t : resp.topics()) {
    if (t.topic_name() != o.topic) continue;
    for (const auto& c : t.channels()) {
      if (c.channel_name() != o.channel) continue;
      f.found = true;
      f.depth += c.depth();
      f.backend_depth += c.backend_depth();
      f.in_flight += c.in_flight_count();
      f.deferred += c.deferred_count();
      f.requeued += static_cast<int64_t>(c.requeue_count());
      f.timed_out += static_cast<int64_t>(c.timeout_count());
      f.messages += static_cast<int64_t>(c.message_count());
      f.clients += c.client_count();
    }
  }
  return f;
}

absl::StatusOr<ChannelFigures> Poll(const Options& o) {
  auto producers = Producers(o);
  if (!producers.ok()) return producers.status();
  const bool grpc = !o.brokers.empty() || !o.discovery.empty();
  ChannelFigures total;
  for (const std::string& p : *producers) {
    auto f = grpc ? PollGrpc(o, p) : PollHttp(o, p);
    if (!f.ok()) return f.status();
    total.Add(*f);
  }
  if (!total.found) {
    return absl::NotFoundError(absl::StrCat("channel ", o.channel, " of topic ", o.topic, " not found"));
  }
  return total;
}

int Run(int argc, char** argv) {
  process::BlockShutdownSignals();
  Options o;
  absl::Duration interval = absl::Seconds(2);
  absl::Duration connect_timeout = absl::Seconds(2);
  int64_t count = 0;
  flags::FlagSet fs(kTool);
  fs.AddString("topic", &o.topic, "NSQ topic");
  fs.AddString("channel", &o.channel, "NSQ channel");
  fs.AddDuration("interval", &interval, "duration of time between polling/printing output");
  fs.AddDuration("http-client-connect-timeout", &connect_timeout, "timeout for HTTP connect");
  fs.AddDuration("http-client-request-timeout", &o.request_timeout, "timeout for HTTP request");
  fs.AddInt64("count", &count, "number of reports (0: until interrupted)");
  fs.AddStringList("nsqd-http-address", &o.nsqd_http, "nsqd HTTP address (may be given multiple times)");
  fs.AddStringList("lookupd-http-address", &o.lookupd_http, "lookupd HTTP address (may be given multiple times)");
  fs.AddStringList("broker-address", &o.brokers, "broker gRPC address (may be given multiple times)");
  fs.AddStringList("discovery-address", &o.discovery, "discovery gRPC address (may be given multiple times)");
  grpcutil::RegisterClientFlags(&fs, &o.grpc_options);
  if (auto code = ParseFlags(fs, argc, argv, kTool)) return *code;
  auto bad = [](std::string m) { return Fail(kTool, absl::InvalidArgumentError(std::move(m))); };
  if (o.topic.empty() || o.channel.empty()) return bad("--topic and --channel are required");
  if (auto st = CheckName("topic", o.topic, "topic"); !st.ok()) return Fail(kTool, st);
  if (auto st = CheckName("channel", o.channel, "channel"); !st.ok()) return Fail(kTool, st);
  if (interval <= absl::ZeroDuration()) return bad("--interval should be positive");
  if (connect_timeout <= absl::ZeroDuration()) return bad("--http-client-connect-timeout should be positive");
  if (o.request_timeout <= absl::ZeroDuration()) return bad("--http-client-request-timeout should be positive");
  if (count < 0) return bad("--count should be positive");
  const int kinds = !o.nsqd_http.empty() + !o.lookupd_http.empty() + !o.brokers.empty() + !o.discovery.empty();
  if (kinds != 1) {
    return bad("exactly one of --nsqd-http-address, --lookupd-http-address, --broker-address, --discovery-address required");
  }
  for (auto* list : {&o.nsqd_http, &o.lookupd_http, &o.brokers, &o.discovery}) {
    const char* flag = list == &o.nsqd_http ? "nsqd-http-address"
                       : list == &o.lookupd_http ? "lookupd-http-address"
                       : list == &o.brokers ? "broker-address"
                                            : "discovery-address";
    for (const std::string& a : *list) {
      if (a.rfind("http", 0) == 0) return bad(absl::StrCat("--", flag, " ", a, ": address should not contain scheme"));
      if (auto st = client::CheckReachable(a, connect_timeout); !st.ok()) {
        return bad(absl::StrCat("--", flag, " ", a, ": ", std::string(st.message())));
      }
    }
  }

  if (auto st = grpcutil::ValidateClientOptions(o.grpc_options); !st.ok()) {
    return bad(absl::StrCat("--grpc-tls-*: ", std::string(st.message())));
  }

  const double secs = absl::ToDoubleSeconds(interval);
  ChannelFigures prev;
  bool have_prev = false;
  for (int64_t row = 0; count == 0 || row < count;) {
    auto f = Poll(o);
    if (!f.ok()) return Fail(kTool, f.status());
    if (row % 25 == 0 && !have_prev) {
      std::printf("------rate------+----------------depth----------------+--------------metadata---------------\n");
      std::printf("%7s %7s | %7s %7s %7s %5s %5s | %7s %7s %12s %7s\n", "ingress", "egress", "total", "mem", "disk",
                  "inflt", "def", "req", "t-o", "msgs", "clients");
    }
    if (have_prev) {
      if (row > 0 && row % 25 == 0) {
        std::printf("------rate------+----------------depth----------------+--------------metadata---------------\n");
        std::printf("%7s %7s | %7s %7s %7s %5s %5s | %7s %7s %12s %7s\n", "ingress", "egress", "total", "mem",
                    "disk", "inflt", "def", "req", "t-o", "msgs", "clients");
      }
      const int64_t in = static_cast<int64_t>(static_cast<double>(f->messages - prev.messages) / secs);
      const int64_t out = static_cast<int64_t>(
          static_cast<double>(f->messages - prev.messages - (f->depth - prev.depth)) / secs);
      std::printf("%7lld %7lld | %7lld %7lld %7lld %5lld %5lld | %7lld %7lld %12lld %7lld\n",
                  static_cast<long long>(in), static_cast<long long>(out), static_cast<long long>(f->depth),
                  static_cast<long long>(f->depth - f->backend_depth), static_cast<long long>(f->backend_depth),
                  static_cast<long long>(f->in_flight), static_cast<long long>(f->deferred),
                  static_cast<long long>(f->requeued), static_cast<long long>(f->timed_out),
                  static_cast<long long>(f->messages), static_cast<long long>(f->clients));
      std::fflush(stdout);
      ++row;
    }
    prev = *f;
    have_prev = true;
    if (count != 0 && row >= count) break;
    if (process::WaitForShutdownSignalFor(interval)) break;
  }
  return 0;
}

}  // namespace
}  // namespace nsq::tools

int main(int argc, char** argv) { return nsq::tools::Run(argc, argv); }
