#include "services/admin/cluster.h"

#include <algorithm>
#include <future>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nsq::admin {

const NodeSnapshot* Snapshot::FindNode(const std::string& id) const {
  for (const auto& n : nodes) {
    if (n.id() == id) return &n;
  }
  return nullptr;
}

bool Snapshot::AllFailed() const {
  if (errors.empty()) return false;
  if (discovery_count > discovery_failures) return false;
  for (const auto& n : nodes) {
    if (n.ok) return false;
  }
  return true;
}

Cluster::Cluster(ClusterOptions options, std::vector<std::unique_ptr<DiscoveryClient>> discoveries,
                 BrokerFactory factory)
    : options_(std::move(options)), discoveries_(std::move(discoveries)), factory_(std::move(factory)) {}

Cluster::~Cluster() { Stop(); }

void Cluster::OnSnapshot(std::function<void(const Snapshot&)> observer) {
  observer_ = std::move(observer);
}

void Cluster::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Cluster::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Cluster::Loop() {
  while (true) {
    PollOnce();
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.stats_interval)) return;
  }
}

std::shared_ptr<const Snapshot> Cluster::Latest() {
  {
    absl::MutexLock lock(&mu_);
    if (latest_) return latest_;
  }
  return PollOnce();
}

std::shared_ptr<const Snapshot> Cluster::Refresh() { return PollOnce(); }

PollStats Cluster::poll_stats() const {
  absl::MutexLock lock(&mu_);
  return poll_stats_;
}

std::string Cluster::BrokerKey(const NodeSnapshot& node) {
  const Producer& p = node.producer;
  return node.via_grpc ? absl::StrCat("grpc|", p.broadcast_address, ":", p.grpc_port)
                       : absl::StrCat("http|", p.HttpAddress());
}

std::shared_ptr<BrokerClient> Cluster::Broker(const NodeSnapshot& node) {
  const Producer& p = node.producer;
  const std::string key = BrokerKey(node);
  absl::MutexLock lock(&mu_);
  auto it = brokers_.find(key);
  if (it != brokers_.end()) return it->second;
  std::shared_ptr<BrokerClient> client =
      node.via_grpc ? factory_.grpc(absl::StrCat(p.broadcast_address, ":", p.grpc_port))
                    : factory_.http(p.HttpAddress());
  brokers_.emplace(key, client);
  return client;
}

std::shared_ptr<const Snapshot> Cluster::PollOnce() {
  absl::MutexLock poll_lock(&poll_mu_);
  const absl::Time start = absl::Now();
  auto snap = std::make_shared<Snapshot>();
  snap->discovery_count = static_cast<int>(discoveries_.size());

  // 1. Discovery: nodes and topics from every instance, in parallel.
  struct DiscoveryAnswer {
    absl::StatusOr<std::vector<Producer>> nodes;
    absl::StatusOr<std::vector<std::string>> topics;
  };
  std::vector<std::future<DiscoveryAnswer>> answers;
  for (const auto& d : discoveries_) {
    DiscoveryClient* client = d.get();
    answers.push_back(std::async(std::launch::async, [client] {
      return DiscoveryAnswer{client->ListNodes(), client->ListTopics()};
    }));
  }
  std::map<std::string, Producer> producers;  // by id
  std::set<std::string> topics;
  for (size_t i = 0; i < answers.size(); ++i) {
    DiscoveryAnswer a = answers[i].get();
    if (!a.nodes.ok() || !a.topics.ok()) {
      snap->discovery_failures++;
      const absl::Status& s = !a.nodes.ok() ? a.nodes.status() : a.topics.status();
      snap->errors.push_back(absl::StrCat("discovery ", discoveries_[i]->name(), ": ", s.message()));
      continue;
    }
    for (auto& t : *a.topics) topics.insert(t);
    for (auto& p : *a.nodes) {
      auto [it, inserted] = producers.emplace(p.HttpAddress(), p);
      if (inserted) continue;
      Producer& have = it->second;
      for (auto& r : p.remote_addresses) have.remote_addresses.push_back(r);
      if (have.grpc_port == 0) have.grpc_port = p.grpc_port;
      for (size_t k = 0; k < p.topics.size(); ++k) {
        auto pos = std::find(have.topics.begin(), have.topics.end(), p.topics[k]);
        if (pos == have.topics.end()) {
          have.topics.push_back(p.topics[k]);
          have.tombstones.push_back(p.tombstones[k]);
        } else if (p.tombstones[k]) {
          have.tombstones[pos - have.topics.begin()] = true;
        }
      }
    }
  }
  for (const auto& addr : options_.static_nsqd_http) {
    Producer p;
    size_t colon = addr.rfind(':');
    p.broadcast_address = addr.substr(0, colon);
    p.http_port = colon == std::string::npos ? 0 : std::atoi(addr.c_str() + colon + 1);
    producers.emplace(p.HttpAddress(), p);
  }
  snap->discovery_topics.assign(topics.begin(), topics.end());

  // 2. One stats call per broker, in parallel.
  for (auto& [id, p] : producers) {
    NodeSnapshot n;
    n.producer = std::move(p);
    n.via_grpc = n.producer.grpc_port > 0;
    snap->nodes.push_back(std::move(n));
  }
  std::vector<std::future<absl::StatusOr<NodeStats>>> stats;
  for (const auto& n : snap->nodes) {
    std::shared_ptr<BrokerClient> client = Broker(n);
    stats.push_back(std::async(std::launch::async, [client] { return client->GetStats(true); }));
  }
  for (size_t i = 0; i < stats.size(); ++i) {
    NodeSnapshot& n = snap->nodes[i];
    absl::StatusOr<NodeStats> s = stats[i].get();
    if (s.ok()) {
      n.ok = true;
      n.stats = std::move(*s);
      if (n.producer.version.empty()) n.producer.version = n.stats.version;
      if (n.producer.topics.empty()) {
        for (const auto& t : n.stats.topics) {
          n.producer.topics.push_back(t.name);
          n.producer.tombstones.push_back(false);
        }
      }
    } else {
      n.error = std::string(s.status().message());
      snap->errors.push_back(absl::StrCat("broker ", n.id(), ": ", n.error));
    }
  }
  snap->time = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    // Forget clients of brokers that left (bounded by the cluster, not by its history).
    std::set<std::string> live;
    for (const auto& n : snap->nodes) live.insert(BrokerKey(n));
    for (auto it = brokers_.begin(); it != brokers_.end();) {
      it = live.count(it->first) ? std::next(it) : brokers_.erase(it);
    }
    snap->generation = ++generation_;
    poll_stats_.polls++;
    poll_stats_.upstream_errors += static_cast<int64_t>(snap->errors.size());
    poll_stats_.last_poll_duration = snap->time - start;
  }
  if (observer_) observer_(*snap);
  std::shared_ptr<const Snapshot> out = snap;
  absl::MutexLock lock(&mu_);
  latest_ = out;
  return out;
}

}  // namespace nsq::admin
