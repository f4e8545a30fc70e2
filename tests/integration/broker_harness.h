#pragma once

// An in-process broker for integration tests: a real Engine over MemoryStorage and a fake
// clock, served by the real gRPC service on 127.0.0.1:0, plus a Subscribe-stream client
// that collects what the server sends on a reader thread.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/fake_clock.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"
#include "services/broker/core/storage.h"
#include "services/broker/grpc/broker_service.h"

namespace nsq::testing {

// How long a test waits for something it expects to happen.
inline constexpr absl::Duration kWait = absl::Seconds(5);

// One Subscribe stream. The test thread sends commands; a reader thread records every
// response until the stream ends. Thread-safe.
class TestConsumer {
 public:
  explicit TestConsumer(nsq::v1::Broker::Stub* stub);
  // Cancels the stream if it is still open and joins the reader.
  ~TestConsumer();
  TestConsumer(const TestConsumer&) = delete;
  TestConsumer& operator=(const TestConsumer&) = delete;

  // Sends subscribe and waits for the server's subscribed reply. False if the stream
  // ended instead (see WaitForEnd) or nothing came in time.
  bool Subscribe(const std::string& topic, const std::string& channel,
                 int64_t msg_timeout_ms = 0);
  bool Send(const nsq::v1::SubscribeRequest& request);
  bool SendSubscribe(const std::string& topic, const std::string& channel,
                     int64_t msg_timeout_ms = 0);
  bool Ready(int64_t count);
  bool Finish(const std::vector<std::string>& ids);
  bool Requeue(const std::string& id, int64_t delay_ms);
  bool Touch(const std::vector<std::string>& ids);
  // Returns once the server has handled every command sent before it (a FIN of a
  // malformed id answered with an error, which is then dropped). Messages the engine
  // handed to this stream before that are received by then.
  bool Sync();
  // Ends the stream from the client side, as a vanished client would.
  void Cancel();
  // Half-closes: the client sends nothing more (WritesDone).
  bool CloseSend();

  // Waits until `n` messages in total have been received since the last Take.
  bool WaitForMessages(size_t n, absl::Duration timeout = kWait);
  // Messages received and not yet taken, in order.
  std::vector<nsq::v1::Message> TakeMessages();
  size_t MessageCount();
  bool WaitForErrors(size_t n, absl::Duration timeout = kWait);
  std::vector<nsq::v1::SubscribeResponse::Error> TakeErrors();
  // The stream's final status; DEADLINE_EXCEEDED (client side) if it did not end in time.
  grpc::Status WaitForEnd(absl::Duration timeout = kWait);
  int64_t max_rdy_count();

 private:
  void ReadLoop();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<nsq::v1::SubscribeRequest,
                                           nsq::v1::SubscribeResponse>>
      stream_;
  std::thread reader_;
  absl::Mutex write_mu_;
  int sync_seq_ ABSL_GUARDED_BY(write_mu_) = 0;

  absl::Mutex mu_;
  std::vector<nsq::v1::Message> messages_ ABSL_GUARDED_BY(mu_);
  std::vector<nsq::v1::SubscribeResponse::Error> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> sync_acks_ ABSL_GUARDED_BY(mu_);
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t max_rdy_count_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

struct BrokerHarnessOptions {
  broker::EngineOptions engine;
  broker::BrokerServiceOptions service;
};

// The in-process broker. Advance() moves the fake clock and runs the engine's timers,
// as the broker's ticker thread does in production.
class BrokerHarness {
 public:
  explicit BrokerHarness(BrokerHarnessOptions options = {});
  ~BrokerHarness();

  broker::Engine& engine() { return *engine_; }
  FakeClock& clock() { return clock_; }
  nsq::v1::Broker::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  int port() const { return server_->port(); }
  std::unique_ptr<TestConsumer> NewConsumer() {
    return std::make_unique<TestConsumer>(stub_.get());
  }

  void Advance(absl::Duration d);

  // Unary helpers (with a deadline); the status and, for Publish, the ids.
  grpc::Status Publish(const std::string& topic, const std::vector<std::string>& bodies,
                       int64_t defer_ms = 0, std::vector<std::string>* ids = nullptr);
  grpc::Status Stats(nsq::v1::GetStatsResponse* response, const std::string& topic = "",
                     const std::string& channel = "");
  // The stats of one channel (an empty message if missing).
  nsq::v1::ChannelStats ChannelStats(const std::string& topic, const std::string& channel);
  nsq::v1::TopicStats TopicStats(const std::string& topic);

 private:
  FakeClock clock_;
  broker::MemoryStorage storage_;
  std::unique_ptr<broker::Engine> engine_;
  std::unique_ptr<broker::BrokerGrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Broker::Stub> stub_;
};

// Bodies "prefix0", "prefix1", ...
std::vector<std::string> Bodies(int n, const std::string& prefix = "msg");
std::vector<std::string> Ids(const std::vector<nsq::v1::Message>& messages);

}  // namespace nsq::testing
