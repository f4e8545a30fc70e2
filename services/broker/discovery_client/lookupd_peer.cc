// A stock nsqlookupd (lookupd TCP protocol V1), as nsqd talks to it (nsq.md 1.10): magic,
// IDENTIFY, REGISTER/UNREGISTER, PING; channel pre-creation through lookupd's HTTP
// /channels. Blocking sockets with a per-round-trip timeout, on the peer's thread.

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/net/host_port.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "nlohmann/json.hpp"
#include "services/broker/discovery_client/peer_base.h"
#include "spdlog/spdlog.h"

namespace nsq::broker::discovery_client {
namespace {

// Largest response frame accepted from lookupd (its IDENTIFY reply is ~120 bytes).
constexpr uint32_t kMaxFrameBytes = 1 << 20;

std::string Frame(const std::string& data) {
  const uint32_t n = static_cast<uint32_t>(data.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + data;
}

// Topic names are [.a-zA-Z0-9_-] plus "#ephemeral": only '#' needs escaping.
std::string QueryEscape(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '#') {
      out += "%23";
    } else {
      out += c;
    }
  }
  return out;
}

class LookupdPeer final : public PeerBase {
 public:
  using PeerBase::PeerBase;
  ~LookupdPeer() override { Stop(); }

  std::vector<std::string> Channels(const std::string& topic) override {
    std::vector<std::string> channels;
    std::string http_address;
    {
      absl::MutexLock lock(&mu_);
      http_address = http_address_;
    }
    if (!connected() || http_address.empty()) return channels;
    auto resp = http::HttpRequest("GET", http_address, "/channels?topic=" + QueryEscape(topic),
                                  "", {{"Accept", "application/vnd.nsq; version=1.0"}},
                                  options_.timeout);
    if (!resp.ok() || resp->status != 200) {
      spdlog::warn("lookupd {}: /channels?topic={} failed", http_address, topic);
      return channels;
    }
    nlohmann::json j = nlohmann::json::parse(resp->body, nullptr, false);
    if (j.is_object() && j.contains("data")) j = j["data"];  // pre-1.0 envelope
    if (!j.is_object() || !j.contains("channels") || !j["channels"].is_array()) return channels;
    for (const auto& c : j["channels"]) {
      if (c.is_string()) channels.push_back(c.get<std::string>());
    }
    return channels;
  }

 protected:
  bool Connect() override {
    const std::optional<net::HostPort> parsed = net::ParseHostPort(address_);
    if (!parsed) {
      spdlog::error("lookupd {}: bad address", address_);
      return false;
    }
    const std::string& host = parsed->host;
    const std::string port = std::to_string(parsed->port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) {
      freeaddrinfo(res);
      return false;
    }
    const int64_t ms = absl::ToInt64Milliseconds(options_.timeout);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  // bounds connect() too
    {
      absl::MutexLock lock(&mu_);
      if (stopping()) {
        close(fd);
        freeaddrinfo(res);
        return false;
      }
      fd_ = fd;
    }
    const bool connected = connect(fd, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!connected) return false;

    nlohmann::json id = {
        {"version", identity_.version},     {"tcp_port", identity_.tcp_port},
        {"http_port", identity_.http_port}, {"hostname", identity_.hostname},
        {"broadcast_address", identity_.broadcast_address},
        {"topology_zone", identity_.topology_zone},
        {"topology_region", identity_.topology_region},
    };
    if (!WriteAll("  V1IDENTIFY\n" + Frame(id.dump()))) return false;
    std::string reply;
    if (!ReadFrame(&reply)) return false;
    if (reply.rfind("E_", 0) == 0) {
      spdlog::error("lookupd {}: IDENTIFY refused: {}", address_, reply);
      return false;
    }
    // Its broadcast address and HTTP port: where channel pre-creation asks.
    nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_object() && j.contains("broadcast_address") && j["broadcast_address"].is_string() &&
        j.contains("http_port") && j["http_port"].is_number_integer()) {
      absl::MutexLock lock(&mu_);
      http_address_ = absl::StrCat(j["broadcast_address"].get<std::string>(), ":",
                                   j["http_port"].get<int>());
    }
    return true;
  }

  bool Send(const std::vector<RegistrationEvent>& events) override {
    // Pipelined: every command, then every answer.
    std::string out;
    for (const RegistrationEvent& e : events) {
      absl::StrAppend(&out, e.add ? "REGISTER " : "UNREGISTER ", e.topic,
                      e.channel.empty() ? "" : " ", e.channel, "\n");
    }
    if (!WriteAll(out)) return false;
    for (size_t i = 0; i < events.size(); ++i) {
      std::string reply;
      if (!ReadFrame(&reply)) return false;
      if (reply != "OK") {
        spdlog::error("lookupd {}: {}", address_, reply);
        return false;
      }
    }
    return true;
  }

  bool Heartbeat() override {
    std::string reply;
    return WriteAll("PING\n") && ReadFrame(&reply) && reply == "OK";
  }

  void Disconnect() override {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  void Interrupt() override {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  }

 private:
  int fd() {
    absl::MutexLock lock(&mu_);
    return fd_;
  }

  bool WriteAll(const std::string& data) {
    const int f = fd();
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = send(f, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool ReadExactly(char* p, size_t n) {
    const int f = fd();
    size_t done = 0;
    while (done < n) {
      ssize_t r = recv(f, p + done, n - done, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      done += static_cast<size_t>(r);
    }
    return true;
  }

  bool ReadFrame(std::string* data) {
    unsigned char size[4];
    if (!ReadExactly(reinterpret_cast<char*>(size), 4)) return false;
    const uint32_t n = (uint32_t{size[0]} << 24) | (uint32_t{size[1]} << 16) |
                       (uint32_t{size[2]} << 8) | uint32_t{size[3]};
    if (n > kMaxFrameBytes) return false;
    data->assign(n, '\0');
    return ReadExactly(data->data(), n);
  }

  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::string http_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Peer> MakeLookupdPeer(const Registrar* registrar, std::string address,
                                      BrokerIdentity identity, RegistrarOptions options) {
  return std::make_unique<LookupdPeer>(registrar, std::move(address), std::move(identity),
                                       std::move(options));
}

}  // namespace nsq::broker::discovery_client
