#include "services/broker/broker_metrics.h"

#include <limits>
#include <string>

#include "prometheus/client_metric.h"

namespace nsq::broker {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Add(MetricFamily* f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f->type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f->metric.push_back(std::move(m));
}

// Beyond NSQ: the QueuePolicy counters of every channel (kept apart from the stock
// families above so that either list changes on its own).
std::vector<MetricFamily> PolicyFamilies(const std::vector<TopicStats>& stats) {
  const auto C = MetricType::Counter;
  MetricFamily exceeded = Family("nsq_channel_attempts_exceeded_total",
                                 "Messages that reached the channel's max_attempts", C);
  MetricFamily expired = Family("nsq_channel_expired_total",
                                "Messages older than the channel's message_ttl, not delivered", C);
  MetricFamily dead = Family("nsq_channel_dead_lettered_total",
                             "Messages the channel sent to its dead-letter topic", C);
  MetricFamily dropped = Family("nsq_channel_depth_dropped_total",
                                "Oldest messages dropped at the channel's max_depth (drop_oldest)", C);
  MetricFamily rejected = Family("nsq_channel_depth_rejected_total",
                                 "Messages refused at the channel's max_depth (reject_new)", C);
  for (const TopicStats& t : stats) {
    for (const ChannelStats& c : t.channels) {
      std::vector<ClientMetric::Label> cl = {{"channel", c.name}, {"topic", t.name}};
      Add(&exceeded, cl, static_cast<double>(c.attempts_exceeded_count));
      Add(&expired, cl, static_cast<double>(c.expired_count));
      Add(&dead, cl, static_cast<double>(c.dead_letter_count));
      Add(&dropped, cl, static_cast<double>(c.depth_dropped_count));
      Add(&rejected, cl, static_cast<double>(c.depth_rejected_count));
    }
  }
  return {exceeded, expired, dead, dropped, rejected};
}

// Publish-to-FIN latency as a Prometheus histogram (cumulative buckets, +Inf last).
void AddE2e(MetricFamily* f, std::vector<ClientMetric::Label> labels, const E2eLatencyStats& e2e) {
  if (e2e.buckets.empty()) return;  // not recorded (EngineOptions::record_e2e_latency off)
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = e2e.count;
  m.histogram.sample_sum = e2e.sum_seconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < e2e.buckets.size(); ++i) {
    cumulative += e2e.buckets[i];
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < kE2eBucketBoundsSeconds.size() ? kE2eBucketBoundsSeconds[i]
                                                       : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  f->metric.push_back(std::move(m));
}

}  // namespace

BrokerMetrics::BrokerMetrics(const Engine* engine, absl::Time start_time,
                             const storage::RocksStorage* storage)
    : engine_(engine), start_time_(start_time), storage_(storage) {}

std::vector<MetricFamily> BrokerMetrics::Collect() const {
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  MetricFamily healthy = Family("nsq_broker_healthy", "1 if storage is healthy, else 0", G);
  MetricFamily start = Family("nsq_broker_start_time_seconds", "Start time of the broker, Unix seconds", G);
  MetricFamily topics = Family("nsq_broker_topics", "Number of topics", G);
  MetricFamily t_msgs = Family("nsq_topic_messages_total", "Messages published to the topic", C);
  MetricFamily t_bytes = Family("nsq_topic_message_bytes_total", "Body bytes published to the topic", C);
  MetricFamily t_depth = Family("nsq_topic_depth", "Messages held by the topic (no channel yet, or paused)", G);
  MetricFamily t_bdepth = Family("nsq_topic_backend_depth", "Of the topic's depth, messages in the storage backend", G);
  MetricFamily t_paused = Family("nsq_topic_paused", "1 if the topic is paused", G);
  MetricFamily t_channels = Family("nsq_topic_channels", "Number of channels of the topic", G);
  MetricFamily c_msgs = Family("nsq_channel_messages_total", "Messages put on the channel", C);
  MetricFamily c_depth = Family("nsq_channel_depth", "Messages waiting for delivery on the channel", G);
  MetricFamily c_bdepth = Family("nsq_channel_backend_depth", "Of the channel's depth, messages in the storage backend", G);
  MetricFamily c_held = Family("nsq_channel_held_in_memory",
                                "Of the channel's depth, messages kept in memory because storage refused them", G);
  MetricFamily c_inflight = Family("nsq_channel_in_flight", "Messages delivered and not yet finished", G);
  MetricFamily c_deferred = Family("nsq_channel_deferred", "Messages waiting for their delay to pass", G);
  MetricFamily c_requeued = Family("nsq_channel_requeued_total", "Messages requeued by consumers", C);
  MetricFamily c_timedout = Family("nsq_channel_timed_out_total", "Messages whose in-flight timeout passed", C);
  MetricFamily c_clients = Family("nsq_channel_clients", "Consumers subscribed to the channel", G);
  MetricFamily c_paused = Family("nsq_channel_paused", "1 if the channel is paused", G);
  MetricFamily c_e2e = Family("nsq_channel_e2e_latency_seconds",
                              "Time from publish to FIN of the channel's finished messages", MetricType::Histogram);

  Add(&healthy, {}, engine_->Health().ok() ? 1 : 0);
  Add(&start, {}, absl::ToDoubleSeconds(start_time_ - absl::UnixEpoch()));
  StatsFilter filter;
  filter.include_consumers = false;
  auto stats = engine_->GetStats(filter);
  if (stats.ok()) {
    Add(&topics, {}, static_cast<double>(stats->size()));
    for (const TopicStats& t : *stats) {
      std::vector<ClientMetric::Label> tl = {{"topic", t.name}};
      Add(&t_msgs, tl, static_cast<double>(t.message_count));
      Add(&t_bytes, tl, static_cast<double>(t.message_bytes));
      Add(&t_depth, tl, static_cast<double>(t.depth));
      Add(&t_bdepth, tl, static_cast<double>(t.backend_depth));
      Add(&t_paused, tl, t.paused ? 1 : 0);
      Add(&t_channels, tl, static_cast<double>(t.channels.size()));
      for (const ChannelStats& c : t.channels) {
        std::vector<ClientMetric::Label> cl = {{"channel", c.name}, {"topic", t.name}};
        Add(&c_msgs, cl, static_cast<double>(c.message_count));
        Add(&c_depth, cl, static_cast<double>(c.depth));
        Add(&c_bdepth, cl, static_cast<double>(c.backend_depth));
        Add(&c_held, cl, static_cast<double>(c.held_count));
        Add(&c_inflight, cl, static_cast<double>(c.in_flight_count));
        Add(&c_deferred, cl, static_cast<double>(c.deferred_count));
        Add(&c_requeued, cl, static_cast<double>(c.requeue_count));
        Add(&c_timedout, cl, static_cast<double>(c.timeout_count));
        Add(&c_clients, cl, static_cast<double>(c.consumer_count));
        Add(&c_paused, cl, c.paused ? 1 : 0);
        AddE2e(&c_e2e, cl, c.e2e);
      }
    }
  }
  std::vector<MetricFamily> storage_families;
  if (storage_ != nullptr) {
    const storage::StorageCounters sc = storage_->Counters();
    MetricFamily written = Family("nsq_storage_written_bytes_total",
                                  "Bytes the storage wrote to disk, by kind of write", C);
    Add(&written, {{"kind", "wal"}}, static_cast<double>(sc.wal_bytes));
    Add(&written, {{"kind", "flush"}}, static_cast<double>(sc.flush_bytes));
    Add(&written, {{"kind", "compaction"}}, static_cast<double>(sc.compaction_bytes));
    MetricFamily corrupt = Family("nsq_storage_corrupt_records_total",
                                  "Stored records that failed their checksum and were skipped", C);
    Add(&corrupt, {}, static_cast<double>(sc.corrupt_records));
    MetricFamily syncs = Family("nsq_storage_syncs_total", "fsyncs of the storage log", C);
    Add(&syncs, {}, static_cast<double>(sc.syncs));
    storage_families = {written, corrupt, syncs};
  }
  std::vector<MetricFamily> out = {healthy, start,     topics,     t_msgs,   t_bytes,    t_depth,    t_bdepth,
          t_paused, t_channels, c_msgs,   c_depth,  c_bdepth,   c_held,   c_inflight, c_deferred,
          c_requeued, c_timedout, c_clients, c_paused};
  out.push_back(std::move(c_e2e));
  out.insert(out.end(), storage_families.begin(), storage_families.end());
  if (stats.ok()) {
    for (MetricFamily& f : PolicyFamilies(*stats)) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace nsq::broker
