#pragma once

// One NSQ V2 client connection: private to the legacy gateway (only the listener in
// v2_server.cc creates them). The class is implemented by concern:
//   v2_connection.cc  lifecycle, the read loop, the state machine and command dispatch
//                     (IDENTIFY, SUB, PUB/MPUB/DPUB, RDY, FIN, REQ, TOUCH, CLS),
//                     heartbeats and read deadlines, Close
//   v2_output.cc      output: frames buffered, sealed (compressed) and written with one
//                     write in flight; deliveries from the engine; the flush timer
//   v2_upgrade.cc     what IDENTIFY negotiated: the TLS handshake, then compression
//   v2_auth_flow.cc   AUTH and the per-command authorization check against the auth server

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/broker/core/engine.h"
#include "services/broker/auth/auth.h"
#include "services/broker/legacy/stream_codec.h"
#include "services/broker/legacy/v2_protocol.h"
#include "services/broker/legacy/v2_server.h"

namespace nsq::legacy {

// One V2 client. Everything but Deliver/Closed/Snapshot/PostClose runs on its
// io_context's single thread. Deliver/Closed are the engine's calls (channel lock held):
// they only queue under mu_ and post. Lock order: engine locks, then mu_, then info_mu_.
class Connection final : public std::enable_shared_from_this<Connection>,
                         public broker::DeliverySink {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;
  using SteadyTime = std::chrono::steady_clock::time_point;

  // Bytes read from the socket per read.
  static constexpr size_t kReadChunk = 64 * 1024;

  Connection(V2Server::Impl* server, boost::asio::io_context& io, tcp::socket socket,
             uint64_t id);
  ~Connection() override;

  // Starts heartbeats and reading; on the connection's own thread.
  void Start();

  // --- engine side (any thread, channel lock held) ---
  void Deliver(std::vector<broker::Delivery>& batch) override;
  void Closed(const absl::Status& why) override;

  // Any thread: closes on the connection's thread.
  void PostClose();
  // Any thread: what /stats shows of this client.
  V2ClientInfo Snapshot() const;

  // Idempotent. The engine consumer is closed before this returns.
  void Close();

 private:
  static SteadyTime Now() { return std::chrono::steady_clock::now(); }

  // --- reading and commands (v2_connection.cc) ---
  void StartRead();
  void OnRead(const error_code& ec, size_t n);
  void Process();
  void ProcessCommands();
  void Compact();
  void Execute(const DecodedCommand& c);
  void Identify(const DecodedCommand& c);
  void Resume();
  void Sub(const DecodedCommand& c);
  void Pub(const DecodedCommand& c);
  void FinishPub(const absl::Status& st);
  void Rdy(const DecodedCommand& c);
  void FlushFins();
  void Req(const DecodedCommand& c);
  void Touch(const DecodedCommand& c);
  void Cls();

  // --- heartbeats and deadlines (v2_connection.cc) ---
  void RestartHeartbeat();
  void ScheduleHeartbeat();
  void ArmReadDeadline();

  // --- output (v2_output.cc) ---
  void SendResponse(std::string_view data);
  void SendError(std::string_view message);
  void SendFatal(std::string_view message);
  void OnDrainPosted();
  void DrainDeliveries();
  void Seal();
  void Flush();
  void StartWrite();
  void OnWriteDone(const error_code& ec);

  // --- TLS and compression upgrades (v2_upgrade.cc) ---
  void EnableCompression();
  void StartTlsHandshake();
  void RecordTlsInfo();

  // --- auth (v2_auth_flow.cc) ---
  enum class AuthCheck { kOk, kFailed, kSuspended };
  void Auth(const DecodedCommand& c);
  void SetAuth(auth::AuthState state);
  template <typename Done>
  void QueryAuth(Done done);
  AuthCheck CheckAuth(const char* cmd, std::string_view topic, std::string_view channel,
                      const DecodedCommand& c);

  V2Server::Impl* const server_;
  const V2ServerOptions& opts_;
  boost::asio::io_context& io_;
  tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<tcp::socket&>> tls_;
  const uint64_t id_;
  std::string remote_address_;
  std::string remote_ip_;
  std::string common_name_;

  // I/O thread state.
  boost::asio::steady_timer hb_timer_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer write_timer_;
  uint64_t hb_generation_ = 0;
  uint64_t write_generation_ = 0;
  bool read_paused_ = false;  // pending output past max_pending_output_bytes
  std::array<char, kReadChunk> read_buf_;
  std::string in_;
  size_t in_pos_ = 0;
  bool magic_done_ = false;
  bool reading_ = false;
  bool suspended_ = false;
  bool closed_ = false;
  bool close_after_write_ = false;
  bool tls_pending_ = false;
  bool tls_done_ = false;
  bool write_blocked_ = false;
  bool writing_ = false;
  bool flush_after_write_ = false;  // deliveries wait in out_ for the write in flight
  int pending_codec_ = 0;  // 1 snappy, 2 deflate
  int pending_deflate_level_ = 6;
  std::unique_ptr<StreamCodec> codec_;
  SteadyTime last_read_;
  SteadyTime write_started_;
  std::string out_;          // frames not yet sealed
  std::string sealed_;       // wire bytes waiting for the write in flight
  std::string writing_buf_;  // wire bytes being written
  int64_t PendingOutput() const {
    return static_cast<int64_t>(out_.size() + sealed_.size() + writing_buf_.size());
  }
  DecodeContext decode_ctx_;
  DecodedCommand cmd_;
  DecodedCommand retry_cmd_;
  ConnState state_ = ConnState::kInit;
  ClientSettings settings_;
  std::shared_ptr<broker::Consumer> consumer_;
  int64_t rdy_ = 0;
  // Messages written and not yet FIN'd or REQ'd: an estimate (timeouts are not seen),
  // used only to flush when the client's window is full, as nsqd does.
  int64_t inflight_ = 0;
  std::vector<broker::MessageId> fins_;
  std::vector<broker::Delivery> draining_;
  std::optional<auth::AuthState> auth_;
  std::string secret_;
  // A PUB/MPUB/DPUB waiting for durability (--sync-every=1): input is suspended until
  // the storage answers, so responses stay in command order. pub_self_ keeps the
  // connection alive meanwhile (Close or the answer drops it); the storage's callback
  // holds only a weak pointer, so the last reference never goes on the commit thread.
  struct PendingPub {
    const char* name = "";
    std::string topic;
    uint64_t count = 0;
  };
  PendingPub pub_;
  std::shared_ptr<Connection> pub_self_;
  bool pub_calling_ = false;  // inside Engine::PublishAsync
  std::optional<absl::Status> pub_inline_;  // its answer, when it came inline

  absl::Mutex mu_;
  std::vector<broker::Delivery> pending_ ABSL_GUARDED_BY(mu_);
  bool drain_posted_ ABSL_GUARDED_BY(mu_) = false;
  bool sink_closed_ ABSL_GUARDED_BY(mu_) = false;

  mutable absl::Mutex info_mu_;
  V2ClientInfo info_ ABSL_GUARDED_BY(info_mu_);
  std::map<std::string, uint64_t> pub_counts_ ABSL_GUARDED_BY(info_mu_);
};

}  // namespace nsq::legacy
