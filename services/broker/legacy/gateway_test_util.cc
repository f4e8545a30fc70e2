#include "services/broker/legacy/gateway_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/broker/legacy/v2_protocol.h"

namespace nsq::legacy::testing {
namespace {

void AppendBe32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

std::optional<Message> ParseMessage(const Frame& frame) {
  if (frame.type != kFrameTypeMessage || frame.data.size() < 26) return std::nullopt;
  Message m;
  const std::string& d = frame.data;
  m.timestamp_ns = static_cast<int64_t>((uint64_t{Be32(d.data())} << 32) | Be32(d.data() + 4));
  m.attempts = static_cast<uint16_t>((static_cast<unsigned char>(d[8]) << 8) | static_cast<unsigned char>(d[9]));
  m.id = d.substr(10, 16);
  m.body = d.substr(26);
  return m;
}

std::string Command(std::string_view line) { return absl::StrCat(std::string(line), "\n"); }

std::string Command(std::string_view line, std::string_view body) {
  std::string out = absl::StrCat(std::string(line), "\n");
  AppendBe32(&out, static_cast<uint32_t>(body.size()));
  out.append(body.data(), body.size());
  return out;
}

std::string MpubCommand(std::string_view topic, const std::vector<std::string>& bodies) {
  std::string body;
  AppendBe32(&body, static_cast<uint32_t>(bodies.size()));
  for (const std::string& b : bodies) {
    AppendBe32(&body, static_cast<uint32_t>(b.size()));
    body += b;
  }
  return Command(absl::StrCat("MPUB ", std::string(topic)), body);
}

V2Client::V2Client(int fd) : fd_(fd) {}

V2Client::~V2Client() {
  if (ssl_) SSL_free(ssl_);
  if (ssl_ctx_) SSL_CTX_free(ssl_ctx_);
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<V2Client> V2Client::Connect(int port, bool magic) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return nullptr;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto c = std::make_unique<V2Client>(fd);
  if (magic) c->Send("  V2");
  return c;
}

bool V2Client::RawWrite(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n;
    if (ssl_) {
      n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    } else {
      n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool V2Client::Send(std::string_view bytes) {
  if (codec_) {
    std::string wire;
    codec_->Encode(bytes, &wire);
    return RawWrite(wire);
  }
  return RawWrite(bytes);
}

// Reads more bytes into plain_ (through TLS and the codec); false on close or timeout.
bool V2Client::FillPlain(absl::Time deadline) {
  for (;;) {
    if (codec_) {
      size_t produced = 0;
      if (!codec_->Decode(&plain_, 1 << 20, &produced).ok()) return false;
      if (produced > 0) return true;
    }
    if (!(ssl_ && SSL_pending(ssl_) > 0)) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (r <= 0) return false;
    }
    char buf[65536];
    ssize_t n = ssl_ ? SSL_read(ssl_, buf, sizeof(buf)) : ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (ssl_ && n < 0 && SSL_get_error(ssl_, static_cast<int>(n)) == SSL_ERROR_WANT_READ) continue;
      closed_ = true;
      return false;
    }
    if (codec_) {
      codec_->Feed(std::string_view(buf, static_cast<size_t>(n)));
    } else {
      plain_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }
}

std::optional<Frame> V2Client::Read(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (plain_.size() < 8 || plain_.size() < 4 + Be32(plain_.data())) {
    if (!FillPlain(deadline)) return std::nullopt;
  }
  const uint32_t size = Be32(plain_.data());
  Frame f;
  f.type = static_cast<int32_t>(Be32(plain_.data() + 4));
  f.data = plain_.substr(8, size - 4);
  plain_.erase(0, 4 + size);
  return f;
}

std::string V2Client::ReadText(absl::Duration timeout) {
  std::optional<Frame> f = Read(timeout);
  if (!f) return closed_ ? "closed" : "timeout";
  return absl::StrCat(f->type, " ", f->data);
}

std::string V2Client::ReadTextSkippingHeartbeats(absl::Duration timeout) {
  for (;;) {
    std::string t = ReadText(timeout);
    if (t != "0 _heartbeat_") return t;
  }
}

bool V2Client::WaitClosed(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!closed_) {
    plain_.clear();
    if (!FillPlain(deadline) && !closed_) return false;
  }
  return true;
}

std::string V2Client::Identify(std::string_view json) {
  Send(Command("IDENTIFY", json));
  return ReadText();
}

bool V2Client::Subscribe(std::string_view topic, std::string_view channel, int64_t rdy,
                         std::string_view identify_json) {
  const std::string reply = Identify(identify_json);
  if (reply.rfind("0 ", 0) != 0) return false;
  Send(Command(absl::StrCat("SUB ", std::string(topic), " ", std::string(channel))));
  if (ReadTextSkippingHeartbeats() != "0 OK") return false;
  return Send(Command(absl::StrCat("RDY ", rdy)));
}

std::string V2Client::Pub(std::string_view topic, std::string_view body) {
  Send(Command(absl::StrCat("PUB ", std::string(topic)), body));
  return ReadTextSkippingHeartbeats();
}

bool V2Client::StartTls(const std::string& ca_file, const std::string& cert_file,
                        const std::string& key_file) {
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ca_file.empty()) {
    SSL_CTX_load_verify_locations(ssl_ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (!cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx_, cert_file.c_str()) != 1) return false;
    if (SSL_CTX_use_PrivateKey_file(ssl_ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1) return false;
  }
  ssl_ = SSL_new(ssl_ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  return SSL_connect(ssl_) == 1;
}

// ---------------------------------------------------------------------------------------

void HeldDurabilityStorage::WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) {
  {
    absl::MutexLock lock(&mu_);
    if (hold_) {
      held_.push_back(std::move(done));
      return;
    }
  }
  std::move(done)(absl::OkStatus());
}

void HeldDurabilityStorage::Hold(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_ = hold;
}

size_t HeldDurabilityStorage::Waiting() {
  absl::MutexLock lock(&mu_);
  return held_.size();
}

bool HeldDurabilityStorage::AwaitWaiting(size_t n) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
}

size_t HeldDurabilityStorage::Release(absl::Status status) {
  std::vector<absl::AnyInvocable<void(absl::Status) &&>> held;
  {
    absl::MutexLock lock(&mu_);
    held.swap(held_);
  }
  for (auto& done : held) std::move(done)(status);
  return held.size();
}

Gateway::Gateway(GatewayConfig config) {
  engine_ = std::make_unique<broker::Engine>(config.engine, &clock_, &storage_);
  if (!engine_->Start().ok()) std::abort();
  V2ServerOptions v2 = config.v2;
  v2.address = "127.0.0.1:0";
  v2.threads = config.v2_threads;
  v2.max_msg_size = config.engine.max_msg_size;
  v2.max_rdy_count = config.engine.max_rdy_count;
  v2.msg_timeout = config.engine.msg_timeout;
  v2.max_msg_timeout = config.engine.max_msg_timeout;
  v2.max_req_timeout = config.engine.max_req_timeout;
  v2_ = std::make_unique<V2Server>(engine_.get(), v2);
  if (absl::Status st = v2_->Start(); !st.ok()) {
    std::fprintf(stderr, "V2Server: %s\n", std::string(st.message()).c_str());
    std::abort();
  }
  http::Server::Options http_options;
  http_options.address = "127.0.0.1:0";
  http_options.max_body_bytes = static_cast<size_t>(config.http.max_body_size) + 4096;
  http_options.threads = config.http_threads;
  if (config.http_write_timeout > absl::ZeroDuration()) {
    http_options.write_timeout = config.http_write_timeout;
  }
  http_ = std::make_unique<http::Server>(http_options);
  HttpApiOptions api = config.http;
  api.max_msg_size = config.engine.max_msg_size;
  api.max_req_timeout = config.engine.max_req_timeout;
  api.tcp_port = [this] { return v2_->port(); };
  api.http_port = [this] { return http_->port(); };
  RegisterHttpApi(http_.get(), engine_.get(), v2_.get(), api);
  if (!http_->Start().ok()) std::abort();
}

Gateway::~Gateway() {
  // A publisher still waiting for durability (a failed test) must not hang the stop.
  storage_.Hold(false);
  storage_.Release();
  http_->Stop();
  v2_->Stop();
  engine_->Shutdown();
}

void Gateway::Advance(absl::Duration d) {
  clock_.Advance(d);
  engine_->ProcessTimers();
}

absl::StatusOr<http::ClientResponse> Gateway::Http(
    const std::string& method, const std::string& target, const std::string& body,
    std::vector<std::pair<std::string, std::string>> headers) {
  return http::HttpRequest(method, absl::StrCat("127.0.0.1:", http_->port()), target, body,
                           std::move(headers));
}

broker::ChannelStats Gateway::ChannelStats(const std::string& topic, const std::string& channel) {
  auto stats = engine_->GetStats(broker::StatsFilter{topic, channel, true});
  if (!stats.ok() || stats->empty()) return {};
  for (const auto& c : (*stats)[0].channels) {
    if (c.name == channel) return c;
  }
  return {};
}

std::string TestdataPath(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::string root = srcdir ? absl::StrCat(srcdir, "/", workspace ? workspace : "nsq_cpp", "/") : "";
  return absl::StrCat(root, "services/broker/legacy/testdata/", name);
}

std::string HttpCall(Gateway& gw, const std::string& method, const std::string& target,
                     const std::string& body) {
  auto r = gw.Http(method, target, body);
  if (!r.ok()) return std::string(r.status().message());
  return absl::StrCat(r->status, " [", r->Header("Content-Type").value_or(""), "] [",
                      r->Header("X-NSQ-Content-Type").value_or(""), "] ", r->body);
}

}  // namespace nsq::legacy::testing
