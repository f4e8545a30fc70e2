// Channel pre-creation against a slow discovery: the lookup runs on the registrar's own
// thread, publishes to the new topic are answered meanwhile, and every channel discovery
// knows gets every message once the lookup is done.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"
#include "services/broker/discovery_client/registrar.h"

namespace nsq::broker::discovery_client {
namespace {

// A discovery instance that accepts registrations and answers ListChannels only when
// told to.
class SlowDiscovery final : public nsq::v1::Discovery::Service {
 public:
  grpc::Status Register(grpc::ServerContext*,
                        grpc::ServerReaderWriter<nsq::v1::RegisterResponse, nsq::v1::RegisterRequest>* stream) override {
    nsq::v1::RegisterRequest req;
    bool answered = false;
    while (stream->Read(&req)) {
      if (!answered) {
        nsq::v1::RegisterResponse resp;
        resp.set_version("test");
        stream->Write(resp);
        answered = true;
      }
    }
    return grpc::Status::OK;
  }
  grpc::Status ListChannels(grpc::ServerContext*, const nsq::v1::ListChannelsRequest* req,
                            nsq::v1::ListChannelsResponse* resp) override {
    asked.Notify();
    answer.WaitForNotificationWithTimeout(absl::Seconds(20));
    resp->add_channels("a");
    resp->add_channels("b");
    return grpc::Status::OK;
  }
  absl::Notification asked, answer;
};

TEST(PrecreationTest, ASlowLookupNeitherBlocksPublishersNorLosesTheirMessagesForAnyChannel) {
  SlowDiscovery discovery;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&discovery);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);

  MemoryStorage storage;
  Engine engine(EngineOptions{}, RealClock::Get(), &storage);
  RegistrarOptions o;
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", port)};
  o.timeout = absl::Seconds(30);  // the lookup may take its time
  o.min_backoff = absl::Milliseconds(20);
  Registrar registrar(&engine, o);
  engine.AddObserver(&registrar);
  ASSERT_TRUE(engine.Start().ok());
  registrar.Start(BrokerIdentity{"127.0.0.1", "host", 4150, 4151, 4153});
  for (int i = 0; i < 1000 && !registrar.peer(0)->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(registrar.peer(0)->connected());

  // The first publish creates the topic; the lookup for its channels now hangs.
  absl::Notification first_answered;
  std::thread first([&] {
    EXPECT_TRUE(engine.Publish("orders", {"m0"}).ok());
    first_answered.Notify();
  });
  ASSERT_TRUE(discovery.asked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // A publisher on another thread, meanwhile: its messages land in the new topic before
  // the lookup is done.
  std::atomic<int> published{0};
  std::thread other([&] {
    for (int i = 1; i <= 50; ++i) {
      if (engine.Publish("orders", {absl::StrCat("m", i)}).ok()) ++published;
    }
  });
  other.join();
  EXPECT_EQ(published.load(), 50);
  // The lookup is not done on the publisher's thread: its publish was answered.
  EXPECT_TRUE(first_answered.WaitForNotificationWithTimeout(absl::Seconds(5)));
  discovery.answer.Notify();
  first.join();
  bool both = false;
  for (int i = 0; i < 1000 && !both; ++i) {
    auto stats = engine.GetStats({"orders", "", false});
    both = stats.ok() && stats->size() == 1 && (*stats)[0].channels.size() == 2 &&
           (*stats)[0].channels[0].depth == 51 && (*stats)[0].channels[1].depth == 51;
    if (!both) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(both) << "each pre-created channel must hold all 51 messages";
  registrar.Stop();
  server->Shutdown();
}

TEST(PrecreationTest, StoppingTheRegistrarStartsTopicsStillWaitingForTheirLookup) {
  SlowDiscovery discovery;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&discovery);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  MemoryStorage storage;
  Engine engine(EngineOptions{}, RealClock::Get(), &storage);
  RegistrarOptions o;
  o.discovery_addresses = {absl::StrCat("127.0.0.1:", port)};
  o.timeout = absl::Seconds(2);
  Registrar registrar(&engine, o);
  engine.AddObserver(&registrar);
  ASSERT_TRUE(engine.Start().ok());
  registrar.Start(BrokerIdentity{"127.0.0.1", "host", 4150, 4151, 4153});
  for (int i = 0; i < 1000 && !registrar.peer(0)->connected(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(engine.Publish("first", {"x"}).ok());   // its lookup hangs (2 s bound)
  ASSERT_TRUE(engine.Publish("second", {"y"}).ok());  // queued behind it
  ASSERT_TRUE(engine.CreateChannel("second", "c").ok());
  registrar.Stop();  // "second" starts without its lookup
  auto stats = engine.GetStats({"second", "c", false});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*stats)[0].channels[0].depth, 1);
  discovery.answer.Notify();
  server->Shutdown();
}

}  // namespace
}  // namespace nsq::broker::discovery_client
