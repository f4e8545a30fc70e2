#include "services/broker/grpc/stats_mapping.h"

#include "absl/time/time.h"
#include "nsq/v1/broker.pb.h"
#include "services/broker/grpc/status.h"

namespace nsq::broker {

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

}  // namespace nsq::broker
