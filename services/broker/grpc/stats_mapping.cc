#include "services/broker/grpc/stats_mapping.h"

#include "absl/time/time.h"
#include "nsq/v1/broker.pb.h"
#include "services/broker/grpc/status.h"

namespace nsq::broker {

namespace {

void E2eToProto(const E2eLatencyStats& e2e, nsq::v1::E2eLatency* proto) {
  proto->set_count(e2e.window_count);
  for (const E2ePercentile& p : e2e.percentiles) {
    nsq::v1::E2eLatency::Percentile* out = proto->add_percentiles();
    out->set_quantile(p.quantile);
    out->set_value_ns(p.value_ns);
  }
}

}  // namespace

void AddTopicStats(const std::vector<TopicStats>& stats, bool include_clients,
                   nsq::v1::GetStatsResponse* response) {
  for (const TopicStats& t : stats) {
    nsq::v1::TopicStats* topic = response->add_topics();
    topic->set_topic_name(t.name);
    topic->set_depth(t.depth);
    topic->set_backend_depth(t.backend_depth);
    topic->set_message_count(t.message_count);
    topic->set_message_bytes(t.message_bytes);
    topic->set_paused(t.paused);
    if (t.e2e.has_percentiles) E2eToProto(t.e2e, topic->mutable_e2e_processing_latency());
    for (const ChannelStats& c : t.channels) {
      nsq::v1::ChannelStats* channel = topic->add_channels();
      channel->set_channel_name(c.name);
      channel->set_depth(c.depth);
      channel->set_backend_depth(c.backend_depth);
      channel->set_in_flight_count(c.in_flight_count);
      channel->set_deferred_count(c.deferred_count);
      channel->set_message_count(c.message_count);
      channel->set_requeue_count(c.requeue_count);
      channel->set_timeout_count(c.timeout_count);
      channel->set_client_count(c.consumer_count);
      channel->set_paused(c.paused);
      channel->set_held_in_memory_count(c.held_count);
      channel->set_zone_local_msg_count(c.zone_local_msg_count);
      channel->set_region_local_msg_count(c.region_local_msg_count);
      channel->set_global_msg_count(c.global_msg_count);
      if (c.policy.active()) PolicyToProto(c.policy, channel->mutable_policy());
      channel->set_attempts_exceeded_count(c.attempts_exceeded_count);
      channel->set_expired_count(c.expired_count);
      channel->set_dead_letter_count(c.dead_letter_count);
      channel->set_depth_dropped_count(c.depth_dropped_count);
      channel->set_depth_rejected_count(c.depth_rejected_count);
      if (c.e2e.has_percentiles) E2eToProto(c.e2e, channel->mutable_e2e_processing_latency());
      if (!include_clients) continue;
      for (const ConsumerStats& s : c.consumers) {
        nsq::v1::ClientStats* client = channel->add_clients();
        client->set_client_id(Printable(s.info.client_id));
        client->set_hostname(Printable(s.info.hostname));
        client->set_user_agent(Printable(s.info.user_agent));
        client->set_remote_address(s.info.remote_address);
        client->set_protocol(s.info.protocol);
        client->set_ready_count(s.ready_count);
        client->set_in_flight_count(s.in_flight_count);
        client->set_message_count(s.message_count);
        client->set_finish_count(s.finish_count);
        client->set_requeue_count(s.requeue_count);
        client->set_connect_ts_ns(absl::ToUnixNanos(s.connect_time));
        client->set_msg_timeout_ms(absl::ToInt64Milliseconds(s.msg_timeout));
        client->set_topology_zone(Printable(s.info.topology_zone));
        client->set_topology_region(Printable(s.info.topology_region));
      }
    }
  }
}

QueuePolicy PolicyFromProto(const nsq::v1::ChannelPolicy& proto) {
  QueuePolicy p;
  p.max_attempts = proto.max_attempts();
  p.dead_letter_topic = proto.dead_letter_topic();
  p.message_ttl = absl::Milliseconds(proto.message_ttl_ms());
  p.dead_letter_expired = proto.dead_letter_expired();
  p.max_depth = proto.max_depth();
  p.depth_policy = proto.depth_policy() == nsq::v1::ChannelPolicy::DROP_OLDEST ? DepthPolicy::kDropOldest
                                                                              : DepthPolicy::kRejectNew;
  return p;
}

void PolicyToProto(const QueuePolicy& p, nsq::v1::ChannelPolicy* proto) {
  proto->set_max_attempts(p.max_attempts);
  proto->set_dead_letter_topic(p.dead_letter_topic);
  proto->set_message_ttl_ms(absl::ToInt64Milliseconds(p.message_ttl));
  proto->set_dead_letter_expired(p.dead_letter_expired);
  proto->set_max_depth(p.max_depth);
  proto->set_depth_policy(p.depth_policy == DepthPolicy::kDropOldest ? nsq::v1::ChannelPolicy::DROP_OLDEST
                                                                     : nsq::v1::ChannelPolicy::REJECT_NEW);
}

void PeekedToProto(const PeekedMessage& p, nsq::v1::PeekedMessage* proto) {
  switch (p.state) {
    case PeekedMessage::State::kInFlight:
      proto->set_state(nsq::v1::PeekedMessage::IN_FLIGHT);
      break;
    case PeekedMessage::State::kReady:
      proto->set_state(nsq::v1::PeekedMessage::READY);
      break;
    case PeekedMessage::State::kDeferred:
      proto->set_state(nsq::v1::PeekedMessage::DEFERRED);
      break;
  }
  nsq::v1::Message* m = proto->mutable_message();
  m->set_id(std::string(p.message->id.view()));
  m->set_timestamp_ns(p.message->timestamp_ns);
  m->set_attempts(p.attempts);
  m->set_body(p.message->body);
  if (const MessageOrigin* o = p.message->origin.get()) {
    nsq::v1::Origin* origin = m->mutable_origin();
    origin->set_topic(o->topic);
    origin->set_channel(o->channel);
    origin->set_id(std::string(o->id.view()));
    origin->set_attempts(o->attempts);
    origin->set_reason(static_cast<nsq::v1::Origin::Reason>(o->reason));
  }
  proto->set_due_ns(p.due_ns);
  proto->set_deadline_ns(p.deadline_ns);
  proto->set_client_id(Printable(p.consumer));
}

}  // namespace nsq::broker
