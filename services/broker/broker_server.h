#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "services/broker/broker_options.h"
#include "services/broker/core/engine.h"

namespace nsq::http {
class Server;
}
namespace prometheus {
class Collectable;
}
namespace nsq::legacy {
class V2Server;
struct V2ServerOptions;
struct HttpApiOptions;
}
namespace nsq::storage {
class RocksStorage;
}
namespace nsq::broker::discovery_client {
class Registrar;
}
namespace nsq::broker::statsd {
class StatsdPusher;
}

namespace nsq::broker {

class BrokerGrpcServer;
class BrokerMetrics;

// The broker process (our nsqd): storage, engine, the timer thread, the gRPC port and the
// HTTP port. main() builds one, Start()s it, waits for SIGINT/SIGTERM and Stop()s it.
// Tests run it in-process with "127.0.0.1:0" addresses.
class BrokerServer {
 public:
  // `clock` defaults to the real clock; it must outlive the server.
  explicit BrokerServer(BrokerOptions options, const Clock* clock = nullptr);
  ~BrokerServer();
  BrokerServer(const BrokerServer&) = delete;
  BrokerServer& operator=(const BrokerServer&) = delete;

  // Opens storage, restores metadata, starts listening. On error nothing is left running.
  absl::Status Start();
  // Stops accepting, closes consumers (their in-flight messages are requeued), stops the
  // timer thread. Idempotent.
  void Stop();
  // After Stop: OK, or why some queued messages could not be written out (logged by Stop;
  // nsqd then exits 1).
  absl::Status stop_status();

  int grpc_port() const;
  int http_port() const;
  int tcp_port() const;  // the NSQ TCP protocol V2 listener (0 when off)
  int https_port() const;  // 0 unless --tls-cert/--tls-key and --https-address are set
  Engine* engine() { return engine_.get(); }
  const BrokerOptions& options() const { return options_; }

 private:
  void TimerLoop();
  legacy::V2ServerOptions V2Options() const;
  // What /metrics serves: the broker's own, its gRPC port's calls, the process's.
  std::vector<std::shared_ptr<prometheus::Collectable>> MetricsCollectables() const;
  legacy::HttpApiOptions ApiOptions() const;
  std::map<std::string, std::string> ConfigValues() const;

  BrokerOptions options_;
  const Clock* const clock_;
  const absl::Time start_time_;
  std::unique_ptr<Storage> storage_;
  storage::RocksStorage* rocks_ = nullptr;  // storage_, for its counters and Sync()
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<BrokerGrpcServer> grpc_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<http::Server> https_;  // the same API over TLS
  std::unique_ptr<legacy::V2Server> v2_;
  std::unique_ptr<discovery_client::Registrar> registrar_;  // with discovery/lookupd addresses
  std::shared_ptr<BrokerMetrics> metrics_;
  std::unique_ptr<statsd::StatsdPusher> statsd_;  // with --statsd-address

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status stop_status_ ABSL_GUARDED_BY(mu_);
  bool started_ = false;
  std::thread timer_thread_;
};

}  // namespace nsq::broker
