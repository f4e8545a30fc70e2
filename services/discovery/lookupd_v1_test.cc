// lookupd protocol V1 over real sockets: exact response bytes and nsqlookupd's errors.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/time/fake_clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/discovery/discovery_server.h"
#include "services/discovery/lookupd_tcp_server.h"
#include "services/discovery/lookupd_v1.h"
#include "services/discovery/registry.h"

namespace nsq::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(5);

// A blocking V1 client: raw bytes out, [size][data] frames in.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawClient() { close(fd_); }

  bool connected() const { return connected_; }
  std::string local_address() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  }

  void Send(const std::string& bytes) {
    ASSERT_EQ(write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // One response frame's data; "<eof>" if the server closed, "<timeout>" if nothing came.
  std::string ReadFrame() {
    char size[4];
    if (std::string err = ReadExactly(size, 4); !err.empty()) return err;
    const uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(size[0])) << 24) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(size[1])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(size[2])) << 8) |
                       static_cast<uint32_t>(static_cast<unsigned char>(size[3]));
    std::string data(n, '\0');
    if (std::string err = ReadExactly(data.data(), n); !err.empty()) return err;
    return data;
  }

  // Everything up to EOF, raw.
  bool ReadsEof() {
    char c;
    return read(fd_, &c, 1) == 0;
  }

 private:
  std::string ReadExactly(char* p, size_t n) {
    size_t got = 0;
    while (got < n) {
      ssize_t r = read(fd_, p + got, n - got);
      if (r == 0) return "<eof>";
      if (r < 0) return "<timeout>";
      got += static_cast<size_t>(r);
    }
    return "";
  }

  int fd_ = -1;
  bool connected_ = false;
};

std::string Identify(const std::string& json) {
  std::string out = "IDENTIFY\n";
  AppendV1Frame(&out, json);
  return out;
}

constexpr char kNsqdIdentify[] =
    R"({"version":"1.3.0","tcp_port":4150,"http_port":4151,"hostname":"box",)"
    R"("broadcast_address":"10.0.0.5","topology_zone":"","topology_region":""})";

class LookupdV1Test : public ::testing::Test {
 protected:
  LookupdV1Test() : registry_(RegistryOptions{}, &clock_) {
    info_.broadcast_address = "lookupd.local";
    info_.hostname = "lookupd-host";
    info_.http_port = 4161;
    server_ = std::make_unique<LookupdTcpServer>(&registry_, &info_, "127.0.0.1:0");
    EXPECT_TRUE(server_->Start().ok());
    info_.tcp_port = server_->port();
  }

  std::unique_ptr<RawClient> Connect() {
    auto c = std::make_unique<RawClient>(server_->port());
    EXPECT_TRUE(c->connected());
    return c;
  }

  std::string ExpectedIdentifyReply() const {
    return absl::StrCat(R"({"broadcast_address":"lookupd.local","hostname":"lookupd-host",)",
                        R"("http_port":4161,"tcp_port":)", server_->port(),
                        R"(,"version":"1.3.0"})");
  }

  // Waits until `topic` has `n` active producers.
  bool WaitForProducers(const std::string& topic, size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      auto r = registry_.Lookup(topic);
      if (r && r->producers.size() == n) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  FakeClock clock_;
  Registry registry_;
  LookupdInfo info_;
  std::unique_ptr<LookupdTcpServer> server_;
};

TEST_F(LookupdV1Test, BadMagicIsAnsweredWithEBadProtocolAndClosed) {
  auto c = Connect();
  c->Send("  V2");
  EXPECT_EQ(c->ReadFrame(), "E_BAD_PROTOCOL");
  EXPECT_TRUE(c->ReadsEof());
}

TEST_F(LookupdV1Test, PingBeforeIdentifyIsOk) {
  auto c = Connect();
  c->Send("  V1PING\n");
  EXPECT_EQ(c->ReadFrame(), "OK");
}

TEST_F(LookupdV1Test, IdentifyRepliesWithLookupdInfoAsSortedJson) {
  auto c = Connect();
  c->Send("  V1" + Identify(kNsqdIdentify));
  EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
  auto nodes = registry_.Nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].peer.broadcast_address, "10.0.0.5");
  EXPECT_EQ(nodes[0].peer.hostname, "box");
  EXPECT_EQ(nodes[0].peer.tcp_port, 4150);
  EXPECT_EQ(nodes[0].peer.http_port, 4151);
  EXPECT_EQ(nodes[0].peer.grpc_port, 0);
  EXPECT_EQ(nodes[0].peer.remote_address, c->local_address());
}

TEST_F(LookupdV1Test, RegisterAndUnregisterAnswerOk) {
  auto c = Connect();
  // Pipelined in one write, as a batch of commands may arrive.
  c->Send("  V1" + Identify(kNsqdIdentify) +
          "REGISTER orders\nREGISTER orders billing\nREGISTER clicks\nUNREGISTER clicks\n");
  EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c->ReadFrame(), "OK") << i;
  auto r = registry_.Lookup("orders");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->channels, ElementsAre("billing"));
  ASSERT_EQ(r->producers.size(), 1u);
  EXPECT_THAT(registry_.Lookup("clicks")->producers, IsEmpty());
}

TEST_F(LookupdV1Test, CommandSplitAcrossWritesIsReassembled) {
  auto c = Connect();
  std::string all = "  V1" + Identify(kNsqdIdentify) + "REGISTER orders\n";
  for (char ch : all) c->Send(std::string(1, ch));
  EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
  EXPECT_EQ(c->ReadFrame(), "OK");
}

TEST_F(LookupdV1Test, TrailingWhitespaceAndCrlfAreTrimmed) {
  auto c = Connect();
  c->Send("  V1  PING \r\n");
  EXPECT_EQ(c->ReadFrame(), "OK");
}

TEST_F(LookupdV1Test, ClosingTheConnectionRemovesTheProducerButKeepsTheTopic) {
  {
    auto c = Connect();
    c->Send("  V1" + Identify(kNsqdIdentify) + "REGISTER orders billing\n");
    EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
    EXPECT_EQ(c->ReadFrame(), "OK");
    ASSERT_TRUE(WaitForProducers("orders", 1));
  }
  ASSERT_TRUE(WaitForProducers("orders", 0));
  EXPECT_THAT(registry_.Topics(), ElementsAre("orders"));
  EXPECT_THAT(registry_.Channels("orders"), ElementsAre("billing"));
  EXPECT_THAT(registry_.Nodes(), IsEmpty());
}

struct ErrorCase {
  std::string name;
  std::string input;   // after the magic
  std::string error;   // the last frame before the close
  bool identify_first;
};

class LookupdV1ErrorTest : public LookupdV1Test,
                           public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(LookupdV1ErrorTest, AnswersTheErrorThenCloses) {
  const ErrorCase& tc = GetParam();
  auto c = Connect();
  std::string input = "  V1";
  if (tc.identify_first) input += Identify(kNsqdIdentify);
  c->Send(input + tc.input);
  if (tc.identify_first) {
    EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
  }
  EXPECT_EQ(c->ReadFrame(), tc.error);
  EXPECT_TRUE(c->ReadsEof());
}

INSTANTIATE_TEST_SUITE_P(
    Errors, LookupdV1ErrorTest,
    ::testing::Values(
        ErrorCase{"UnknownCommand", "FOO bar\n", "E_INVALID invalid command FOO", false},
        ErrorCase{"EmptyLine", "\n", "E_INVALID invalid command ", false},
        ErrorCase{"RegisterBeforeIdentify", "REGISTER orders\n", "E_INVALID client must IDENTIFY", false},
        ErrorCase{"UnregisterBeforeIdentify", "UNREGISTER orders\n", "E_INVALID client must IDENTIFY", false},
        ErrorCase{"RegisterWithoutTopic", "REGISTER\n", "E_INVALID REGISTER insufficient number of params", true},
        ErrorCase{"UnregisterWithoutTopic", "UNREGISTER\n", "E_INVALID UNREGISTER insufficient number of params", true},
        ErrorCase{"BadTopic", "REGISTER bad*topic\n", "E_BAD_TOPIC REGISTER topic name 'bad*topic' is not valid", true},
        ErrorCase{"EmptyTopic", "REGISTER  c\n", "E_BAD_TOPIC REGISTER topic name '' is not valid", true},
        ErrorCase{"BadChannel", "UNREGISTER orders bad!chan\n", "E_BAD_CHANNEL UNREGISTER channel name 'bad!chan' is not valid", true},
        ErrorCase{"IdentifyTwice", "IDENTIFY\n", "E_INVALID cannot IDENTIFY again", true},
        ErrorCase{"IdentifyNotJson", Identify("{not json"), "E_BAD_BODY IDENTIFY failed to decode JSON body", false},
        ErrorCase{"IdentifyWrongType", Identify(R"({"tcp_port":"4150"})"), "E_BAD_BODY IDENTIFY failed to decode JSON body", false},
        ErrorCase{"IdentifyMissingFields", Identify(R"({"broadcast_address":"h","tcp_port":4150,"version":"1.3.0"})"), "E_BAD_BODY IDENTIFY missing fields", false},
        ErrorCase{"IdentifyNegativeSize", std::string("IDENTIFY\n\xff\xff\xff\xff", 13), "E_BAD_BODY IDENTIFY invalid body size -1", false},
        ErrorCase{"IdentifyHugeSize", std::string("IDENTIFY\n\x7f\x00\x00\x00", 13), "E_BAD_BODY IDENTIFY invalid body size 2130706432", false},
        ErrorCase{"LineTooLong", std::string(2000, 'A'), "E_INVALID line longer than 1024 bytes", false}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST_F(LookupdV1Test, StopClosesConnectionsAndRemovesTheirProducers) {
  auto c = Connect();
  c->Send("  V1" + Identify(kNsqdIdentify) + "REGISTER orders\n");
  EXPECT_EQ(c->ReadFrame(), ExpectedIdentifyReply());
  EXPECT_EQ(c->ReadFrame(), "OK");
  server_->Stop();
  EXPECT_TRUE(c->ReadsEof());
  EXPECT_THAT(registry_.Lookup("orders")->producers, IsEmpty());
}

// The state machine alone, for what sockets make awkward.
TEST(LookupdV1SessionTest, NothingIsAnsweredUntilALineIsComplete) {
  FakeClock clock;
  Registry registry(RegistryOptions{}, &clock);
  LookupdInfo info;
  LookupdV1Session session(&registry, &info, "127.0.0.1:1");
  std::string out;
  EXPECT_TRUE(session.Consume("  V1PI", &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(session.Consume("NG\n", &out));
  EXPECT_EQ(out, std::string("\0\0\0\2OK", 6));
}

// nsqlookupd answers IDENTIFY with its own TCP port (a stock nsqd logs it); the whole
// server must fill it in, not only a bare LookupdTcpServer.
TEST(DiscoveryServerV1Test, IdentifyAnswersWithTheServersOwnTcpPort) {
  FakeClock clock;
  DiscoveryOptions o;
  o.tcp_address = "127.0.0.1:0";
  o.http_address = "127.0.0.1:0";
  o.grpc_address = "127.0.0.1:0";
  DiscoveryServer server(o, &clock);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.tcp_port(), 0);
  RawClient c(server.tcp_port());
  ASSERT_TRUE(c.connected());
  c.Send(absl::StrCat("  V1", Identify(kNsqdIdentify)));
  EXPECT_THAT(c.ReadFrame(), ::testing::HasSubstr(absl::StrCat("\"tcp_port\":", server.tcp_port(), ",")));
  server.Stop();
}

}  // namespace
}  // namespace nsq::discovery
