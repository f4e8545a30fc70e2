// Authorization on the broker's gRPC API with nsqd's auth server model: a local auth
// server on loopback, an in-process broker whose engine runs on a fake clock (so a ttl
// runs out without sleeping), secrets sent as "authorization: Bearer <secret>" by
// common/grpc channels, the client library, and the admin.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <optional>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/loopback.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/grpc/tls.h"
#include "common/http/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/admin/admin_server.h"
#include "services/broker/auth/fake_auth_server.h"
#include "services/broker/broker_server.h"
#include "services/discovery/discovery_server.h"
#include "tests/integration/broker_harness.h"

namespace nsq::testing {
namespace {

using ::testing::HasSubstr;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// "alice" may publish to ^orders and subscribe to orders/billing; "stats" has an
// authorization that allows nothing but being authenticated.
constexpr char kAlice[] =
    R"([{"permissions":["publish"],"topic":"^orders$","channels":[".*"]},)"
    R"({"permissions":["subscribe"],"topic":"^orders$","channels":["^billing$"]}])";
constexpr char kReadOnly[] = R"([{"permissions":["publish"],"topic":"^$","channels":["^$"]}])";

class GrpcAuthTest : public ::testing::Test {
 protected:
  GrpcAuthTest() : broker_(Options(auth_server_)) {
    auth_server_.Allow("alice-secret", 60, "alice", kAlice);
    auth_server_.Allow("readonly-secret", 60, "reader", kReadOnly);
    auth_server_.Allow("empty-secret", 60, "nobody", "[]");
  }

  static BrokerHarnessOptions Options(const auth::testing::FakeAuthServer& server) {
    BrokerHarnessOptions o;
    o.service.auth.addresses = {server.address()};
    return o;
  }

  // A stub whose every call carries `secret` ("" = none).
  std::unique_ptr<nsq::v1::Broker::Stub> Stub(const std::string& secret) {
    grpcutil::ClientOptions o;
    o.auth_secret = secret;
    auto channel = grpcutil::MakeChannel(absl::StrCat("127.0.0.1:", broker_.port()), o);
    EXPECT_TRUE(channel.ok());
    channels_.push_back(*channel);
    return nsq::v1::Broker::NewStub(*channel);
  }

  static grpc::Status Publish(nsq::v1::Broker::Stub& stub, const std::string& topic) {
    nsq::v1::PublishRequest request;
    request.set_topic(topic);
    request.add_bodies("hello");
    nsq::v1::PublishResponse response;
    grpc::ClientContext context;
    context.set_deadline(In(kWait));
    return stub.Publish(&context, request, &response);
  }
  static grpc::Status Stats(nsq::v1::Broker::Stub& stub) {
    nsq::v1::GetStatsRequest request;
    nsq::v1::GetStatsResponse response;
    grpc::ClientContext context;
    context.set_deadline(In(kWait));
    return stub.GetStats(&context, request, &response);
  }
  static grpc::Status CreateTopic(nsq::v1::Broker::Stub& stub, const std::string& topic) {
    nsq::v1::TopicRequest request;
    request.set_topic(topic);
    nsq::v1::TopicResponse response;
    grpc::ClientContext context;
    context.set_deadline(In(kWait));
    return stub.CreateTopic(&context, request, &response);
  }
  static grpc::Status CreateChannel(nsq::v1::Broker::Stub& stub, const std::string& topic,
                                    const std::string& channel) {
    nsq::v1::ChannelRequest request;
    request.set_topic(topic);
    request.set_channel(channel);
    nsq::v1::ChannelResponse response;
    grpc::ClientContext context;
    context.set_deadline(In(kWait));
    return stub.CreateChannel(&context, request, &response);
  }
  static grpc::Status Peek(nsq::v1::Broker::Stub& stub, const std::string& topic,
                           const std::string& channel) {
    nsq::v1::PeekRequest request;
    request.set_topic(topic);
    request.set_channel(channel);
    nsq::v1::PeekResponse response;
    grpc::ClientContext context;
    context.set_deadline(In(kWait));
    return stub.Peek(&context, request, &response);
  }

  auth::testing::FakeAuthServer auth_server_;
  BrokerHarness broker_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

TEST_F(GrpcAuthTest, AllowedSecretPublishes) {
  auto alice = Stub("alice-secret");
  grpc::Status st = Publish(*alice, "orders");
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(broker_.engine().GetStats({"orders", "", false})->at(0).message_count, 1u);
  EXPECT_THAT(auth_server_.last_query(), HasSubstr("secret=alice-secret"));
  EXPECT_THAT(auth_server_.last_query(), HasSubstr("remote_ip=127.0.0.1"));
  EXPECT_THAT(auth_server_.last_query(), HasSubstr("tls=false"));
}

TEST_F(GrpcAuthTest, PublishOutsideTheAuthorizationsIsPermissionDenied) {
  auto alice = Stub("alice-secret");
  grpc::Status st = Publish(*alice, "payments");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("\"alice\" may not publish to topic \"payments\""));
  EXPECT_FALSE(broker_.engine().GetStats({"payments", "", false}).ok());  // nothing created
}

TEST_F(GrpcAuthTest, CallsWithoutASecretAreUnauthenticated) {
  auto anonymous = Stub("");
  grpc::Status st = Publish(*anonymous, "orders");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("authorization: Bearer"));
  EXPECT_EQ(Stats(*anonymous).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(auth_server_.requests(), 0);  // nothing to ask about
}

TEST_F(GrpcAuthTest, SecretTheAuthServerRejectsIsUnauthenticated) {
  auto stranger = Stub("unknown-secret");
  grpc::Status st = Publish(*stranger, "orders");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(st.error_message(), HasSubstr("E_AUTH_FAILED"));
  // An identity without authorizations is not authenticated either (nsqd's rule).
  auto empty = Stub("empty-secret");
  EXPECT_EQ(Stats(*empty).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(GrpcAuthTest, SubscribeNeedsSubscribeOnTheTopicAndChannel) {
  auto alice = Stub("alice-secret");
  ASSERT_TRUE(Publish(*alice, "orders").ok());
  {
    TestConsumer allowed(alice.get());
    ASSERT_TRUE(allowed.Subscribe("orders", "billing"));
    ASSERT_TRUE(allowed.Ready(10));
    EXPECT_TRUE(allowed.WaitForMessages(1));
  }
  TestConsumer denied(alice.get());
  EXPECT_FALSE(denied.Subscribe("orders", "audit"));
  grpc::Status st = denied.WaitForEnd();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(st.error_message(), HasSubstr("may not subscribe to \"orders\" \"audit\""));
  auto anonymous = Stub("");
  TestConsumer nobody(anonymous.get());
  EXPECT_FALSE(nobody.Subscribe("orders", "billing"));
  EXPECT_EQ(nobody.WaitForEnd().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(GrpcAuthTest, AnAnswerIsCachedUntilItsTtlAndAskedAgainAfter) {
  auto alice = Stub("alice-secret");
  ASSERT_TRUE(Publish(*alice, "orders").ok());
  ASSERT_TRUE(Publish(*alice, "orders").ok());
  ASSERT_TRUE(Stats(*alice).ok());
  EXPECT_EQ(auth_server_.requests(), 1);

  // The auth server narrows alice's rights; the broker keeps the cached answer until the
  // ttl runs out on the engine's clock, then asks again.
  auth_server_.Allow("alice-secret", 60, "alice", kReadOnly);
  broker_.Advance(absl::Seconds(59));
  EXPECT_TRUE(Publish(*alice, "orders").ok());
  broker_.Advance(absl::Seconds(2));
  EXPECT_EQ(Publish(*alice, "orders").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(auth_server_.requests(), 2);

  // Then it revokes the secret: after the next expiry the re-query fails.
  auth_server_.Deny("alice-secret");
  broker_.Advance(absl::Seconds(61));
  grpc::Status st = Publish(*alice, "orders");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Stats(*alice).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(auth_server_.requests(), 4);  // failures are not cached
}

TEST_F(GrpcAuthTest, AdminRpcsNeedTheirTopicOrChannelPermission) {
  auto alice = Stub("alice-secret");
  auto reader = Stub("readonly-secret");
  // Topic operations: publish on the topic.
  EXPECT_TRUE(CreateTopic(*alice, "orders").ok());
  EXPECT_EQ(CreateTopic(*alice, "payments").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateTopic(*reader, "orders").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Channel operations and peeking at messages: subscribe on the topic and channel.
  EXPECT_TRUE(CreateChannel(*alice, "orders", "billing").ok());
  EXPECT_EQ(CreateChannel(*alice, "orders", "audit").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Peek(*alice, "orders", "billing").ok());
  EXPECT_EQ(Peek(*reader, "orders", "billing").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Stats: any authenticated identity.
  EXPECT_TRUE(Stats(*reader).ok());
}

// Bounded wait for the auth server to have received `n` requests.
bool WaitForRequests(const auth::testing::FakeAuthServer& server, int n) {
  const absl::Time deadline = absl::Now() + kWait;
  while (server.requests() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  return server.requests() >= n;
}

TEST_F(GrpcAuthTest, SubscribeWaitsForTheAuthServerWhileCachedCallsGoOn) {
  auto alice = Stub("alice-secret");
  ASSERT_TRUE(Publish(*alice, "orders").ok());  // alice's answer is cached now
  auth_server_.Allow("bob-secret", 60, "bob", kAlice);
  auth_server_.Hold();
  auto bob = Stub("bob-secret");
  TestConsumer consumer(bob.get());
  ASSERT_TRUE(consumer.SendSubscribe("orders", "billing"));
  ASSERT_TRUE(consumer.Ready(10));  // read once the subscribe is authorized
  ASSERT_TRUE(WaitForRequests(auth_server_, 2));
  EXPECT_TRUE(Publish(*alice, "orders").ok());  // not stuck behind bob's query
  auth_server_.Release();
  EXPECT_TRUE(consumer.WaitForMessages(2));
}

TEST_F(GrpcAuthTest, AStreamCancelledWhileItsAuthorizationIsPendingEndsCleanly) {
  auth_server_.Allow("bob-secret", 60, "bob", kAlice);
  auth_server_.Hold();
  auto bob = Stub("bob-secret");
  {
    TestConsumer consumer(bob.get());
    ASSERT_TRUE(consumer.SendSubscribe("orders", "billing"));
    ASSERT_TRUE(WaitForRequests(auth_server_, 1));
    consumer.Cancel();
    EXPECT_EQ(consumer.WaitForEnd().error_code(), grpc::StatusCode::CANCELLED);
    auth_server_.Release();
  }
  // The late authorization subscribed nobody.
  auto alice = Stub("alice-secret");
  ASSERT_TRUE(Publish(*alice, "orders").ok());
  TestConsumer again(bob.get());
  ASSERT_TRUE(again.Subscribe("orders", "billing"));  // bob's answer came and is cached
  auto stats = broker_.engine().GetStats({"orders", "billing", true});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->at(0).channels.at(0).consumers.size(), 1u);
}

TEST_F(GrpcAuthTest, HealthNeedsNoSecret) {
  grpc::GenericStub stub(broker_.channel());  // no secret
  grpc::ClientContext context;
  context.set_deadline(In(kWait));
  grpc::Slice slice{std::string()};
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  absl::Mutex mu;
  std::optional<grpc::Status> status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status s) {
                   absl::MutexLock lock(&mu);
                   status = std::move(s);
                 });
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](std::optional<grpc::Status>* s) { return s->has_value(); }, &status));
  EXPECT_TRUE(status->ok()) << status->error_message();
}

// The client library and the admin send the secret; a broker process wires
// --auth-http-address into its gRPC port.
class GrpcAuthClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_server_.Allow("alice-secret", 60, "alice", kAlice);
    discovery_ = std::make_unique<discovery::DiscoveryServer>(testing_loopback::LoopbackDiscovery());
    ASSERT_TRUE(discovery_->Start().ok());
    broker::BrokerOptions o = testing_loopback::LoopbackBroker("grpc_auth_broker");
    o.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};
    o.tcp_address = "";
    o.auth_http_addresses = {auth_server_.address()};
    broker_ = std::make_unique<broker::BrokerServer>(o);
    ASSERT_TRUE(broker_->Start().ok());
    address_ = absl::StrCat("127.0.0.1:", broker_->grpc_port());
  }
  void TearDown() override {
    if (admin_) admin_->Stop();
    if (broker_) broker_->Stop();
    if (discovery_) discovery_->Stop();
  }

  absl::Status PublishWith(const std::string& secret) {
    client::ProducerOptions o;
    o.broker_addresses = {address_};
    o.max_retries = 0;
    o.config.auth_secret = secret;
    client::Producer producer(o);
    return producer.Publish("orders", "hello");
  }

  auth::testing::FakeAuthServer auth_server_;
  std::unique_ptr<discovery::DiscoveryServer> discovery_;
  std::unique_ptr<broker::BrokerServer> broker_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::string address_;
};

TEST_F(GrpcAuthClientsTest, ClientLibrarySendsItsAuthSecret) {
  EXPECT_EQ(PublishWith("").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(PublishWith("wrong").code(), absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(PublishWith("alice-secret").ok());

  client::ConsumerOptions o;
  o.topic = "orders";
  o.channel = "billing";
  o.broker_addresses = {address_};
  o.config.auth_secret = "alice-secret";
  absl::Mutex mu;
  std::vector<std::string> bodies;
  client::Consumer consumer(o, [&](const client::Message& m) {
    absl::MutexLock lock(&mu);
    bodies.push_back(m.body);
    return true;
  });
  ASSERT_TRUE(consumer.Start().ok());
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(+[](std::vector<std::string>* b) { return !b->empty(); }, &bodies),
                        absl::Seconds(20));
    EXPECT_EQ(bodies, std::vector<std::string>{"hello"});
  }
  consumer.Stop();
}

TEST_F(GrpcAuthClientsTest, AdminReadsABrokerWithItsGrpcAuthSecret) {
  ASSERT_TRUE(PublishWith("alice-secret").ok());
  admin::AdminOptions a;
  a.http_address = "127.0.0.1:0";
  a.discovery_addresses = {absl::StrCat("127.0.0.1:", discovery_->grpc_port())};  // brokers read over gRPC
  a.stats_interval = absl::Milliseconds(100);
  a.grpc.auth_secret = "alice-secret";
  admin_ = std::make_unique<admin::AdminServer>(a);
  ASSERT_TRUE(admin_->Start().ok());
  const std::string admin_address = absl::StrCat("127.0.0.1:", admin_->http_port());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string last;
  bool seen = false;
  while (!seen && absl::Now() < deadline) {
    auto r = http::HttpRequest("GET", admin_address, "/api/topics/orders", "", {}, absl::Seconds(5));
    if (r.ok()) {
      last = r->body;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      seen = r->status == 200 && !j.is_discarded() && j.value("message_count", int64_t{0}) == 1;
    }
    if (!seen) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(seen) << last;
}

}  // namespace
}  // namespace nsq::testing
