// NSQ's TCP protocol V2 (nsq.md 1.5, 5.2): a subscription (IDENTIFY, SUB, RDY, FIN, REQ,
// TOUCH, CLS, heartbeats answered with NOP) and a publisher (PUB, MPUB, DPUB, one
// response per command). TLS when tls_v1 is set; snappy and deflate are not negotiated yet.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/reachable.h"
#include "client/transport.h"
#include "common/net/host_port.h"
#include "nlohmann/json.hpp"
#include "openssl/err.h"
#include "openssl/ssl.h"
#include "openssl/x509v3.h"
#include "spdlog/spdlog.h"
#include "common/names/names.h"

namespace nsq::client::internal {
namespace {

constexpr int32_t kFrameResponse = 0;
constexpr int32_t kFrameError = 1;
constexpr int32_t kFrameMessage = 2;
constexpr uint32_t kDefaultMaxFrame = 64u << 20;

void PutU32(std::string* out, uint32_t v) {
  const uint32_t be = htonl(v);
  out->append(reinterpret_cast<const char*>(&be), 4);
}
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return ntohl(v);
}

int PollTimeoutMs(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return -1;
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, 1 << 30));
}

// OpenSSL writes to the socket with write(), which raises SIGPIPE when the peer has gone;
// a library must not kill its process for that. Blocks SIGPIPE in this thread for the
// scope and takes one it raised.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    pending_before_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    const int saved_errno = errno;  // the caller's result
    if (!pending_before_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved_errno;
  }

 private:
  sigset_t pipe_, old_;
  bool pending_before_ = false;
};

// A blocking TCP connection with deadlines and a read buffer of whole frames.
class Socket {
 public:
  ~Socket() { Close(); }

  // The TLS upgrade after IDENTIFY granted tls_v1: a client handshake on the socket.
  absl::Status StartTls(const Config& c, const std::string& address, absl::Duration timeout) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (!c.tls_insecure_skip_verify) {
      const int ok = c.tls_root_ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx_)
                         : SSL_CTX_load_verify_locations(ctx_, c.tls_root_ca_file.c_str(), nullptr);
      if (ok != 1) return absl::InvalidArgumentError(absl::StrCat("cannot load CA file ", c.tls_root_ca_file));
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!c.tls_cert.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx_, c.tls_cert.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx_, c.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("cannot load tls_cert/tls_key ", c.tls_cert));
      }
    }
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return absl::InternalError("SSL_new failed");
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_fd(ssl_, fd_);
    auto hp = net::ParseHostPort(address);
    const std::string host = hp && !hp->host.empty() ? hp->host : "127.0.0.1";
    if (!c.tls_insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
        SSL_set_tlsext_host_name(ssl_, host.c_str());
      }
    }
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      ERR_clear_error();
      int rc;
      {
        SigpipeGuard no_sigpipe;
        rc = SSL_connect(ssl_);
      }
      if (rc == 1) return absl::OkStatus();
      const int err = SSL_get_error(ssl_, rc);
      short events;
      if (err == SSL_ERROR_WANT_READ) {
        events = POLLIN;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        events = POLLOUT;
      } else {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
        return absl::UnavailableError(absl::StrCat("TLS handshake with ", address, ": ", buf));
      }
      pollfd p{fd_, events, 0};
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() || poll(&p, 1, PollTimeoutMs(left)) == 0) {
        return absl::DeadlineExceededError(absl::StrCat("TLS handshake with ", address, ": timeout"));
      }
    }
  }

  // One send or receive; > 0: bytes moved; 0: wait for `*events` and retry; < 0: error
  // (errno set for plain sockets, EIO for TLS errors, 0 for a closed connection).
  ssize_t Io(bool write, char* data, size_t n, short* events) {
    if (ssl_ == nullptr) {
      const ssize_t r = write ? ::send(fd_, data, n, MSG_NOSIGNAL) : ::recv(fd_, data, n, 0);
      if (r > 0) return r;
      if (r == 0 && !write) {
        errno = 0;
        return -1;
      }
      if (r < 0 && errno == EINTR) {
        *events = 0;
        return 0;
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        *events = write ? POLLOUT : POLLIN;
        return 0;
      }
      return -1;
    }
    absl::MutexLock lock(&ssl_mu_);  // SSL_read and SSL_write share the session
    SigpipeGuard no_sigpipe;
    ERR_clear_error();
    const int r = write ? SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(n, 1 << 30)))
                        : SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (r > 0) return r;
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return 0;
      case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return 0;
      case SSL_ERROR_ZERO_RETURN:
        errno = 0;
        return -1;
      default:
        errno = EIO;
        return -1;
    }
  }

  absl::Status Dial(const std::string& address, absl::Duration timeout) {
    auto hp = net::ParseHostPort(address);
    if (!hp || hp->port == 0) return absl::InvalidArgumentError(absl::StrCat("bad address ", address));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string host = hp->host.empty() ? "127.0.0.1" : hp->host;
    if (getaddrinfo(host.c_str(), std::to_string(hp->port).c_str(), &hints, &res) != 0 || res == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot resolve ", address));
    }
    absl::Status last = absl::UnavailableError(absl::StrCat("cannot connect to ", address));
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = poll(&p, 1, PollTimeoutMs(timeout));
        int err = 0;
        socklen_t len = sizeof(err);
        if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
          rc = 0;
        } else {
          if (rc == 0) err = ETIMEDOUT;
          last = absl::UnavailableError(absl::StrCat("cannot connect to ", address, ": ", std::strerror(err)));
          rc = -1;
        }
      } else if (rc != 0) {
        last = absl::UnavailableError(absl::StrCat("cannot connect to ", address, ": ", std::strerror(errno)));
      }
      if (rc == 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fd_ = fd;
        freeaddrinfo(res);
        return absl::OkStatus();
      }
      ::close(fd);
    }
    freeaddrinfo(res);
    return last;
  }

  absl::Status WriteAll(std::string_view data, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!data.empty()) {
      short events = 0;
      const ssize_t n = Io(true, const_cast<char*>(data.data()), data.size(), &events);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0) return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
      if (events == 0) continue;
      pollfd p{fd_, events, 0};
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration() || poll(&p, 1, PollTimeoutMs(left)) == 0) {
        return absl::DeadlineExceededError("write timeout");
      }
    }
    return absl::OkStatus();
  }

  // The next whole frame in the buffer, without blocking; false when none is complete.
  absl::StatusOr<bool> NextFrame(int32_t* type, std::string_view* data) {
    const size_t avail = rbuf_.size() - rpos_;
    if (avail < 8) return false;
    const uint32_t size = GetU32(rbuf_.data() + rpos_);
    if (size == 1213486160) {  // "HTTP"
      return absl::FailedPreconditionError("unexpected HTTP response, a nsqd TCP endpoint is required");
    }
    if (size < 4 || size > max_frame_) return absl::DataLossError(absl::StrCat("bad frame size ", size));
    if (avail < 4 + size) return false;
    *type = static_cast<int32_t>(GetU32(rbuf_.data() + rpos_ + 4));
    *data = std::string_view(rbuf_.data() + rpos_ + 8, size - 4);
    rpos_ += 4 + size;
    return true;
  }

  // Reads more bytes into the buffer (at least one), waiting up to `timeout`.
  absl::Status Fill(absl::Duration timeout) {
    if (rpos_ > 0 && rpos_ == rbuf_.size()) {
      rbuf_.clear();
      rpos_ = 0;
    } else if (rpos_ > (1 << 20) && rpos_ > rbuf_.size() / 2) {
      rbuf_.erase(0, rpos_);
      rpos_ = 0;
    }
    const size_t kChunk = 256 << 10;
    for (;;) {
      const size_t old = rbuf_.size();
      rbuf_.resize(old + kChunk);
      short events = 0;
      const ssize_t n = Io(false, rbuf_.data() + old, kChunk, &events);
      rbuf_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
      if (n > 0) return absl::OkStatus();
      if (n < 0) {
        if (errno == 0) return absl::UnavailableError("connection closed");
        return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      }
      if (events == 0) continue;
      pollfd p{fd_, events, 0};
      int rc = poll(&p, 1, PollTimeoutMs(timeout));
      if (rc == 0) return absl::DeadlineExceededError("read timeout");
      if (rc < 0 && errno != EINTR) return absl::UnavailableError("poll failed");
    }
  }

  // Blocks for the next frame.
  absl::Status ReadFrame(int32_t* type, std::string_view* data, absl::Duration timeout) {
    for (;;) {
      auto got = NextFrame(type, data);
      if (!got.ok()) return got.status();
      if (*got) return absl::OkStatus();
      if (auto st = Fill(timeout); !st.ok()) return st;
    }
  }

  void Shutdown() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  void Close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    rbuf_.clear();
    rpos_ = 0;
  }
  bool open() const { return fd_ >= 0; }
  void set_max_frame(uint32_t m) { max_frame_ = m; }

 private:
  int fd_ = -1;
  std::string rbuf_;
  size_t rpos_ = 0;
  uint32_t max_frame_ = kDefaultMaxFrame;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  absl::Mutex ssl_mu_;
};

// NSQ's topic/channel name rule (1-64 of [.a-zA-Z0-9_-], optional "#ephemeral"):
// checked before a name goes into a command line, where a space would split it.
// TODO: use common/'s name check once the broker's moves there.
std::string Command(std::string_view line, std::string_view body) {
  std::string out(line);
  out += '\n';
  PutU32(&out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

absl::Status StatusFromErrorFrame(std::string_view data) {
  const std::string msg(data);
  if (absl::StartsWith(msg, "E_BAD_TOPIC") || absl::StartsWith(msg, "E_BAD_MESSAGE") ||
      absl::StartsWith(msg, "E_BAD_BODY") || absl::StartsWith(msg, "E_INVALID") ||
      absl::StartsWith(msg, "E_BAD_CHANNEL")) {
    return absl::InvalidArgumentError(msg);
  }
  if (absl::StartsWith(msg, "E_AUTH") || absl::StartsWith(msg, "E_UNAUTHORIZED")) {
    return absl::PermissionDeniedError(msg);
  }
  return absl::UnavailableError(msg);
}

// Magic, IDENTIFY, and AUTH when the broker asks for it. Returns max_rdy_count.
absl::StatusOr<int64_t> Handshake(Socket& s, const std::string& address, const Config& c,
                                  absl::Duration timeout) {
  nlohmann::json id = {
      {"client_id", c.client_id},
      {"hostname", c.hostname},
      {"user_agent", c.user_agent},
      {"feature_negotiation", true},
      {"heartbeat_interval",
       c.heartbeat_interval < absl::ZeroDuration() ? -1 : absl::ToInt64Milliseconds(c.heartbeat_interval)},
      {"sample_rate", c.sample_rate},
      {"output_buffer_size", c.output_buffer_size},
      {"output_buffer_timeout", c.output_buffer_timeout < absl::ZeroDuration()
                                    ? -1
                                    : absl::ToInt64Milliseconds(c.output_buffer_timeout)},
      {"msg_timeout", absl::ToInt64Milliseconds(c.msg_timeout)},
      {"tls_v1", c.tls_v1},
      {"snappy", false},
      {"deflate", false},
  };
  std::string out = "  V2";
  out += Command("IDENTIFY", id.dump());
  if (auto st = s.WriteAll(out, timeout); !st.ok()) return st;
  int32_t type;
  std::string_view data;
  if (auto st = s.ReadFrame(&type, &data, timeout); !st.ok()) return st;
  if (type == kFrameError) return absl::FailedPreconditionError(absl::StrCat("IDENTIFY: ", std::string(data)));
  int64_t max_rdy = 2500;
  bool auth_required = false;
  if (!data.empty() && data[0] == '{') {
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded()) return absl::DataLossError("IDENTIFY: bad JSON response");
    if (j.contains("max_rdy_count") && j["max_rdy_count"].is_number()) max_rdy = j["max_rdy_count"];
    if (j.contains("auth_required") && j["auth_required"].is_boolean()) auth_required = j["auth_required"];
    const bool tls = j.contains("tls_v1") && j["tls_v1"].is_boolean() && j["tls_v1"].get<bool>();
    if (c.tls_v1 && !tls) return absl::FailedPreconditionError("the broker did not agree to TLS (tls_v1)");
    if (tls) {
      if (auto st = s.StartTls(c, address, timeout); !st.ok()) return st;
      if (auto st = s.ReadFrame(&type, &data, timeout); !st.ok()) return st;
      if (type != kFrameResponse || data != "OK") return absl::DataLossError("TLS upgrade: no OK");
    }
  } else if (c.tls_v1) {
    return absl::FailedPreconditionError("the broker did not agree to TLS (tls_v1)");
  }
  if (auth_required) {
    if (c.auth_secret.empty()) return absl::PermissionDeniedError("the broker requires auth_secret");
    if (auto st = s.WriteAll(Command("AUTH", c.auth_secret), timeout); !st.ok()) return st;
    if (auto st = s.ReadFrame(&type, &data, timeout); !st.ok()) return st;
    if (type == kFrameError) return absl::PermissionDeniedError(absl::StrCat("AUTH: ", std::string(data)));
  }
  if (c.max_msg_size > 0) s.set_max_frame(static_cast<uint32_t>(c.max_msg_size + 30));
  return max_rdy;
}

class V2Subscription : public Subscription {
 public:
  explicit V2Subscription(SubscribeParams p) : params_(std::move(p)) {}

  absl::StatusOr<int64_t> Connect() override {
    const Config& c = params_.config;
    if (!names::IsValidName(params_.topic) || !names::IsValidName(params_.channel)) {
      return absl::InvalidArgumentError("invalid topic or channel name");
    }
    if (auto st = socket_.Dial(params_.address, c.dial_timeout); !st.ok()) return st;
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return absl::CancelledError("shut down");
      connected_ = true;
    }
    auto max_rdy = Handshake(socket_, params_.address, c, c.read_timeout);
    if (!max_rdy.ok()) return max_rdy.status();
    if (auto st = socket_.WriteAll(absl::StrCat("SUB ", params_.topic, " ", params_.channel, "\n"),
                                   c.write_timeout);
        !st.ok()) {
      return st;
    }
    // SUB's answer; a heartbeat cannot come first (it is only sent once subscribed, but
    // be lenient).
    for (;;) {
      int32_t type;
      std::string_view data;
      if (auto st = socket_.ReadFrame(&type, &data, c.read_timeout); !st.ok()) return st;
      if (type == kFrameError) return StatusFromErrorFrame(data);
      if (type == kFrameResponse && data == "OK") return *max_rdy;
      if (type == kFrameResponse && data == "_heartbeat_") {
        Nop();
        if (auto st = Flush(); !st.ok()) return st;
      }
    }
  }

  absl::Status Read(Batch* out) override {
    const Config& c = params_.config;
    for (;;) {
      int32_t type;
      std::string_view data;
      for (;;) {
        auto got = socket_.NextFrame(&type, &data);
        if (!got.ok()) return got.status();
        if (!*got) break;
        if (type == kFrameMessage) {
          if (data.size() < 26) return absl::DataLossError("short message frame");
          RawMessage m;
          uint32_t hi = GetU32(data.data()), lo = GetU32(data.data() + 4);
          m.timestamp_ns = static_cast<int64_t>((uint64_t{hi} << 32) | lo);
          m.attempts = (static_cast<uint8_t>(data[8]) << 8) | static_cast<uint8_t>(data[9]);
          m.id.assign(data.data() + 10, 16);
          m.body.assign(data.data() + 26, data.size() - 26);
          out->messages.push_back(std::move(m));
        } else if (type == kFrameResponse) {
          if (data == "_heartbeat_") {
            Nop();
            if (auto st = Flush(); !st.ok()) return st;
          } else if (data == "CLOSE_WAIT") {
            out->close_wait = true;
          }
        } else if (type == kFrameError) {
          // FIN/REQ/TOUCH failures are not fatal; the broker closes after a fatal one.
          spdlog::warn("nsqd {}: {}", params_.address, data);
        } else {
          return absl::DataLossError(absl::StrCat("unknown frame type ", type));
        }
      }
      if (!out->messages.empty() || out->close_wait) return absl::OkStatus();
      if (auto st = socket_.Fill(c.read_timeout); !st.ok()) return st;
    }
  }

  void Ready(int64_t count) override { Append(absl::StrCat("RDY ", count, "\n")); }
  void Finish(const std::string& id) override { Append(absl::StrCat("FIN ", id, "\n")); }
  void Requeue(const std::string& id, absl::Duration delay) override {
    Append(absl::StrCat("REQ ", id, " ", std::max<int64_t>(0, absl::ToInt64Milliseconds(delay)), "\n"));
  }
  void Touch(const std::string& id) override { Append(absl::StrCat("TOUCH ", id, "\n")); }
  void StartClose() override { Append("CLS\n"); }

  absl::Status Flush() override {
    absl::MutexLock wlock(&write_mu_);
    std::string out;
    {
      absl::MutexLock lock(&mu_);
      out.swap(pending_);
      if (!connected_ || shutdown_) return absl::UnavailableError("not connected");
    }
    if (out.empty()) return absl::OkStatus();
    return socket_.WriteAll(out, params_.config.write_timeout + absl::Seconds(5));
  }

  void Shutdown() override {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    if (connected_) socket_.Shutdown();
  }

 private:
  void Nop() { Append("NOP\n"); }
  void Append(std::string_view s) {
    absl::MutexLock lock(&mu_);
    pending_.append(s);
  }

  const SubscribeParams params_;
  Socket socket_;  // reads: the reader thread; writes: under write_mu_
  absl::Mutex write_mu_;
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(write_mu_);
  std::string pending_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

class V2Publisher : public Publisher {
 public:
  V2Publisher(std::string address, Config config, absl::Duration timeout)
      : address_(std::move(address)), config_(std::move(config)), timeout_(timeout) {}

  absl::StatusOr<std::vector<std::string>> Publish(const std::string& topic,
                                                   const std::vector<std::string>& bodies,
                                                   absl::Duration defer) override {
    if (bodies.empty()) return absl::InvalidArgumentError("no message bodies");
    if (!names::IsValidName(topic)) return absl::InvalidArgumentError(absl::StrCat("invalid topic name ", topic));
    std::string out;
    int responses = 0;
    if (defer > absl::ZeroDuration()) {
      for (const std::string& b : bodies) {
        out += Command(absl::StrCat("DPUB ", topic, " ", absl::ToInt64Milliseconds(defer)), b);
        ++responses;
      }
    } else if (bodies.size() == 1) {
      out = Command(absl::StrCat("PUB ", topic), bodies[0]);
      responses = 1;
    } else {
      std::string body;
      PutU32(&body, static_cast<uint32_t>(bodies.size()));
      for (const std::string& b : bodies) {
        PutU32(&body, static_cast<uint32_t>(b.size()));
        body += b;
      }
      out = Command(absl::StrCat("MPUB ", topic), body);
      responses = 1;
    }
    absl::MutexLock lock(&mu_);
    if (!socket_.open()) {
      if (auto st = socket_.Dial(address_, config_.dial_timeout); !st.ok()) return st;
      if (auto st = Handshake(socket_, address_, config_, timeout_); !st.ok()) return Fail(st.status());
    }
    if (auto st = socket_.WriteAll(out, timeout_); !st.ok()) return Fail(st);
    absl::Status result = absl::OkStatus();
    while (responses > 0) {
      int32_t type;
      std::string_view data;
      if (auto st = socket_.ReadFrame(&type, &data, timeout_); !st.ok()) return Fail(st);
      if (type == kFrameResponse && data == "_heartbeat_") {
        if (auto st = socket_.WriteAll("NOP\n", timeout_); !st.ok()) return Fail(st);
        continue;
      }
      --responses;
      if (type == kFrameError && result.ok()) result = StatusFromErrorFrame(data);
    }
    if (!result.ok()) return Fail(result);  // nsqd closes after a failed publish
    return std::vector<std::string>{};
  }

  const std::string& address() const override { return address_; }

 private:
  absl::Status Fail(absl::Status st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    socket_.Close();
    return st;
  }

  const std::string address_;
  const Config config_;
  const absl::Duration timeout_;
  absl::Mutex mu_;  // one publish exchange at a time
  Socket socket_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Subscription> NewV2Subscription(SubscribeParams params) {
  return std::make_unique<V2Subscription>(std::move(params));
}

std::unique_ptr<Publisher> NewV2Publisher(std::string address, Config config, absl::Duration timeout) {
  return std::make_unique<V2Publisher>(std::move(address), std::move(config), timeout);
}

}  // namespace nsq::client::internal

namespace nsq::client {

absl::Status CheckReachable(const std::string& address, absl::Duration timeout) {
  internal::Socket s;
  return s.Dial(address, timeout);
}

}  // namespace nsq::client
