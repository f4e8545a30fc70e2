#include "common/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/http/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr absl::Duration kIoTimeout = absl::Seconds(5);

// A plain blocking TCP client for speaking raw (and broken) HTTP to the server. Every
// read is bounded by a deadline.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConn() {
    if (fd_ >= 0) close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads one response (headers, then Content-Length bytes unless `head`). Returns
  // nullopt on EOF, error or deadline. Bytes after the response are kept for the next call.
  std::optional<std::string> ReadResponse(bool head = false,
                                          absl::Duration timeout = kIoTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    header_end += 4;
    size_t length = 0;
    if (!head) {
      const std::string lower = absl::AsciiStrToLower(pending_.substr(0, header_end));
      if (size_t cl = lower.find("\r\ncontent-length: "); cl != std::string::npos) {
        const size_t start = cl + 18;
        const size_t end = lower.find("\r\n", start);
        if (!absl::SimpleAtoi(lower.substr(start, end - start), &length)) return std::nullopt;
      }
    }
    while (pending_.size() < header_end + length) {
      if (!Fill(deadline)) return std::nullopt;
    }
    std::string response = pending_.substr(0, header_end + length);
    pending_.erase(0, header_end + length);
    return response;
  }

  // True when the server closes the connection (EOF or reset) before the deadline;
  // anything it sends first is discarded.
  bool WaitForClose(absl::Duration timeout = kIoTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (wait_ms <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, wait_ms) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
  }

 private:
  bool Fill(absl::Time deadline) {
    const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (wait_ms <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, wait_ms) <= 0) return false;
    char buf[16384];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

int StatusOf(const std::string& response) {
  int status = 0;
  if (response.size() < 12 || !absl::SimpleAtoi(response.substr(9, 3), &status)) return 0;
  return status;
}

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

Response Text(std::string body, int status = 200) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Handler Echo() {
  return [](const Request& req) { return Text(req.body); };
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Server::Options options = {}) {
    server_ = std::make_unique<Server>(std::move(options));
    server_->Handle("/ping", [](const Request&) { return Text("OK"); });
    server_->Handle("/echo", Echo());
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }

  absl::StatusOr<ClientResponse> Get(const std::string& target) {
    return HttpRequest("GET", server_->address(), target);
  }

  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, StartBindsEphemeralLoopbackPort) {
  StartServer();
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
  absl::StatusOr<ClientResponse> r = Get("/ping");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "OK");
  EXPECT_EQ(r->Header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->Header("Content-Length"), "2");
}

TEST_F(ServerTest, RoutesExactBeforeLongestPrefix) {
  StartServer();
  server_->HandlePrefix("/config/", [](const Request&) { return Text("config"); });
  server_->HandlePrefix("/config/nsqlookupd_", [](const Request&) { return Text("lookupd"); });
  server_->Handle("/config/exact", [](const Request&) { return Text("exact"); });
  server_->HandlePrefix("/", [](const Request&) { return Text("root"); });

  EXPECT_EQ(Get("/config/log_level")->body, "config");
  EXPECT_EQ(Get("/config/nsqlookupd_tcp_addresses")->body, "lookupd");
  EXPECT_EQ(Get("/config/exact")->body, "exact");
  EXPECT_EQ(Get("/config/exact/more")->body, "config");
  EXPECT_EQ(Get("/ping?x=1")->body, "OK");
  EXPECT_EQ(Get("/pingpong")->body, "root");
  EXPECT_EQ(Get("/config")->body, "root");
}

TEST_F(ServerTest, UnmatchedPathGets404OrCustomHandler) {
  StartServer();
  absl::StatusOr<ClientResponse> r = Get("/nope");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "NOT_FOUND");

  server_->SetNotFound([](const Request& req) { return Text("no " + req.path, 404); });
  r = Get("/nope");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "no /nope");
}

TEST_F(ServerTest, RequestCarriesDecodedPathQueryHeadersAndBody) {
  StartServer();
  absl::Mutex mu;
  Request seen;
  server_->HandlePrefix("/inspect/", [&](const Request& req) {
    absl::MutexLock lock(&mu);
    seen = req;
    return Text("ok");
  });
  absl::StatusOr<ClientResponse> r =
      HttpRequest("POST", server_->address(), "/inspect/a%20b+c?topic=t%231&ch=x+y&topic=2&f",
                  "payload", {{"X-Custom", "Value"}});
  ASSERT_TRUE(r.ok()) << r.status();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/inspect/a%20b+c?topic=t%231&ch=x+y&topic=2&f");
  EXPECT_EQ(seen.path, "/inspect/a b+c");
  EXPECT_EQ(seen.raw_query, "topic=t%231&ch=x+y&topic=2&f");
  EXPECT_THAT(seen.query, ::testing::ElementsAre(Pair("topic", "t#1"), Pair("ch", "x y"),
                                                 Pair("topic", "2"), Pair("f", "")));
  EXPECT_TRUE(seen.query_status.ok());
  EXPECT_EQ(seen.QueryValue("topic"), "t#1");
  EXPECT_THAT(seen.QueryValues("topic"), ::testing::ElementsAre("t#1", "2"));
  EXPECT_EQ(seen.QueryValue("missing"), std::nullopt);
  EXPECT_EQ(seen.Header("x-custom"), "Value");
  EXPECT_EQ(seen.Header("X-CUSTOM"), "Value");
  EXPECT_EQ(seen.Header("absent"), std::nullopt);
  EXPECT_EQ(seen.body, "payload");
  EXPECT_THAT(seen.remote_address, StartsWith("127.0.0.1:"));
  EXPECT_EQ(seen.version, 11);
}

TEST_F(ServerTest, BadQueryEscapeReachesHandlerAsQueryStatus) {
  StartServer();
  server_->Handle("/q", [](const Request& req) {
    return Text(req.query_status.ok() ? "ok" : "INVALID_REQUEST", req.query_status.ok() ? 200 : 400);
  });
  EXPECT_EQ(Get("/q?a=%zz")->status, 400);
  EXPECT_EQ(Get("/q?a=%41")->status, 200);
}

TEST_F(ServerTest, ResponseStatusContentTypeAndHeadersPassThrough) {
  Server::Options options;
  options.server_name = "nsqd/test";
  StartServer(options);
  server_->Handle("/json", [](const Request&) {
    Response r;
    r.status = 201;
    r.content_type = "application/json";
    r.headers = {{"X-NSQ-Content-Type", "nsq; version=1.0"},
                 {"X-Evil", "a\r\nSet-Cookie: x=1"},
                 {"Content-Length", "999"}};
    r.body = "{}";
    return r;
  });
  absl::StatusOr<ClientResponse> r = Get("/json");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{}");
  EXPECT_EQ(r->Header("Content-Type"), "application/json");
  EXPECT_EQ(r->Header("X-NSQ-Content-Type"), "nsq; version=1.0");
  EXPECT_EQ(r->Header("Server"), "nsqd/test");
  EXPECT_EQ(r->Header("X-Evil"), std::nullopt);
  EXPECT_EQ(r->Header("Set-Cookie"), std::nullopt);
  EXPECT_EQ(r->Header("Content-Length"), "2");
}

TEST_F(ServerTest, NoContentResponseDropsBodyInsteadOfFailing) {
  StartServer();
  server_->Handle("/204", [](const Request&) { return Text("ignored", 204); });
  absl::StatusOr<ClientResponse> r = Get("/204");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->body, "");
}

TEST_F(ServerTest, HandlerExceptionBecomes500AndServerKeepsServing) {
  StartServer();
  server_->Handle("/throw", [](const Request&) -> Response {
    throw std::runtime_error("boom");
  });
  absl::StatusOr<ClientResponse> r = Get("/throw");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "INTERNAL_ERROR");
  EXPECT_EQ(Get("/ping")->status, 200);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  std::atomic<int> calls{0};
  absl::Mutex mu;
  std::vector<std::string> peers;
  server_->Handle("/who", [&](const Request& req) {
    ++calls;
    absl::MutexLock lock(&mu);
    peers.push_back(req.remote_address);
    return Text(req.remote_address);
  });
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(conn.Send("GET /who HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::optional<std::string> resp = conn.ReadResponse();
    ASSERT_TRUE(resp.has_value()) << "request " << i;
    EXPECT_EQ(StatusOf(*resp), 200);
  }
  // Pipelined: two requests in one write, two responses in order.
  ASSERT_TRUE(conn.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"));
  std::optional<std::string> first = conn.ReadResponse();
  std::optional<std::string> second = conn.ReadResponse();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(BodyOf(*first), "one");
  EXPECT_EQ(BodyOf(*second), "two");

  EXPECT_EQ(calls.load(), 3);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(peers.size(), 3u);
  EXPECT_EQ(peers[0], peers[1]);
  EXPECT_EQ(peers[1], peers[2]);
}

TEST_F(ServerTest, Http10ClosesUnlessKeepAliveRequested) {
  StartServer();
  {
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.Send("GET /ping HTTP/1.0\r\n\r\n"));
    std::optional<std::string> resp = conn.ReadResponse();
    ASSERT_TRUE(resp.has_value());
    EXPECT_THAT(*resp, StartsWith("HTTP/1.0 200"));
    EXPECT_EQ(BodyOf(*resp), "OK");
    EXPECT_TRUE(conn.WaitForClose());
  }
  {
    RawConn conn(server_->port());
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(conn.Send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      std::optional<std::string> resp = conn.ReadResponse();
      ASSERT_TRUE(resp.has_value()) << "request " << i;
      EXPECT_THAT(*resp, StartsWith("HTTP/1.0 200"));
    }
  }
}

TEST_F(ServerTest, HeadSendsHeadersWithoutBody) {
  StartServer();
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::optional<std::string> head = conn.ReadResponse(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(StatusOf(*head), 200);
  EXPECT_THAT(absl::AsciiStrToLower(*head), HasSubstr("content-length: 2\r\n"));
  // If a body had been sent it would be read here instead of the next status line.
  ASSERT_TRUE(conn.Send("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nnext"));
  std::optional<std::string> next = conn.ReadResponse();
  ASSERT_TRUE(next.has_value());
  EXPECT_THAT(*next, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(BodyOf(*next), "next");
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  StartServer();
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  std::optional<std::string> interim = conn.ReadResponse(/*head=*/true);
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(StatusOf(*interim), 100);
  ASSERT_TRUE(conn.Send("hello"));
  std::optional<std::string> final_response = conn.ReadResponse();
  ASSERT_TRUE(final_response.has_value());
  EXPECT_EQ(StatusOf(*final_response), 200);
  EXPECT_EQ(BodyOf(*final_response), "hello");
}

class BodyLimitTest : public ServerTest {
 protected:
  void SetUp() override {
    Server::Options options;
    options.max_body_bytes = 1024;
    StartServer(options);
    server_->Handle("/count", [this](const Request& req) {
      ++calls_;
      return Text(std::to_string(req.body.size()));
    });
  }
  std::atomic<int> calls_{0};
};

TEST_F(BodyLimitTest, DeclaredOversizedBodyGets413WithoutReadingIt) {
  RawConn conn(server_->port());
  // Claims 100 MB but sends only a little: the answer must not wait for the rest.
  ASSERT_TRUE(conn.Send("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" +
                        std::string(100, 'x')));
  std::optional<std::string> resp = conn.ReadResponse();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(StatusOf(*resp), 413);
  EXPECT_EQ(BodyOf(*resp), "BODY_TOO_BIG");
  EXPECT_TRUE(conn.WaitForClose());
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(BodyLimitTest, ChunkedOversizedBodyGets413) {
  RawConn conn(server_->port());
  const std::string chunk(2000, 'y');
  ASSERT_TRUE(conn.Send(absl::StrCat(
      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n", chunk,
      "\r\n0\r\n\r\n")));
  std::optional<std::string> resp = conn.ReadResponse();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(StatusOf(*resp), 413);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(BodyLimitTest, BodyAtLimitIsAcceptedAndClientSees413AboveIt) {
  absl::StatusOr<ClientResponse> ok =
      HttpRequest("POST", server_->address(), "/count", std::string(1024, 'a'));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "1024");
  absl::StatusOr<ClientResponse> big =
      HttpRequest("POST", server_->address(), "/count", std::string(64 * 1024, 'a'));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(ServerTest, DefaultLimitRejectsSixMegabyteBody) {
  StartServer();
  absl::StatusOr<ClientResponse> r =
      HttpRequest("POST", server_->address(), "/echo", std::string(6 * 1024 * 1024, 'z'));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 413);
  absl::StatusOr<ClientResponse> fits =
      HttpRequest("POST", server_->address(), "/echo", std::string(5 * 1024 * 1024, 'z'));
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->status, 200);
  EXPECT_EQ(fits->body.size(), 5u * 1024 * 1024);
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  StartServer();
  static constexpr char kTlsHelloBytes[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
  const std::string kTlsHello(kTlsHelloBytes, sizeof(kTlsHelloBytes) - 1);  // Has NULs.
  for (const std::string& bad : {
           std::string("NOT A REQUEST\r\n\r\n"),
           std::string("GET /ping HTTP/1.1\r\nNo colon here\r\n\r\n"),
           std::string("GET /ping HTTP/9.9\r\n\r\n"),
           std::string("POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
           std::string("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET noslash HTTP/1.1\r\nHost: x\r\n\r\n"),
           kTlsHello,
       }) {
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.Send(bad));
    std::optional<std::string> resp = conn.ReadResponse();
    ASSERT_TRUE(resp.has_value()) << bad;
    EXPECT_EQ(StatusOf(*resp), 400) << bad;
    EXPECT_TRUE(conn.WaitForClose()) << bad;
  }
  EXPECT_EQ(Get("/ping")->status, 200);
}

TEST_F(ServerTest, OversizedHeaderGets431) {
  StartServer();
  RawConn conn(server_->port());
  ASSERT_TRUE(conn.Send(absl::StrCat("GET /ping HTTP/1.1\r\nX-Big: ", std::string(80000, 'h'),
                                     "\r\n\r\n")));
  std::optional<std::string> resp = conn.ReadResponse();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(StatusOf(*resp), 431);
}

TEST_F(ServerTest, ClientThatHangsUpMidRequestIsDropped) {
  StartServer();
  {
    RawConn conn(server_->port());
    ASSERT_TRUE(conn.Send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  }
  EXPECT_EQ(Get("/ping")->status, 200);
}

TEST_F(ServerTest, ServesConcurrentClients) {
  Server::Options options;
  options.threads = 2;
  StartServer(options);
  std::atomic<int> calls{0};
  server_->Handle("/n", [&](const Request& req) {
    ++calls;
    return Text(req.QueryValue("i").value_or(""));
  });
  constexpr int kClients = 6;
  constexpr int kRequestsEach = 20;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kRequestsEach; ++i) {
        const std::string id = absl::StrCat(c, "-", i);
        absl::StatusOr<ClientResponse> r = HttpRequest("GET", server_->address(), "/n?i=" + id);
        if (r.ok() && r->status == 200 && r->body == id) ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kRequestsEach);
  EXPECT_EQ(calls.load(), kClients * kRequestsEach);
}

TEST_F(ServerTest, StopWithConnectedClientsReturnsPromptlyAndClosesThem) {
  StartServer();
  RawConn keep_alive(server_->port());
  ASSERT_TRUE(keep_alive.Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(keep_alive.ReadResponse().has_value());  // Now surely accepted and idle.
  RawConn partial(server_->port());
  ASSERT_TRUE(partial.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"));
  RawConn silent(server_->port());

  const absl::Time start = absl::Now();
  server_->Stop();
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Milliseconds(250));

  EXPECT_TRUE(keep_alive.WaitForClose(absl::Seconds(2)));
  EXPECT_TRUE(partial.WaitForClose(absl::Seconds(2)));
  EXPECT_TRUE(silent.WaitForClose(absl::Seconds(2)));
  EXPECT_EQ(server_->port(), server_->port());  // Accessors stay valid after Stop.
  server_->Stop();                                // Idempotent.
  RawConn after(server_->port());
  EXPECT_FALSE(after.connected());
}

TEST_F(ServerTest, IdleConnectionIsClosedAfterIoTimeout) {
  Server::Options options;
  options.io_timeout = absl::Milliseconds(100);
  StartServer(options);
  RawConn idle(server_->port());
  ASSERT_TRUE(idle.Send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(idle.ReadResponse().has_value());
  EXPECT_TRUE(idle.WaitForClose(absl::Seconds(5)));
  RawConn stalled(server_->port());
  ASSERT_TRUE(stalled.Send("GET /ping HTTP/1.1\r\nHo"));
  EXPECT_TRUE(stalled.WaitForClose(absl::Seconds(5)));
}

TEST(ServerLifecycleTest, DestroyWithoutStartAndStopWithoutStartAreFine) {
  Server never_started({});
  never_started.Stop();
  EXPECT_EQ(never_started.port(), 0);
  EXPECT_EQ(never_started.address(), "");
}

TEST(ServerLifecycleTest, StartTwiceFails) {
  Server server({});
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ServerLifecycleTest, AddressInUseIsAClearError) {
  Server first({});
  ASSERT_TRUE(first.Start().ok());
  Server::Options options;
  options.address = first.address();
  Server second(options);
  absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), HasSubstr(first.address()));
  EXPECT_THAT(std::string(s.message()), HasSubstr("in use"));
}

TEST(ServerLifecycleTest, MalformedAddressesAreInvalidArgument) {
  for (const char* address : {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x",
                              "[::1:80", "::1:80", "127.0.0.1:-1"}) {
    Server::Options options;
    options.address = address;
    Server server(options);
    EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument) << address;
  }
}

TEST(ServerLifecycleTest, ListensOnAllInterfacesWithEmptyHost) {
  Server::Options options;
  options.address = ":0";
  Server server(options);
  server.Handle("/ping", [](const Request&) { return Text("OK"); });
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.address(), absl::StrCat("0.0.0.0:", server.port()));
  absl::StatusOr<ClientResponse> r =
      HttpRequest("GET", absl::StrCat("127.0.0.1:", server.port()), "/ping");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "OK");
}

// ---------------------------------------------------------------------------------------
// Client errors.

TEST(HttpClientTest, RejectsMalformedArguments) {
  EXPECT_EQ(HttpRequest("GET", "localhost", "/").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("GET", "127.0.0.1:0", "/").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("G T", "127.0.0.1:1", "/").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpRequest("GET", "127.0.0.1:1", "/a b").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  // Reserve a port, then free it so nothing listens there.
  int port = 0;
  {
    Server server({});
    ASSERT_TRUE(server.Start().ok());
    port = server.port();
  }
  absl::StatusOr<ClientResponse> r =
      HttpRequest("GET", absl::StrCat("127.0.0.1:", port), "/", "", {}, absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST(HttpClientTest, SilentServerTimesOut) {
  // A listener that never accepts: the kernel completes the handshake, nobody answers.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  const absl::Time start = absl::Now();
  absl::StatusOr<ClientResponse> r =
      HttpRequest("GET", absl::StrCat("127.0.0.1:", ntohs(addr.sin_port)), "/", "", {},
                  absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  close(fd);
}

// ---- asynchronous handlers ----

// Replies that a test sends later, from its own thread.
class HeldReplies {
 public:
  AsyncHandler Handler() {
    return [this](const Request& req, Reply reply) {
      absl::MutexLock lock(&mu_);
      replies_.push_back(std::move(reply));
    };
  }
  bool AwaitHeld(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return replies_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kIoTimeout);
  }
  Reply Take(size_t i) {
    absl::MutexLock lock(&mu_);
    return replies_.at(i);
  }

 private:
  absl::Mutex mu_;
  std::vector<Reply> replies_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ServerTest, AnAsyncHandlerAnswersLaterFromAnotherThreadWithoutHoldingTheIoThread) {
  HeldReplies held;
  StartServer();  // one I/O thread
  server_->HandleAsync("/later", held.Handler());
  RawConn waiting(server_->port());
  // Pipelined: /ping must wait for /later's answer on this connection.
  ASSERT_TRUE(waiting.Send("GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(held.AwaitHeld(1));
  // The only I/O thread serves another connection meanwhile.
  auto other = Get("/ping");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->body, "OK");
  EXPECT_FALSE(waiting.ReadResponse(false, absl::Milliseconds(100)).has_value());
  std::thread([reply = held.Take(0)] { reply(Text("later", 202)); }).join();
  held.Take(0)(Text("ignored"));  // a second answer is ignored
  auto first = waiting.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(StatusOf(*first), 202);
  EXPECT_EQ(BodyOf(*first), "later");
  auto second = waiting.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(BodyOf(*second), "OK");
}

TEST_F(ServerTest, AnAsyncAnswerAfterStopIsDropped) {
  HeldReplies held;
  StartServer();
  server_->HandleAsync("/later", held.Handler());
  RawConn waiting(server_->port());
  ASSERT_TRUE(waiting.Send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(held.AwaitHeld(1));
  server_->Stop();
  held.Take(0)(Text("too late"));
  server_.reset();
  EXPECT_TRUE(waiting.WaitForClose());
}

// ---- a client that does not read ----

// A loopback socket with a tiny receive buffer, so what the server writes piles up on
// the server's side.
int SmallWindowSocket(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

TEST_F(ServerTest, AClientThatDoesNotReadItsResponseIsClosedAfterTheWriteTimeout) {
  Server::Options options;
  options.io_timeout = absl::Minutes(10);
  options.write_timeout = absl::Milliseconds(200);
  StartServer(options);
  absl::Notification handled;
  server_->Handle("/big", [&](const Request&) {
    handled.Notify();
    return Text(std::string(16 << 20, 'b'));
  });
  const int fd = SmallWindowSocket(server_->port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(handled.WaitForNotificationWithTimeout(kIoTimeout));
  // Left unread in the server's socket while it writes, so that its close is a reset
  // this client sees without reading the response.
  ASSERT_TRUE(SendAll(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
  pollfd p{fd, 0, 0};  // POLLERR / POLLHUP only
  EXPECT_EQ(poll(&p, 1, 10000), 1) << "the stuck connection is still open";
  close(fd);
}

TEST_F(ServerTest, APipeliningClientThatDoesNotReadIsNotReadPastTheResponseBeingSent) {
  StartServer();
  std::atomic<int> calls{0};
  server_->Handle("/big", [&](const Request&) {
    ++calls;
    return Text(std::string(1 << 20, 'b'));
  });
  const int fd = SmallWindowSocket(server_->port());
  ASSERT_GE(fd, 0);
  constexpr int kRequests = 64;  // 64 MiB of answers nobody reads
  std::string wire;
  for (int i = 0; i < kRequests; ++i) wire += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, wire));  // small requests: the kernel takes them all
  // Waits (bounded) until the count holds still for 300 ms.
  int last = -1;
  for (int i = 0; i < 50 && calls.load() != last; ++i) {
    last = calls.load();
    absl::SleepFor(absl::Milliseconds(300));
  }
  EXPECT_LT(calls.load(), 16) << "the server went on answering requests nobody read";
  close(fd);
}

}  // namespace
}  // namespace nsq::http
