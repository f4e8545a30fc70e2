#pragma once

// nsqlookupd's TCP protocol V1 (nsq.md 2.2) as a byte-in, bytes-out state machine, so
// that the parser is tested and fuzzed without sockets. lookupd_tcp_server.h puts it on
// a socket.

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "services/discovery/registry.h"

namespace nsq::discovery {

// What this lookupd tells a peer in reply to IDENTIFY.
struct LookupdInfo {
  std::string version = "1.3.0";
  std::string broadcast_address;
  std::string hostname;
  int tcp_port = 0;
  int http_port = 0;
};

// One V1 connection. Not thread-safe: the connection's strand drives it.
class LookupdV1Session {
 public:
  // Longest command line accepted (a REGISTER line is under 150 bytes).
  static constexpr size_t kMaxLineBytes = 1024;
  // Largest IDENTIFY body accepted (nsqlookupd reads any size; nsqd sends ~200 bytes).
  static constexpr int32_t kMaxIdentifyBodyBytes = 64 * 1024;

  // `registry` and `info` must outlive the session.
  LookupdV1Session(Registry* registry, const LookupdInfo* info, std::string remote_address);
  ~LookupdV1Session();  // Close()s.
  LookupdV1Session(const LookupdV1Session&) = delete;
  LookupdV1Session& operator=(const LookupdV1Session&) = delete;

  // Feeds bytes received from the peer and appends the framed responses
  // ([4-byte big-endian size][data]) to `out`. Returns false when the connection must
  // be closed once `out` is written (a bad magic or any error: all are fatal in V1).
  bool Consume(absl::string_view data, std::string* out);
  // The connection closed: the peer's registrations go (their keys stay).
  void Close();

  bool identified() const { return identified_; }
  const std::string& remote_address() const { return remote_address_; }

 private:
  enum class State { kMagic, kLine, kIdentifySize, kIdentifyBody, kClosed };

  // Runs one command line. False when it failed (the error is in `out`).
  bool Exec(absl::string_view line, std::string* out);
  bool FinishIdentify(absl::string_view body, std::string* out);
  bool Fail(std::string error, std::string* out);

  Registry* const registry_;
  const LookupdInfo* const info_;
  const std::string remote_address_;
  State state_ = State::kMagic;
  std::string buffer_;
  int32_t body_size_ = 0;
  bool identified_ = false;
};

// Appends [4-byte big-endian size][data].
void AppendV1Frame(std::string* out, absl::string_view data);

}  // namespace nsq::discovery
