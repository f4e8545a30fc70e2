#include "services/broker/legacy/stats_render.h"

#include <cstdarg>
#include <cstdint>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/flags/flags.h"
#include "common/json/go_json.h"
#include "services/broker/legacy/policy_json.h"
#include "services/broker/legacy/v2_protocol.h"

namespace nsq::legacy {
namespace {

using json::GoJsonWriter;

// nsqd's memory figures come from the Go runtime; we keep the keys, with zeros.
constexpr const char* kMemoryKeys[] = {"heap_objects",      "heap_idle_bytes",  "heap_in_use_bytes",
                                       "heap_released_bytes", "gc_pause_usec_100", "gc_pause_usec_99",
                                       "gc_pause_usec_95",  "next_gc_bytes",    "gc_total_runs"};

std::string GoDuration(absl::Duration d) { return flags::FormatGoDuration(d); }

std::string Printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < static_cast<int>(sizeof(buf))) return std::string(buf, n > 0 ? n : 0);
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  return big;
}

// E2E processing latency is not computed yet: nsqd's shape with no samples.
// nsqd's quantile.Result: {"count":0,"percentiles":null} without
// --e2e-processing-latency-percentile; with it, the window's count and one
// {"quantile":q,"value":ns} map per percentile (Go sorts map keys).
void WriteE2e(GoJsonWriter& w, const broker::E2eLatencyStats& e2e) {
  w.BeginObject().Key("count").Uint(e2e.has_percentiles ? e2e.window_count : 0).Key("percentiles");
  if (!e2e.has_percentiles) {
    w.Null();
  } else {
    w.BeginArray();
    for (const broker::E2ePercentile& p : e2e.percentiles) {
      w.BeginObject().Key("quantile").Float(p.quantile).Key("value").Float(p.value_ns).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

// quantile.Result's String(): stringy.NanoSecondToHuman of each value, comma separated.
std::string E2eText(const broker::E2eLatencyStats& e2e) {
  std::string out;
  for (const broker::E2ePercentile& p : e2e.percentiles) {
    double v = p.value_ns;
    const char* suffix = "ns";
    if (v > 1e9) {
      v /= 1e9;
      suffix = "s";
    } else if (v > 1e6) {
      v /= 1e6;
      suffix = "ms";
    } else if (v > 1e3) {
      v /= 1e3;
      suffix = "us";
    }
    absl::StrAppend(&out, out.empty() ? "" : ", ", absl::StrFormat("%0.1f%s", v, suffix));
  }
  return out;
}

// nsqd's ClientStats: a V2 connection (`v2`), a consumer (`c`), or both.
void WriteClient(GoJsonWriter& w, const V2ClientInfo* v2, const broker::ConsumerStats* c,
                 const std::string& topic_filter) {
  const broker::ConsumerInfo* info = c ? &c->info : nullptr;
  w.BeginObject();
  w.Key("client_id").String(v2 ? v2->client_id : info->client_id);
  w.Key("hostname").String(v2 ? v2->hostname : info->hostname);
  w.Key("version").String(v2 ? "V2" : info->protocol);
  w.Key("remote_address").String(v2 ? v2->remote_address : info->remote_address);
  w.Key("state").Int(v2 ? v2->state : 3);
  w.Key("ready_count").Int(c ? c->ready_count : 0);
  w.Key("in_flight_count").Int(c ? c->in_flight_count : 0);
  w.Key("message_count").Uint(c ? c->message_count : 0);
  w.Key("finish_count").Uint(c ? c->finish_count : 0);
  w.Key("requeue_count").Uint(c ? c->requeue_count : 0);
  w.Key("connect_ts").Int(absl::ToUnixSeconds(v2 ? v2->connect_time : c->connect_time));
  w.Key("sample_rate").Int(v2 ? v2->sample_rate : 0);
  w.Key("deflate").Bool(v2 ? v2->deflate : false);
  w.Key("snappy").Bool(v2 ? v2->snappy : false);
  w.Key("user_agent").String(v2 ? v2->user_agent : info->user_agent);
  if (v2 && v2->authed) {
    w.Key("authed").Bool(true);
    if (!v2->auth_identity.empty()) w.Key("auth_identity").String(v2->auth_identity);
    if (!v2->auth_identity_url.empty()) w.Key("auth_identity_url").String(v2->auth_identity_url);
  }
  // nsqd's ClientV2Stats order: topology, then pub_counts.
  w.Key("topology_zone").String(v2 ? v2->topology_zone : info->topology_zone);
  w.Key("topology_region").String(v2 ? v2->topology_region : info->topology_region);
  if (v2) {
    std::vector<std::pair<std::string, uint64_t>> counts;
    for (const auto& [topic, count] : v2->pub_counts) {
      if (!topic_filter.empty() && topic != topic_filter) continue;
      counts.emplace_back(topic, count);
    }
    if (!counts.empty()) {
      w.Key("pub_counts").BeginArray();
      for (const auto& [topic, count] : counts) {
        w.BeginObject().Key("topic").String(topic).Key("count").Uint(count).EndObject();
      }
      w.EndArray();
    }
  }
  w.Key("tls").Bool(v2 ? v2->tls : false);
  w.Key("tls_cipher_suite").String(v2 ? v2->tls_cipher_suite : "");
  w.Key("tls_version").String(v2 ? v2->tls_version : "");
  w.Key("tls_negotiated_protocol").String("");
  w.Key("tls_negotiated_protocol_is_mutual").Bool(false);
  w.EndObject();
}

// Beyond NSQ: the QueuePolicy counters when non-zero and the policy when one is set, so
// that a channel without a policy shows nsqd's keys only.
void WritePolicyStats(GoJsonWriter& w, const broker::ChannelStats& c) {
  if (c.attempts_exceeded_count > 0) w.Key("attempts_exceeded_count").Uint(c.attempts_exceeded_count);
  if (c.expired_count > 0) w.Key("expired_count").Uint(c.expired_count);
  if (c.dead_letter_count > 0) w.Key("dead_letter_count").Uint(c.dead_letter_count);
  if (c.depth_dropped_count > 0) w.Key("depth_dropped_count").Uint(c.depth_dropped_count);
  if (c.depth_rejected_count > 0) w.Key("depth_rejected_count").Uint(c.depth_rejected_count);
  if (c.policy.active()) {
    w.Key("policy");
    WritePolicy(w, c.policy);
  }
}

void WriteChannel(GoJsonWriter& w, const StatsPage& page, const broker::ChannelStats& c) {
  w.BeginObject();
  w.Key("channel_name").String(c.name);
  w.Key("depth").Int(c.depth);
  w.Key("backend_depth").Int(c.backend_depth);
  // Not in nsqd (which drops such messages): shown only when there are some, so that
  // nsqd's bytes stay as they are otherwise.
  if (c.held_count > 0) w.Key("held_in_memory_count").Int(c.held_count);
  w.Key("in_flight_count").Int(c.in_flight_count);
  w.Key("deferred_count").Int(c.deferred_count);
  w.Key("message_count").Uint(c.message_count);
  // omitempty in nsqd.
  if (c.zone_local_msg_count > 0) w.Key("zone_local_msg_count").Uint(c.zone_local_msg_count);
  if (c.region_local_msg_count > 0) w.Key("region_local_msg_count").Uint(c.region_local_msg_count);
  if (c.global_msg_count > 0) w.Key("global_msg_count").Uint(c.global_msg_count);
  w.Key("requeue_count").Uint(c.requeue_count);
  w.Key("timeout_count").Uint(c.timeout_count);
  WritePolicyStats(w, c);
  w.Key("client_count").Int(c.consumer_count);
  w.Key("clients");
  if (page.include_clients) {
    w.BeginArray();
    for (const broker::ConsumerStats& cons : c.consumers) {
      WriteClient(w, page.V2For(cons), &cons, page.topic_filter);
    }
    w.EndArray();
  } else {
    w.Null();
  }
  w.Key("paused").Bool(c.paused);
  w.Key("e2e_processing_latency");
  WriteE2e(w, c.e2e);
  w.EndObject();
}

void WriteTopic(GoJsonWriter& w, const StatsPage& page, const broker::TopicStats& t) {
  w.BeginObject();
  w.Key("topic_name").String(t.name);
  w.Key("channels").BeginArray();
  for (const broker::ChannelStats& c : t.channels) WriteChannel(w, page, c);
  w.EndArray();
  w.Key("depth").Int(t.depth);
  w.Key("backend_depth").Int(t.backend_depth);
  w.Key("message_count").Uint(t.message_count);
  w.Key("message_bytes").Uint(t.message_bytes);
  w.Key("paused").Bool(t.paused);
  w.Key("e2e_processing_latency");
  WriteE2e(w, t.e2e);
  w.EndObject();
}

std::string ClientText(const V2ClientInfo* v2, const broker::ConsumerStats* c, absl::Time now) {
  const std::string remote = v2 ? v2->remote_address : c->info.remote_address;
  const std::string port = remote.substr(remote.rfind(':') + 1);
  const std::string id = absl::StrCat(v2 ? v2->hostname : c->info.hostname, ":", port, " ",
                                      v2 ? v2->user_agent : c->info.user_agent);
  const absl::Time connected = v2 ? v2->connect_time : c->connect_time;
  const std::string duration = GoDuration(absl::Trunc(now - connected, absl::Seconds(1)));
  const std::string version = v2 ? "V2" : c->info.protocol;
  if (c == nullptr) {
    uint64_t total = 0;
    std::vector<std::string> topics;
    for (const auto& [topic, count] : v2->pub_counts) {
      total += count;
      topics.push_back(absl::StrCat(topic, "=", count));
    }
    return Printf("[%s %-21s] msgs: %-8llu topics: %s connected: %s", version.c_str(), id.c_str(),
                  static_cast<unsigned long long>(total), absl::StrJoin(topics, ",").c_str(),
                  duration.c_str());
  }
  return Printf(
      "[%s %-21s] state: %d inflt: %-4lld rdy: %-4lld fin: %-8llu re-q: %-8llu msgs: %-8llu "
      "connected: %s",
      version.c_str(), id.c_str(), v2 ? v2->state : 3, static_cast<long long>(c->in_flight_count),
      static_cast<long long>(c->ready_count), static_cast<unsigned long long>(c->finish_count),
      static_cast<unsigned long long>(c->requeue_count),
      static_cast<unsigned long long>(c->message_count), duration.c_str());
}

}  // namespace

const V2ClientInfo* StatsPage::V2For(const broker::ConsumerStats& c) const {
  if (c.info.protocol != "V2") return nullptr;
  auto it = v2_by_address.find(c.info.remote_address);
  return it == v2_by_address.end() ? nullptr : &it->second;
}

std::string StatsJson(const StatsPage& page) {
  GoJsonWriter w;
  w.BeginObject();
  w.Key("version").String(kNsqdVersion);
  w.Key("health").String(page.health);
  w.Key("start_time").Int(absl::ToUnixSeconds(page.start_time));
  w.Key("topics");
  if (!page.found) {
    w.Null();
  } else {
    w.BeginArray();
    for (const broker::TopicStats& t : page.topics) WriteTopic(w, page, t);
    w.EndArray();
  }
  if (page.include_mem) {
    w.Key("memory").BeginObject();
    for (const char* k : kMemoryKeys) w.Key(k).Int(0);
    w.EndObject();
  }
  w.Key("producers");
  if (page.producers.empty()) {
    w.Null();
  } else {
    w.BeginArray();
    for (const V2ClientInfo& p : page.producers) WriteClient(w, &p, nullptr, page.topic_filter);
    w.EndArray();
  }
  w.EndObject();
  return w.Release();
}

std::string StatsText(const StatsPage& page, absl::Time now) {
  std::string w;
  absl::StrAppend(&w, "nsqd v", kNsqdVersion, " (built w/nsq-cpp)\n");
  std::string start = absl::FormatTime(absl::RFC3339_sec, page.start_time, absl::LocalTimeZone());
  if (absl::EndsWith(start, "+00:00")) start = start.substr(0, start.size() - 6) + "Z";  // as Go
  absl::StrAppend(&w, "start_time ", start, "\n");
  absl::StrAppend(&w, "uptime ", GoDuration(now - page.start_time), "\n");
  absl::StrAppend(&w, "\nHealth: ", page.health, "\n");
  if (page.include_mem) {
    absl::StrAppend(&w, "\nMemory:\n");
    for (const char* k : kMemoryKeys) {
      w += Printf("   %-25s\t%d\n", k, 0);
    }
  }
  if (page.topics.empty()) {
    w += "\nTopics: None\n";
  } else {
    w += "\nTopics:";
  }
  for (const broker::TopicStats& t : page.topics) {
    w += Printf("\n%s[%-15s] depth: %-5lld be-depth: %-5lld msgs: %-8llu e2e%%: %s\n",
                t.paused ? "*P " : "   ", t.name.c_str(), static_cast<long long>(t.depth),
                static_cast<long long>(t.backend_depth),
                static_cast<unsigned long long>(t.message_count), E2eText(t.e2e).c_str());
    for (const broker::ChannelStats& c : t.channels) {
      w += Printf(
          "%s[%-25s] depth: %-5lld be-depth: %-5lld inflt: %-4lld def: %-4lld re-q: %-5llu "
          "timeout: %-5llu msgs: %-8llu e2e%%: %s\n",
          c.paused ? "   *P " : "      ", c.name.c_str(), static_cast<long long>(c.depth),
          static_cast<long long>(c.backend_depth), static_cast<long long>(c.in_flight_count),
          static_cast<long long>(c.deferred_count), static_cast<unsigned long long>(c.requeue_count),
          static_cast<unsigned long long>(c.timeout_count),
          static_cast<unsigned long long>(c.message_count), E2eText(c.e2e).c_str());
      for (const broker::ConsumerStats& cons : c.consumers) {
        absl::StrAppend(&w, "        ", ClientText(page.V2For(cons), &cons, now), "\n");
      }
    }
  }
  if (page.producers.empty()) {
    w += "\nProducers: None\n";
  } else {
    w += "\nProducers:\n";
    for (const V2ClientInfo& p : page.producers) {
      absl::StrAppend(&w, "   ", ClientText(&p, nullptr, now), "\n");
    }
  }
  return w;
}

}  // namespace nsq::legacy
