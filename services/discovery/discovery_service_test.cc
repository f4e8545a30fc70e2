// The nsq.v1.Discovery gRPC service of a running DiscoveryServer (fake clock).

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/http/client.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "services/discovery/discovery_server.h"

namespace nsq::discovery {
namespace {

using ::nsq::v1::LookupResponse;
using ::nsq::v1::RegisterRequest;
using ::nsq::v1::RegisterResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(5);

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + absl::ToChronoSeconds(kWait);
}

RegisterRequest IdentityRequest(const std::string& address, int grpc_port) {
  RegisterRequest r;
  auto* id = r.mutable_identity();
  id->set_broadcast_address(address);
  id->set_hostname("host-" + address);
  id->set_tcp_port(4150);
  id->set_http_port(4151);
  id->set_grpc_port(grpc_port);
  id->set_version("1.3.0");
  return r;
}

RegisterRequest Registrations(std::vector<std::pair<std::string, std::string>> add,
                              std::vector<std::pair<std::string, std::string>> remove = {}) {
  RegisterRequest r;
  for (auto& [t, c] : add) {
    auto* reg = r.add_register_();
    reg->set_topic(t);
    reg->set_channel(c);
  }
  for (auto& [t, c] : remove) {
    auto* reg = r.add_unregister();
    reg->set_topic(t);
    reg->set_channel(c);
  }
  return r;
}

class DiscoveryServiceTest : public ::testing::Test {
 protected:
  DiscoveryServiceTest() : server_(Options(), &clock_) {
    EXPECT_TRUE(server_.Start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_.grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = nsq::v1::Discovery::NewStub(channel_);
  }

  static DiscoveryOptions Options() {
    DiscoveryOptions o;
    o.tcp_address = "127.0.0.1:0";
    o.http_address = "127.0.0.1:0";
    o.grpc_address = "127.0.0.1:0";
    o.broadcast_address = "lookupd.local";
    o.sweep_interval = absl::Hours(1);  // the tests sweep by hand
    return o;
  }

  // A broker's session.
  struct Session {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<RegisterRequest, RegisterResponse>> stream;
  };

  std::unique_ptr<Session> Open(const std::string& address, int grpc_port,
                                RegisterResponse* reply = nullptr) {
    auto s = std::make_unique<Session>();
    s->stream = stub_->Register(&s->context);
    EXPECT_TRUE(s->stream->Write(IdentityRequest(address, grpc_port)));
    RegisterResponse r;
    EXPECT_TRUE(s->stream->Read(&r));
    if (reply) *reply = r;
    return s;
  }

  grpc::Status Lookup(const std::string& topic, LookupResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    nsq::v1::LookupRequest req;
    req.set_topic(topic);
    return stub_->Lookup(&ctx, req, response);
  }

  // Waits until Lookup(topic) returns `n` producers.
  bool WaitForProducers(const std::string& topic, int n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      LookupResponse r;
      if (Lookup(topic, &r).ok() && r.producers_size() == n) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  FakeClock clock_;
  DiscoveryServer server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nsq::v1::Discovery::Stub> stub_;
};

TEST_F(DiscoveryServiceTest, IdentityIsAnsweredWithTheServersInfo) {
  RegisterResponse reply;
  auto s = Open("10.0.0.1", 4153, &reply);
  EXPECT_EQ(reply.version(), "1.3.0");
  EXPECT_EQ(reply.broadcast_address(), "lookupd.local");
  EXPECT_EQ(reply.grpc_port(), server_.grpc_port());
  EXPECT_EQ(reply.tcp_port(), server_.tcp_port());
  EXPECT_EQ(reply.http_port(), server_.http_port());
  EXPECT_EQ(reply.inactive_producer_timeout_ms(), 300000);
}

TEST_F(DiscoveryServiceTest, RegisteredTopicIsFoundWithTheBrokersPorts) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", "billing"}, {"orders", ""}})));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  LookupResponse r;
  ASSERT_TRUE(Lookup("orders", &r).ok());
  EXPECT_THAT(r.channels(), ElementsAre("billing"));
  const auto& p = r.producers(0);
  EXPECT_EQ(p.broadcast_address(), "10.0.0.1");
  EXPECT_EQ(p.grpc_port(), 4153);
  EXPECT_EQ(p.tcp_port(), 4150);
  EXPECT_EQ(p.http_port(), 4151);
  EXPECT_EQ(p.version(), "1.3.0");
  EXPECT_THAT(p.remote_address(), ::testing::StartsWith("127.0.0.1:"));
}

TEST_F(DiscoveryServiceTest, EndingTheStreamRemovesTheProducer) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", ""}})));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  s->stream->WritesDone();
  EXPECT_TRUE(s->stream->Finish().ok());
  EXPECT_TRUE(WaitForProducers("orders", 0));
}

TEST_F(DiscoveryServiceTest, CancelledStreamRemovesTheProducer) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", ""}})));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  s->context.TryCancel();
  EXPECT_TRUE(WaitForProducers("orders", 0));
}

TEST_F(DiscoveryServiceTest, UnregisterRemovesTheRegistration) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", ""}})));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  ASSERT_TRUE(s->stream->Write(Registrations({}, {{"orders", ""}})));
  EXPECT_TRUE(WaitForProducers("orders", 0));
}

TEST_F(DiscoveryServiceTest, FirstRequestWithoutIdentityIsRefused) {
  grpc::ClientContext ctx;
  auto stream = stub_->Register(&ctx);
  ASSERT_TRUE(stream->Write(Registrations({{"orders", ""}})));
  RegisterResponse r;
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(DiscoveryServiceTest, BadTopicNameEndsTheSession) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"bad topic", ""}})));
  RegisterResponse r;
  EXPECT_FALSE(s->stream->Read(&r));
  EXPECT_EQ(s->stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DiscoveryServiceTest, SilentProducerIsDroppedAndItsStreamEnded) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", ""}})));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  // Past the timeout it is hidden; a heartbeat brings it back (seen once handled).
  clock_.Advance(absl::Seconds(301));
  ASSERT_TRUE(WaitForProducers("orders", 0));
  ASSERT_TRUE(s->stream->Write(RegisterRequest()));
  ASSERT_TRUE(WaitForProducers("orders", 1));
  clock_.Advance(absl::Seconds(300));
  server_.Sweep();
  EXPECT_TRUE(WaitForProducers("orders", 1));
  clock_.Advance(absl::Seconds(1));
  server_.Sweep();
  RegisterResponse r;
  EXPECT_FALSE(s->stream->Read(&r));
  EXPECT_EQ(s->stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitForProducers("orders", 0));
}

TEST_F(DiscoveryServiceTest, LookupErrors) {
  LookupResponse r;
  EXPECT_EQ(Lookup("missing", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Lookup("", &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Lookup("a b", &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(DiscoveryServiceTest, MetricsCountCallsByCodeAndOpenRegisterStreams) {
  auto metrics = [&] {
    auto r = http::HttpRequest("GET", absl::StrCat("127.0.0.1:", server_.http_port()), "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->body : "";
  };
  LookupResponse r;
  EXPECT_EQ(Lookup("missing", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  std::unique_ptr<Session> s = Open("10.0.0.1", 4153);
  const std::string open = R"(grpc_service="nsq.v1.Discovery",grpc_type="bidi_stream"})";
  std::string text = metrics();
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_handled_total{grpc_code="NotFound",grpc_method="Lookup",)"
                              R"(grpc_service="nsq.v1.Discovery",grpc_type="unary"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_started_total{grpc_method="Register",)" + open + " 1"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_streams_open{grpc_method="Register",)" + open + " 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_open_fds gauge"));
  s->stream->WritesDone();
  EXPECT_TRUE(s->stream->Finish().ok());
  text = metrics();
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_streams_open{grpc_method="Register",)" + open + " 0"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_handled_total{grpc_code="OK",grpc_method="Register",)" + open + " 1"));
}

TEST_F(DiscoveryServiceTest, WatchSendsTheAnswerNowAndOnEveryChange) {
  grpc::ClientContext ctx;
  nsq::v1::WatchRequest req;
  req.set_topic("orders");
  auto watch = stub_->Watch(&ctx, req);
  LookupResponse r;
  ASSERT_TRUE(watch->Read(&r));
  EXPECT_EQ(r.topic(), "orders");
  EXPECT_THAT(r.producers(), IsEmpty());

  auto a = Open("10.0.0.1", 4153);
  ASSERT_TRUE(a->stream->Write(Registrations({{"orders", ""}})));
  ASSERT_TRUE(watch->Read(&r));
  ASSERT_EQ(r.producers_size(), 1);
  EXPECT_EQ(r.producers(0).broadcast_address(), "10.0.0.1");

  auto b = Open("10.0.0.2", 4153);
  ASSERT_TRUE(b->stream->Write(Registrations({{"orders", "billing"}})));
  ASSERT_TRUE(watch->Read(&r));
  EXPECT_EQ(r.producers_size(), 2);
  EXPECT_THAT(r.channels(), ElementsAre("billing"));

  // A tombstone hides a producer, and it comes back when the lifetime is over.
  {
    grpc::ClientContext tctx;
    nsq::v1::TombstoneTopicProducerRequest treq;
    treq.set_topic("orders");
    treq.set_node("10.0.0.1:4151");
    nsq::v1::TombstoneTopicProducerResponse tresp;
    ASSERT_TRUE(stub_->TombstoneTopicProducer(&tctx, treq, &tresp).ok());
  }
  ASSERT_TRUE(watch->Read(&r));
  ASSERT_EQ(r.producers_size(), 1);
  EXPECT_EQ(r.producers(0).broadcast_address(), "10.0.0.2");
  clock_.Advance(absl::Seconds(45));
  server_.Sweep();
  ASSERT_TRUE(watch->Read(&r));
  EXPECT_EQ(r.producers_size(), 2);

  b->context.TryCancel();
  ASSERT_TRUE(watch->Read(&r));
  ASSERT_EQ(r.producers_size(), 1);
  EXPECT_EQ(r.producers(0).broadcast_address(), "10.0.0.1");
  ctx.TryCancel();
}

TEST_F(DiscoveryServiceTest, ListAndDeleteRpcs) {
  auto s = Open("10.0.0.1", 4153);
  ASSERT_TRUE(s->stream->Write(Registrations({{"orders", "billing"}, {"clicks", ""}})));
  ASSERT_TRUE(WaitForProducers("clicks", 1));
  {
    grpc::ClientContext ctx;
    nsq::v1::ListTopicsResponse resp;
    ASSERT_TRUE(stub_->ListTopics(&ctx, {}, &resp).ok());
    EXPECT_THAT(resp.topics(), ElementsAre("clicks", "orders"));
  }
  {
    grpc::ClientContext ctx;
    nsq::v1::ListChannelsRequest req;
    req.set_topic("orders");
    nsq::v1::ListChannelsResponse resp;
    ASSERT_TRUE(stub_->ListChannels(&ctx, req, &resp).ok());
    EXPECT_THAT(resp.channels(), ElementsAre("billing"));
  }
  {
    grpc::ClientContext ctx;
    nsq::v1::ListNodesResponse resp;
    ASSERT_TRUE(stub_->ListNodes(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.nodes_size(), 1);
    EXPECT_EQ(resp.nodes(0).producer().grpc_port(), 4153);
    EXPECT_THAT(resp.nodes(0).topics(), ElementsAre("clicks", "orders"));
    EXPECT_THAT(resp.nodes(0).tombstones(), ElementsAre(false, false));
  }
  {
    grpc::ClientContext ctx;
    nsq::v1::DiscoveryChannelRequest req;
    req.set_topic("orders");
    req.set_channel("nope");
    nsq::v1::DiscoveryChannelResponse resp;
    EXPECT_EQ(stub_->DeleteChannel(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    nsq::v1::DiscoveryTopicRequest req;
    req.set_topic("orders");
    nsq::v1::DiscoveryTopicResponse resp;
    ASSERT_TRUE(stub_->DeleteTopic(&ctx, req, &resp).ok());
    LookupResponse r;
    EXPECT_EQ(Lookup("orders", &r).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(DiscoveryServiceTest, ServesHealthAndReflection) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  grpc::Slice slice(std::string(""));  // an empty HealthCheckRequest (service "")
  grpc::ByteBuffer request(&slice, 1);
  grpc::GenericStub generic(channel_);
  grpc::ByteBuffer response;
  grpc::Status st;
  absl::Notification done;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) {
                      st = s;
                      done.Notify();
                    });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

}  // namespace
}  // namespace nsq::discovery
