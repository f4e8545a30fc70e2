#include "services/broker/broker_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "absl/synchronization/notification.h"
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::broker {
namespace {

using ::testing::HasSubstr;

BrokerOptions TestOptions() {
  static int n = 0;
  BrokerOptions o;
  o.grpc_address = "127.0.0.1:0";
  o.http_address = "127.0.0.1:0";
  o.tcp_address = "127.0.0.1:0";
  o.data_path = absl::StrCat(::testing::TempDir(), "/broker", ++n);
  o.node_id = 1;
  return o;
}

std::string Http(const BrokerServer& server, const std::string& target, int* status = nullptr) {
  auto resp = http::HttpRequest("GET", absl::StrCat("127.0.0.1:", server.http_port()), target);
  EXPECT_TRUE(resp.ok()) << resp.status();
  if (!resp.ok()) return "";
  if (status) *status = resp->status;
  return resp->body;
}

TEST(BrokerServerTest, PingAnswersOkOnTheHttpPort) {
  BrokerServer server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  EXPECT_GT(server.grpc_port(), 0);
  EXPECT_GT(server.http_port(), 0);
  int status = 0;
  EXPECT_EQ(Http(server, "/ping", &status), "OK");
  EXPECT_EQ(status, 200);
}

TEST(BrokerServerTest, MetricsExposeTopicAndChannelCounters) {
  BrokerServer server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.engine()->CreateChannel("orders", "audit").ok());
  std::vector<std::string_view> bodies = {"a", "bb"};
  ASSERT_TRUE(server.engine()->Publish("orders", bodies).ok());
  std::string text = Http(server, "/metrics");
  EXPECT_THAT(text, HasSubstr("# TYPE nsq_topic_messages_total counter"));
  EXPECT_THAT(text, HasSubstr("nsq_topic_messages_total{topic=\"orders\"} 2"));
  EXPECT_THAT(text, HasSubstr("nsq_channel_depth{channel=\"audit\",topic=\"orders\"} 2"));
  EXPECT_THAT(text, HasSubstr("nsq_channel_held_in_memory{channel=\"audit\",topic=\"orders\"} 0"));
  EXPECT_THAT(text, HasSubstr("nsq_broker_healthy 1"));
}

TEST(BrokerServerTest, MetricsCountGrpcCallsAndShowTheProcess) {
  BrokerServer server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  // nsq.v1.TopicRequest{topic} by hand (field 1, length-delimited): this package does not
  // see the protos.
  grpc::GenericStub stub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.grpc_port()),
                                             grpc::InsecureChannelCredentials()));
  std::vector<grpc::StatusCode> codes;
  for (std::string topic : {"orders", "bad topic"}) {
    grpc::Slice slice(std::string{'\x0a', static_cast<char>(topic.size())} + topic);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::ClientContext ctx;
    absl::Notification done;
    stub.UnaryCall(&ctx, "/nsq.v1.Broker/CreateTopic", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status st) {
                     codes.push_back(st.error_code());
                     done.Notify();
                   });
    done.WaitForNotification();
  }
  EXPECT_EQ(codes, (std::vector<grpc::StatusCode>{grpc::StatusCode::OK, grpc::StatusCode::INVALID_ARGUMENT}));
  const std::string text = Http(server, "/metrics");
  const std::string labels = R"(grpc_method="CreateTopic",grpc_service="nsq.v1.Broker",grpc_type="unary"})";
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{" + labels + " 2"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_handled_total{grpc_code="OK",)" + labels + " 1"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_handled_total{grpc_code="InvalidArgument",)" + labels + " 1"));
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("\n", name, " ")));
  }
}

TEST(BrokerServerTest, StatsdAddressPushesTheStatsShownInStats) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  BrokerOptions o = TestOptions();
  o.statsd_address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  o.statsd_interval = absl::Milliseconds(20);
  o.broadcast_address = "b.example";
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.engine()->CreateChannel("orders", "audit").ok());
  std::vector<std::string_view> bodies = {"a", "bb", "ccc"};
  ASSERT_TRUE(server.engine()->Publish("orders", bodies).ok());
  const std::string stats = Http(server, "/stats?format=json&topic=orders&channel=audit");
  EXPECT_THAT(stats, HasSubstr("\"depth\":3"));
  // nsqd's default prefix nsq.%s: <broadcast address>_<--http-address port>, '.' -> '_'.
  const std::string want = "nsq.b_example_0.topic.orders.channel.audit.depth:3|g\n";
  std::string seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  const std::string mem = "nsq.b_example_0.mem.heap_in_use_bytes:";
  while ((seen.find(want) == std::string::npos || seen.find(mem) == std::string::npos) &&
         absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) != 1) continue;
    char buf[2048];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    ASSERT_LE(n, 508);  // --statsd-udp-packet-size
    seen.append(buf, n);
  }
  EXPECT_THAT(seen, HasSubstr(want));
  EXPECT_THAT(seen, HasSubstr(mem));
  EXPECT_THAT(Http(server, "/config/statsd_prefix"), HasSubstr("nsq.b_example_0."));
  server.Stop();
  close(fd);
}

TEST(BrokerServerTest, ConfigShowsTheNewStockOptionsAsNsqdDoes) {
  BrokerOptions o = TestOptions();
  o.e2e_processing_latency_percentiles = {"1.0,0.99"};
  o.queue_scan_worker_pool_max = 8;
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Http(server, "/config/e2e_processing_latency_percentiles"), "[1,0.99]");
  EXPECT_EQ(Http(server, "/config/queue_scan_worker_pool_max"), "8");
  EXPECT_EQ(Http(server, "/config/statsd_interval"), "60000000000");
  EXPECT_EQ(Http(server, "/config/statsd_udp_packet_size"), "508");
  EXPECT_EQ(Http(server, "/config/log_level"), "2");  // nsqd's LogLevel INFO, an int
}

TEST(BrokerServerTest, InvalidOptionsFailStartWithNsqdsMessage) {
  BrokerOptions o = TestOptions();
  o.node_id = 5000;
  BrokerServer server(o);
  absl::Status st = server.Start();
  EXPECT_EQ(st.message(), "--node-id must be [0,1024)");
}

TEST(BrokerServerTest, BusyGrpcAddressFailsStartWithAClearError) {
  BrokerServer first(TestOptions());
  ASSERT_TRUE(first.Start().ok());
  BrokerOptions o = TestOptions();
  o.grpc_address = absl::StrCat("127.0.0.1:", first.grpc_port());
  BrokerServer second(o);
  absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("gRPC listener on"));
}

TEST(BrokerServerTest, DataPathInUseFailsStartWithAClearError) {
  BrokerOptions o = TestOptions();
  BrokerServer first(o);
  ASSERT_TRUE(first.Start().ok());
  BrokerOptions o2 = TestOptions();
  o2.data_path = o.data_path;
  BrokerServer second(o2);
  absl::Status st = second.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("failed to lock data-path"));
}

TEST(BrokerServerTest, TopologySurvivesARestart) {
  BrokerOptions o = TestOptions();
  {
    BrokerServer server(o);
    ASSERT_TRUE(server.Start().ok());
    ASSERT_TRUE(server.engine()->CreateChannel("orders", "audit").ok());
    ASSERT_TRUE(server.engine()->SetChannelPaused("orders", "audit", true).ok());
    std::vector<std::string_view> bodies = {"a", "b", "c"};
    ASSERT_TRUE(server.engine()->Publish("orders", bodies).ok());
  }
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  auto stats = server.engine()->GetStats(StatsFilter{"orders", "audit", false});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE((*stats)[0].channels[0].paused);
  EXPECT_EQ((*stats)[0].channels[0].depth, 3);
}

TEST(BrokerServerTest, TimersRunWithoutAnyoneCallingThem) {
  BrokerServer server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  std::vector<std::string_view> bodies = {"later"};
  ASSERT_TRUE(server.engine()->CreateChannel("t", "c").ok());
  ASSERT_TRUE(server.engine()->Publish("t", bodies, absl::Milliseconds(30)).ok());
  // The timer thread moves the deferred message to the ready queue on its own.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  int64_t depth = 0;
  while (absl::Now() < deadline) {
    auto stats = server.engine()->GetStats(StatsFilter{"t", "c", false});
    ASSERT_TRUE(stats.ok());
    depth = (*stats)[0].channels[0].depth;
    if (depth == 1) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(depth, 1);
}

TEST(BrokerServerTest, StopIsPromptAndIdempotent) {
  BrokerServer server(TestOptions());
  ASSERT_TRUE(server.Start().ok());
  absl::Time start = absl::Now();
  server.Stop();
  server.Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace nsq::broker
