#include "services/discovery/registry.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/names/names.h"

namespace nsq::discovery {


bool LookupResult::operator==(const LookupResult& other) const {
  if (channels != other.channels || producers.size() != other.producers.size()) return false;
  for (size_t i = 0; i < producers.size(); ++i) {
    const PeerInfo& a = producers[i];
    const PeerInfo& b = other.producers[i];
    // last_update is left out: a heartbeat is not a change.
    if (a.id != b.id || a.remote_address != b.remote_address || a.hostname != b.hostname ||
        a.broadcast_address != b.broadcast_address || a.tcp_port != b.tcp_port ||
        a.http_port != b.http_port || a.grpc_port != b.grpc_port || a.version != b.version ||
        a.topology_zone != b.topology_zone || a.topology_region != b.topology_region) {
      return false;
    }
  }
  return true;
}

Registry::Registry(RegistryOptions options, const Clock* clock)
    : options_(options), clock_(clock) {}

bool Registry::IsActive(const PeerInfo& peer, absl::Time now) const {
  return now - peer.last_update <= options_.inactive_producer_timeout;
}

void Registry::Notify(std::vector<std::string> topics) {
  RegistryListener* listener = listener_.load();
  if (listener != nullptr && !topics.empty()) listener->TopicsChanged(topics);
}

absl::Status Registry::AddPeer(PeerInfo info) {
  {
    absl::MutexLock lock(&mu_);
    if (peers_.count(info.id) != 0) {
      return absl::AlreadyExistsError(absl::StrCat("peer ", info.id, " already identified"));
    }
    info.last_update = clock_->Now();
    registrations_[Key(kClient, "", "")][info.id] = Producer{};
    std::string id = info.id;
    peers_.emplace(std::move(id), std::move(info));
  }
  return absl::OkStatus();
}

void Registry::RemovePeer(const std::string& id) {
  std::set<std::string> changed;
  {
    absl::MutexLock lock(&mu_);
    if (peers_.erase(id) == 0) return;
    for (auto& [key, producers] : registrations_) {
      if (producers.erase(id) != 0 && std::get<0>(key) != kClient) changed.insert(std::get<1>(key));
    }
  }
  Notify(std::vector<std::string>(changed.begin(), changed.end()));
}

bool Registry::Touch(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(id);
  if (it == peers_.end()) return false;
  it->second.last_update = clock_->Now();
  return true;
}

void Registry::Register(const std::string& id, const std::string& topic,
                        const std::string& channel) {
  {
    absl::MutexLock lock(&mu_);
    if (peers_.count(id) == 0) return;
    if (!channel.empty()) registrations_[Key(kChannel, topic, channel)].try_emplace(id);
    registrations_[Key(kTopic, topic, "")].try_emplace(id);
  }
  Notify({topic});
}

void Registry::Unregister(const std::string& id, const std::string& topic,
                          const std::string& channel) {
  {
    absl::MutexLock lock(&mu_);
    if (peers_.count(id) == 0) return;
    if (!channel.empty()) {
      auto it = registrations_.find(Key(kChannel, topic, channel));
      if (it != registrations_.end()) {
        it->second.erase(id);
        if (it->second.empty() && names::IsEphemeralName(channel)) registrations_.erase(it);
      }
    } else {
      auto it = registrations_.lower_bound(Key(kChannel, topic, ""));
      for (; it != registrations_.end() && std::get<0>(it->first) == kChannel &&
             std::get<1>(it->first) == topic;
           ++it) {
        it->second.erase(id);
      }
      auto t = registrations_.find(Key(kTopic, topic, ""));
      if (t != registrations_.end()) {
        t->second.erase(id);
        if (t->second.empty() && names::IsEphemeralName(topic)) registrations_.erase(t);
      }
    }
  }
  Notify({topic});
}

void Registry::CreateTopic(const std::string& topic) {
  {
    absl::MutexLock lock(&mu_);
    registrations_.try_emplace(Key(kTopic, topic, ""));
  }
  Notify({topic});
}

void Registry::CreateChannel(const std::string& topic, const std::string& channel) {
  {
    absl::MutexLock lock(&mu_);
    registrations_.try_emplace(Key(kChannel, topic, channel));
    registrations_.try_emplace(Key(kTopic, topic, ""));
  }
  Notify({topic});
}

void Registry::DeleteTopic(const std::string& topic) {
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.lower_bound(Key(kChannel, topic, ""));
    while (it != registrations_.end() && std::get<0>(it->first) == kChannel &&
           std::get<1>(it->first) == topic) {
      it = registrations_.erase(it);
    }
    registrations_.erase(Key(kTopic, topic, ""));
  }
  Notify({topic});
}

bool Registry::DeleteChannel(const std::string& topic, const std::string& channel) {
  {
    absl::MutexLock lock(&mu_);
    if (registrations_.erase(Key(kChannel, topic, channel)) == 0) return false;
  }
  Notify({topic});
  return true;
}

int Registry::TombstoneTopicProducer(const std::string& topic, const std::string& node) {
  int count = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = registrations_.find(Key(kTopic, topic, ""));
    if (it == registrations_.end()) return 0;
    const absl::Time now = clock_->Now();
    for (auto& [id, producer] : it->second) {
      auto peer = peers_.find(id);
      if (peer == peers_.end()) continue;
      if (absl::StrCat(peer->second.broadcast_address, ":", peer->second.http_port) != node) {
        continue;
      }
      producer.tombstoned = true;
      producer.tombstoned_at = now;
      ++count;
    }
  }
  if (count > 0) Notify({topic});
  return count;
}

std::optional<LookupResult> Registry::Lookup(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  auto t = registrations_.find(Key(kTopic, topic, ""));
  if (t == registrations_.end()) return std::nullopt;
  LookupResult result;
  for (auto it = registrations_.lower_bound(Key(kChannel, topic, ""));
       it != registrations_.end() && std::get<0>(it->first) == kChannel &&
       std::get<1>(it->first) == topic;
       ++it) {
    result.channels.push_back(std::get<2>(it->first));
  }
  const absl::Time now = clock_->Now();
  for (const auto& [id, producer] : t->second) {
    auto peer = peers_.find(id);
    if (peer == peers_.end() || !IsActive(peer->second, now)) continue;
    if (producer.tombstoned && now - producer.tombstoned_at < options_.tombstone_lifetime) {
      continue;
    }
    result.producers.push_back(peer->second);
  }
  return result;
}

std::vector<std::string> Registry::Topics() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> topics;
  for (auto it = registrations_.lower_bound(Key(kTopic, "", ""));
       it != registrations_.end() && std::get<0>(it->first) == kTopic; ++it) {
    topics.push_back(std::get<1>(it->first));
  }
  return topics;
}

std::vector<std::string> Registry::Channels(const std::string& topic) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> channels;
  for (auto it = registrations_.lower_bound(Key(kChannel, topic, ""));
       it != registrations_.end() && std::get<0>(it->first) == kChannel &&
       std::get<1>(it->first) == topic;
       ++it) {
    channels.push_back(std::get<2>(it->first));
  }
  return channels;
}

std::vector<NodeInfo> Registry::Nodes() const {
  absl::MutexLock lock(&mu_);
  std::vector<NodeInfo> nodes;
  const absl::Time now = clock_->Now();
  auto clients = registrations_.find(Key(kClient, "", ""));
  if (clients == registrations_.end()) return nodes;
  for (const auto& [id, unused] : clients->second) {
    auto peer = peers_.find(id);
    if (peer == peers_.end() || !IsActive(peer->second, now)) continue;
    NodeInfo node;
    node.peer = peer->second;
    for (auto it = registrations_.lower_bound(Key(kTopic, "", ""));
         it != registrations_.end() && std::get<0>(it->first) == kTopic; ++it) {
      auto p = it->second.find(id);
      if (p == it->second.end()) continue;
      node.topics.push_back(std::get<1>(it->first));
      node.tombstones.push_back(p->second.tombstoned &&
                                now - p->second.tombstoned_at < options_.tombstone_lifetime);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::vector<std::string> Registry::InactivePeers() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids;
  const absl::Time now = clock_->Now();
  for (const auto& [id, peer] : peers_) {
    if (!IsActive(peer, now)) ids.push_back(id);
  }
  return ids;
}

Registry::Counts Registry::GetCounts() const {
  absl::MutexLock lock(&mu_);
  Counts counts;
  counts.peers = static_cast<int64_t>(peers_.size());
  for (const auto& [key, producers] : registrations_) {
    if (std::get<0>(key) == kTopic) ++counts.topics;
    if (std::get<0>(key) == kChannel) ++counts.channels;
  }
  return counts;
}

}  // namespace nsq::discovery
