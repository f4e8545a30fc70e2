#include "services/broker/legacy/v2_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "common/net/host_port.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/tls/server_context.h"
#include "services/broker/legacy/stream_codec.h"
#include "services/broker/legacy/v2_protocol.h"
#include "spdlog/spdlog.h"

namespace nsq::legacy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kReadChunk = 64 * 1024;
// Decompressed bytes pulled from a compressed stream per step.
constexpr size_t kDecodeChunk = 64 * 1024;
// The TLS handshake after IDENTIFY must finish within this (nsqd: 5 s).
constexpr auto kTlsHandshakeTimeout = std::chrono::seconds(5);


std::string Endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return absl::StrCat("[", addr.to_string(), "]:", ep.port());
  return absl::StrCat(addr.to_string(), ":", ep.port());
}

}  // namespace

class Connection;

class V2Server::Impl {
 public:
  Impl(broker::Engine* engine, V2ServerOptions options)
      : engine_(engine), options_(std::move(options)) {}

  absl::Status Start();
  void Stop();
  int port() const { return port_; }
  std::vector<V2ClientInfo> Clients() const;

  void Unregister(uint64_t id) {
    absl::MutexLock lock(&mu_);
    connections_.erase(id);
  }

  broker::Engine* engine() const { return engine_; }
  const V2ServerOptions& options() const { return options_; }
  ssl::context* tls_context() const { return tls_.get(); }
  asio::thread_pool& auth_pool() { return auth_pool_; }

 private:
  void Accept();

  broker::Engine* const engine_;
  const V2ServerOptions options_;
  std::unique_ptr<ssl::context> tls_;  // outlives the connections' streams
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  asio::thread_pool auth_pool_{1};
  size_t next_io_ = 0;  // accept handler only
  int port_ = 0;
  bool started_ = false;
  bool stopped_ = false;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
};

namespace {
// The connection whose input is being processed on this thread: deliveries its own
// commands cause are picked up when processing ends instead of being posted.
thread_local const Connection* t_processing = nullptr;
}  // namespace

// One V2 client. Everything but Deliver/Closed/Snapshot/PostClose runs on its
// io_context's single thread. Deliver/Closed are the engine's calls (channel lock held):
// they only queue under mu_ and post. Lock order: engine locks, then mu_, then info_mu_.
class Connection final : public std::enable_shared_from_this<Connection>,
                         public broker::DeliverySink {
 public:
  Connection(V2Server::Impl* server, asio::io_context& io, tcp::socket socket, uint64_t id)
      : server_(server),
        opts_(server->options()),
        io_(io),
        socket_(std::move(socket)),
        id_(id),
        hb_timer_(io),
        deadline_timer_(io),
        flush_timer_(io) {
    error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    remote_address_ = ec ? "" : Endpoint(remote);
    remote_ip_ = ec ? "" : remote.address().to_string();
    socket_.set_option(tcp::no_delay(true), ec);
    settings_.heartbeat_interval_ms = absl::ToInt64Milliseconds(opts_.client_timeout) / 2;
    settings_.output_buffer_timeout_ms = absl::ToInt64Milliseconds(opts_.output_buffer_timeout);
    settings_.msg_timeout_ms = absl::ToInt64Milliseconds(opts_.msg_timeout);
    info_.client_id = remote_ip_;  // nsqd's default until IDENTIFY
    info_.remote_address = remote_address_;
    info_.connect_time = absl::Now();
    decode_ctx_.max_msg_size = opts_.max_msg_size;
    decode_ctx_.max_body_size = opts_.max_body_size;
    decode_ctx_.max_req_timeout_ms = absl::ToInt64Milliseconds(opts_.max_req_timeout);
    decode_ctx_.max_rdy_count = opts_.max_rdy_count;
    decode_ctx_.tls_required_unmet = opts_.tls.required != TlsRequired::kNo;
  }

  ~Connection() override {
    // Normally closed already; make sure the engine holds no pointer to this sink.
    if (consumer_) consumer_->Close();
  }

  void Start() {
    last_read_ = Now();
    RestartHeartbeat();
    StartRead();
  }

  // --- engine side (any thread, channel lock held) ---

  void Deliver(std::vector<broker::Delivery>& batch) override {
    bool post = false;
    {
      absl::MutexLock lock(&mu_);
      if (sink_closed_) return;
      if (pending_.empty()) {
        pending_.swap(batch);
      } else {
        pending_.insert(pending_.end(), std::make_move_iterator(batch.begin()),
                        std::make_move_iterator(batch.end()));
      }
      if (!drain_posted_ && t_processing != this) {
        drain_posted_ = true;
        post = true;
      }
    }
    if (post) {
      if (auto self = weak_from_this().lock()) {
        asio::post(io_, [self] { self->OnDrainPosted(); });
      }
    }
  }

  void Closed(const absl::Status& why) override {
    {
      absl::MutexLock lock(&mu_);
      sink_closed_ = true;
    }
    if (auto self = weak_from_this().lock()) {
      asio::post(io_, [self] {
        self->consumer_.reset();  // already dropped by the engine
        self->Close();
      });
    }
  }

  void PostClose() {
    auto self = shared_from_this();
    asio::post(io_, [self] { self->Close(); });
  }

  V2ClientInfo Snapshot() const {
    absl::MutexLock lock(&info_mu_);
    V2ClientInfo out = info_;
    out.pub_counts.assign(pub_counts_.begin(), pub_counts_.end());
    return out;
  }

 private:
  static SteadyTime Now() { return std::chrono::steady_clock::now(); }

  // --- reading ---

  void StartRead() {
    if (closed_ || reading_ || suspended_ || close_after_write_) return;
    reading_ = true;
    auto self = shared_from_this();
    auto handler = [this, self](const error_code& ec, size_t n) {
      reading_ = false;
      OnRead(ec, n);
    };
    if (tls_) {
      tls_->async_read_some(asio::buffer(read_buf_), std::move(handler));
    } else {
      socket_.async_read_some(asio::buffer(read_buf_), std::move(handler));
    }
  }

  void OnRead(const error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      Close();
      return;
    }
    last_read_ = Now();
    if (codec_) {
      codec_->Feed(std::string_view(read_buf_.data(), n));
    } else {
      in_.append(read_buf_.data(), n);
    }
    Process();
    StartRead();
  }

  // Runs every whole command buffered, pulling more from the decompressor as needed.
  void Process() {
    t_processing = this;
    for (;;) {
      ProcessCommands();
      if (closed_ || suspended_ || close_after_write_ || !codec_) break;
      size_t produced = 0;
      absl::Status st = codec_->Decode(&in_, kDecodeChunk, &produced);
      if (!st.ok()) {
        spdlog::warn("[{}] {}", remote_address_, std::string(st.message()));
        FlushFins();
        t_processing = nullptr;
        Close();
        return;
      }
      if (produced == 0) break;
    }
    FlushFins();
    t_processing = nullptr;
    if (closed_) return;
    DrainDeliveries();
  }

  void ProcessCommands() {
    while (!closed_ && !suspended_ && !close_after_write_) {
      if (!magic_done_) {
        if (in_.size() - in_pos_ < 4) break;
        if (std::string_view(in_.data() + in_pos_, 4) != kMagicV2) {
          spdlog::error("client({}) bad protocol magic '{}'", remote_address_,
                        std::string(in_.data() + in_pos_, 4));
          SendFatal("E_BAD_PROTOCOL");
          return;
        }
        in_pos_ += 4;
        magic_done_ = true;
        continue;
      }
      const std::string_view input(in_.data() + in_pos_, in_.size() - in_pos_);
      decode_ctx_.state = state_;
      decode_ctx_.heartbeats_disabled = settings_.heartbeat_interval_ms <= 0;
      size_t consumed = 0;
      std::string error;
      const DecodeStatus st = DecodeCommand(input, decode_ctx_, &cmd_, &consumed, &error);
      if (st == DecodeStatus::kNeedMore) break;
      if (st == DecodeStatus::kClose) {
        spdlog::error("[{}] failed to read command - line too long", remote_address_);
        FlushFins();
        Close();
        return;
      }
      if (st == DecodeStatus::kFatal) {
        FlushFins();
        SendFatal(error);
        return;
      }
      in_pos_ += consumed;
      if (cmd_.type != CommandType::kFin) FlushFins();
      Execute(cmd_);
    }
    if (!suspended_) Compact();
  }

  void Compact() {
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > kReadChunk) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
  }

  // --- commands ---

  void Execute(const DecodedCommand& c) {
    switch (c.type) {
      case CommandType::kIdentify: return Identify(c);
      case CommandType::kAuth: return Auth(c);
      case CommandType::kSub: return Sub(c);
      case CommandType::kPub:
      case CommandType::kMpub:
      case CommandType::kDpub: return Pub(c);
      case CommandType::kRdy: return Rdy(c);
      case CommandType::kFin: {
        broker::MessageId id;
        broker::MessageId::FromBytes(c.id, &id);
        fins_.push_back(id);
        return;
      }
      case CommandType::kReq: return Req(c);
      case CommandType::kTouch: return Touch(c);
      case CommandType::kCls: return Cls();
      case CommandType::kNop: return;
    }
  }

  void Identify(const DecodedCommand& c) {
    absl::StatusOr<IdentifyRequest> req = ParseIdentify(c.body);
    if (!req.ok()) return SendFatal("E_BAD_BODY IDENTIFY failed to decode JSON body");
    {
      absl::MutexLock lock(&info_mu_);
      info_.client_id = req->client_id;
      info_.hostname = req->hostname;
      info_.user_agent = req->user_agent;
    }
    IdentifyLimits limits;
    limits.max_heartbeat_interval_ms = absl::ToInt64Milliseconds(opts_.max_heartbeat_interval);
    limits.max_output_buffer_size = opts_.max_output_buffer_size;
    limits.min_output_buffer_timeout_ms = absl::ToInt64Milliseconds(opts_.min_output_buffer_timeout);
    limits.max_output_buffer_timeout_ms = absl::ToInt64Milliseconds(opts_.max_output_buffer_timeout);
    limits.max_msg_timeout_ms = absl::ToInt64Milliseconds(opts_.max_msg_timeout);
    if (absl::Status st = ApplyIdentify(*req, limits, &settings_); !st.ok()) {
      return SendFatal(absl::StrCat("E_BAD_BODY IDENTIFY ", std::string(st.message())));
    }
    {
      absl::MutexLock lock(&info_mu_);
      info_.sample_rate = settings_.sample_rate;
    }
    RestartHeartbeat();
    if (!req->feature_negotiation) return SendResponse("OK");

    const bool tls = server_->tls_context() != nullptr && req->tls_v1;
    const bool deflate = opts_.deflate && req->deflate;
    int64_t deflate_level = 6;
    if (deflate && req->deflate_level > 0) deflate_level = req->deflate_level;
    deflate_level = std::min<int64_t>(deflate_level, opts_.max_deflate_level);
    const bool snappy = opts_.snappy && req->snappy;
    if (deflate && snappy) {
      return SendFatal("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
    }
    IdentifyReply reply;
    reply.max_rdy_count = opts_.max_rdy_count;
    reply.max_msg_timeout_ms = absl::ToInt64Milliseconds(opts_.max_msg_timeout);
    reply.msg_timeout_ms = settings_.msg_timeout_ms;
    reply.tls_v1 = tls;
    reply.deflate = deflate;
    reply.deflate_level = deflate_level;
    reply.max_deflate_level = opts_.max_deflate_level;
    reply.snappy = snappy;
    reply.sample_rate = settings_.sample_rate;
    reply.auth_required = !opts_.auth.addresses.empty();
    reply.output_buffer_size = settings_.output_buffer_size;
    reply.output_buffer_timeout_ms = settings_.output_buffer_timeout_ms;
    SendResponse(IdentifyReplyJson(reply));

    pending_codec_ = snappy ? 1 : deflate ? 2 : 0;
    pending_deflate_level_ = static_cast<int>(deflate_level);
    if (tls) {
      // The reply goes out in plaintext, then the handshake, then "OK" over TLS.
      suspended_ = true;
      tls_pending_ = true;
      write_blocked_ = false;
      if (!writing_ && sealed_.empty()) StartTlsHandshake();
      return;
    }
    EnableCompression();
  }

  // After IDENTIFY (and TLS): switch both directions to the negotiated codec. Input
  // already buffered past IDENTIFY is compressed too.
  void EnableCompression() {
    if (pending_codec_ == 0) return;
    Seal();  // what is buffered so far goes out as it is
    codec_ = pending_codec_ == 1 ? NewSnappyCodec() : NewDeflateCodec(pending_deflate_level_);
    {
      absl::MutexLock lock(&info_mu_);
      (pending_codec_ == 1 ? info_.snappy : info_.deflate) = true;
    }
    pending_codec_ = 0;
    if (in_pos_ < in_.size()) codec_->Feed(std::string_view(in_).substr(in_pos_));
    in_.clear();
    in_pos_ = 0;
    SendResponse("OK");
  }

  void StartTlsHandshake() {
    tls_pending_ = false;
    write_blocked_ = true;
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *server_->tls_context());
    auto self = shared_from_this();
    deadline_timer_.expires_after(kTlsHandshakeTimeout);
    deadline_timer_.async_wait([this, self](const error_code& ec) {
      if (!ec && !closed_ && !tls_done_) Close();
    });
    tls_->async_handshake(ssl::stream_base::server, [this, self](const error_code& ec) {
      if (closed_) return;
      if (ec) {
        spdlog::warn("[{}] TLS handshake failed: {}", remote_address_, ec.message());
        Close();
        return;
      }
      tls_done_ = true;
      write_blocked_ = false;
      decode_ctx_.tls_required_unmet = false;
      RecordTlsInfo();
      SendResponse("OK");
      EnableCompression();
      in_.erase(0, in_pos_);  // nothing may be sent before the upgrade
      in_.clear();
      in_pos_ = 0;
      last_read_ = Now();
      ArmReadDeadline();
      Resume();
    });
  }

  void RecordTlsInfo() {
    SSL* s = tls_->native_handle();
    const std::string version = tls::VersionName(SSL_version(s));
    const SSL_CIPHER* cipher = SSL_get_current_cipher(s);
    const char* name = cipher ? SSL_CIPHER_standard_name(cipher) : nullptr;
    if (X509* peer = SSL_get1_peer_certificate(s)) {
      char cn[256] = {0};
      if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
                                    sizeof(cn) - 1) > 0) {
        common_name_ = cn;
      }
      X509_free(peer);
    }
    absl::MutexLock lock(&info_mu_);
    info_.tls = true;
    info_.tls_version = version;
    info_.tls_cipher_suite = name ? name : "";
  }

  // Continues after a suspension (TLS, an auth server query).
  void Resume() {
    suspended_ = false;
    Process();
    StartRead();
  }

  void Auth(const DecodedCommand& c) {
    if (auth_ && !auth_->authorizations.empty()) return SendFatal("E_INVALID AUTH already set");
    if (opts_.auth.addresses.empty()) return SendFatal("E_AUTH_DISABLED AUTH disabled");
    secret_ = std::string(c.body);
    QueryAuth([this](absl::StatusOr<AuthState> state) {
      if (!state.ok()) {
        spdlog::warn("PROTOCOL(V2): [{}] AUTH failed {}", remote_address_,
                     std::string(state.status().message()));
        return SendFatal("E_AUTH_FAILED AUTH failed");
      }
      SetAuth(*std::move(state));
      if (auth_->authorizations.empty()) {
        return SendFatal("E_UNAUTHORIZED AUTH no authorizations found");
      }
      SendResponse(absl::StrCat("{\"identity\":", GoJsonString(auth_->identity),
                                ",\"identity_url\":", GoJsonString(auth_->identity_url),
                                ",\"permission_count\":", auth_->authorizations.size(), "}"));
      Resume();
    });
  }

  void SetAuth(AuthState state) {
    auth_ = std::move(state);
    absl::MutexLock lock(&info_mu_);
    info_.authed = !auth_->authorizations.empty();
    info_.auth_identity = auth_->identity;
    info_.auth_identity_url = auth_->identity_url;
  }

  // Runs the auth server query on the auth worker, then `done` on this connection's
  // thread. Input processing is suspended meanwhile (buffered commands stay put).
  template <typename Done>
  void QueryAuth(Done done) {
    suspended_ = true;
    auto self = shared_from_this();
    AuthOptions auth = opts_.auth;
    asio::post(server_->auth_pool(), [self, auth = std::move(auth), done = std::move(done),
                                      cn = common_name_, ip = remote_ip_, secret = secret_,
                                      tls = tls_done_]() mutable {
      absl::StatusOr<AuthState> state = QueryAuthServers(auth, cn, ip, secret, tls);
      asio::post(self->io_, [self, done = std::move(done), state = std::move(state)]() mutable {
        if (self->closed_) return;
        done(std::move(state));
      });
    });
  }

  enum class AuthCheck { kOk, kFailed, kSuspended };

  // nsqd's CheckAuth, for PUB/MPUB/DPUB/SUB. Expired authorizations are fetched again
  // (suspending), and `c` is executed again afterwards.
  AuthCheck CheckAuth(const char* cmd, std::string_view topic, std::string_view channel,
                      const DecodedCommand& c) {
    if (opts_.auth.addresses.empty()) return AuthCheck::kOk;
    if (!auth_ || auth_->authorizations.empty()) {
      SendFatal(absl::StrCat("E_AUTH_FIRST AUTH required before ", cmd));
      return AuthCheck::kFailed;
    }
    if (absl::Now() >= auth_->expires) {
      retry_cmd_ = c;  // views into in_, which stays put while suspended
      QueryAuth([this](absl::StatusOr<AuthState> state) {
        if (!state.ok()) {
          spdlog::warn("PROTOCOL(V2): [{}] AUTH failed {}", remote_address_,
                       std::string(state.status().message()));
          return SendFatal("E_AUTH_FAILED AUTH failed");
        }
        SetAuth(*std::move(state));
        suspended_ = false;
        DecodedCommand retry = std::move(retry_cmd_);
        Execute(retry);
        if (!suspended_) Resume();
      });
      return AuthCheck::kSuspended;
    }
    if (!auth_->IsAllowed(topic, channel)) {
      SendFatal(absl::StrCat("E_UNAUTHORIZED AUTH failed for ", cmd, " on ", GoQuote(topic), " ",
                             GoQuote(channel)));
      return AuthCheck::kFailed;
    }
    return AuthCheck::kOk;
  }

  void Sub(const DecodedCommand& c) {
    if (CheckAuth("SUB", c.topic, c.channel, c) != AuthCheck::kOk) return;
    broker::ConsumerInfo ci;
    {
      absl::MutexLock lock(&info_mu_);
      ci.client_id = info_.client_id;
      ci.hostname = info_.hostname;
      ci.user_agent = info_.user_agent;
    }
    ci.remote_address = remote_address_;
    ci.protocol = "V2";
    ci.msg_timeout = absl::Milliseconds(settings_.msg_timeout_ms);
    ci.sample_rate = settings_.sample_rate;
    auto consumer = server_->engine()->Subscribe(c.topic, c.channel, ci, this);
    if (!consumer.ok()) {
      std::string why(consumer.status().message());
      if (why.rfind("channel consumers", 0) == 0) why = why.substr(8);
      if (consumer.status().code() == absl::StatusCode::kNotFound ||
          consumer.status().code() == absl::StatusCode::kUnavailable) {
        return SendFatal("E_SUB_FAILED SUB failed to deleted topic/channel");
      }
      return SendFatal(absl::StrCat("E_SUB_FAILED SUB failed ", why));
    }
    consumer_ = *std::move(consumer);
    state_ = ConnState::kSubscribed;
    {
      absl::MutexLock lock(&info_mu_);
      info_.state = static_cast<int32_t>(state_);
      info_.topic = std::string(c.topic);
      info_.channel = std::string(c.channel);
    }
    SendResponse("OK");
  }

  void Pub(const DecodedCommand& c) {
    const char* name = c.type == CommandType::kPub ? "PUB" : c.type == CommandType::kMpub ? "MPUB" : "DPUB";
    if (CheckAuth(name, c.topic, "", c) != AuthCheck::kOk) return;
    absl::Status st;
    uint64_t n = 1;
    if (c.type == CommandType::kMpub) {
      n = c.bodies.size();
      st = server_->engine()->Publish(c.topic, c.bodies);
    } else {
      const std::string_view body = c.body;
      st = server_->engine()->Publish(c.topic, absl::MakeConstSpan(&body, 1),
                                      absl::Milliseconds(c.number));
    }
    if (!st.ok()) {
      return SendFatal(absl::StrCat("E_", name, "_FAILED ", name, " failed ", std::string(st.message())));
    }
    {
      absl::MutexLock lock(&info_mu_);
      pub_counts_[std::string(c.topic)] += n;
    }
    SendResponse("OK");
  }

  void Rdy(const DecodedCommand& c) {
    rdy_ = c.number;
    if (consumer_) consumer_->SetReady(c.number).IgnoreError();
    // nsqd flushes when the client is no longer ready for more.
    if (inflight_ >= rdy_) Flush();
  }

  void FlushFins() {
    if (fins_.empty()) return;
    if (!consumer_) {
      fins_.clear();
      return;
    }
    const std::vector<absl::Status> results = consumer_->FinishBatch(fins_);
    fins_.clear();
    for (const absl::Status& st : results) {
      if (st.ok()) {
        if (inflight_ > 0) --inflight_;
      } else {
        SendError(absl::StrCat("E_FIN_FAILED ", std::string(st.message())));
      }
    }
  }

  void Req(const DecodedCommand& c) {
    broker::MessageId id;
    broker::MessageId::FromBytes(c.id, &id);
    absl::Status st = consumer_ ? consumer_->Requeue(id, absl::Milliseconds(c.number))
                                : absl::FailedPreconditionError(absl::StrCat("REQ ", std::string(c.id), " failed ID not in flight"));
    if (!st.ok()) return SendError(absl::StrCat("E_REQ_FAILED ", std::string(st.message())));
    if (inflight_ > 0) --inflight_;
  }

  void Touch(const DecodedCommand& c) {
    broker::MessageId id;
    broker::MessageId::FromBytes(c.id, &id);
    absl::Status st = consumer_ ? consumer_->Touch(id)
                                : absl::FailedPreconditionError(absl::StrCat("TOUCH ", std::string(c.id), " failed ID not in flight"));
    if (!st.ok()) SendError(absl::StrCat("E_TOUCH_FAILED ", std::string(st.message())));
  }

  void Cls() {
    rdy_ = 0;
    if (consumer_) consumer_->SetReady(0).IgnoreError();
    state_ = ConnState::kClosing;
    {
      absl::MutexLock lock(&info_mu_);
      info_.state = static_cast<int32_t>(state_);
    }
    SendResponse("CLOSE_WAIT");
  }

  // --- output ---

  void SendResponse(std::string_view data) {
    AppendFrame(&out_, kFrameTypeResponse, data);
    Flush();
  }
  void SendError(std::string_view message) {
    AppendFrame(&out_, kFrameTypeError, message);
    Flush();
  }
  // A fatal error: the frame is written, then the connection closes.
  void SendFatal(std::string_view message) {
    spdlog::debug("[{}] fatal: {}", remote_address_, std::string(message));
    AppendFrame(&out_, kFrameTypeError, message);
    close_after_write_ = true;
    suspended_ = false;
    write_blocked_ = false;
    Flush();
  }

  void OnDrainPosted() {
    if (closed_) return;
    DrainDeliveries();
  }

  void DrainDeliveries() {
    {
      absl::MutexLock lock(&mu_);
      drain_posted_ = false;
      if (pending_.empty()) return;
      draining_.swap(pending_);
    }
    for (const broker::Delivery& d : draining_) {
      AppendMessageFrame(&out_, d.message->timestamp_ns, d.attempts, d.message->id.view(),
                         d.message->body);
    }
    inflight_ += static_cast<int64_t>(draining_.size());
    draining_.clear();
    if (static_cast<int64_t>(out_.size()) >= settings_.output_buffer_size || inflight_ >= rdy_) {
      Flush();
    } else {
      ArmFlushTimer();
    }
  }

  void ArmFlushTimer() {
    if (flush_armed_ || settings_.output_buffer_timeout_ms <= 0) return;
    flush_armed_ = true;
    flush_timer_.expires_after(std::chrono::milliseconds(settings_.output_buffer_timeout_ms));
    auto self = shared_from_this();
    flush_timer_.async_wait([this, self](const error_code& ec) {
      flush_armed_ = false;
      if (ec || closed_) return;
      Flush();
    });
  }

  // Moves buffered frames into the wire buffer (compressing them) and writes.
  void Seal() {
    if (out_.empty()) return;
    if (codec_) {
      codec_->Encode(out_, &sealed_);
    } else if (sealed_.empty()) {
      sealed_.swap(out_);
    } else {
      sealed_.append(out_);
    }
    out_.clear();
  }

  void Flush() {
    if (closed_) return;
    Seal();
    StartWrite();
  }

  void StartWrite() {
    if (closed_ || writing_ || write_blocked_ || sealed_.empty()) return;
    writing_ = true;
    write_started_ = Now();
    writing_buf_.swap(sealed_);
    sealed_.clear();
    auto self = shared_from_this();
    auto handler = [this, self](const error_code& ec, size_t) { OnWriteDone(ec); };
    if (tls_ && tls_done_) {
      asio::async_write(*tls_, asio::buffer(writing_buf_), std::move(handler));
    } else {
      asio::async_write(socket_, asio::buffer(writing_buf_), std::move(handler));
    }
  }

  void OnWriteDone(const error_code& ec) {
    writing_ = false;
    writing_buf_.clear();
    if (closed_) return;
    if (ec) {
      Close();
      return;
    }
    if (close_after_write_) {
      Seal();
      if (sealed_.empty()) {
        Close();
        return;
      }
    }
    if (tls_pending_ && sealed_.empty() && out_.empty()) {
      StartTlsHandshake();
      return;
    }
    StartWrite();
  }

  // --- heartbeats and deadlines ---

  void RestartHeartbeat() {
    hb_timer_.cancel();
    hb_generation_++;
    if (settings_.heartbeat_interval_ms <= 0) {
      deadline_timer_.cancel();
      return;
    }
    ScheduleHeartbeat();
    ArmReadDeadline();
  }

  void ScheduleHeartbeat() {
    const uint64_t gen = hb_generation_;
    hb_timer_.expires_after(std::chrono::milliseconds(settings_.heartbeat_interval_ms));
    auto self = shared_from_this();
    hb_timer_.async_wait([this, self, gen](const error_code& ec) {
      if (ec || closed_ || gen != hb_generation_) return;
      const auto interval = std::chrono::milliseconds(settings_.heartbeat_interval_ms);
      if (writing_ && Now() - write_started_ > interval) {
        spdlog::warn("[{}] write timed out", remote_address_);
        Close();
        return;
      }
      if (!write_blocked_ && !tls_pending_) {
        AppendFrame(&out_, kFrameTypeResponse, "_heartbeat_");
        Flush();
      }
      ScheduleHeartbeat();
    });
  }

  // nsqd's read deadline: two heartbeat intervals since the last bytes read.
  void ArmReadDeadline() {
    if (settings_.heartbeat_interval_ms <= 0 || (tls_ && !tls_done_)) return;
    const auto limit = std::chrono::milliseconds(2 * settings_.heartbeat_interval_ms);
    deadline_timer_.expires_at(last_read_ + limit);
    auto self = shared_from_this();
    deadline_timer_.async_wait([this, self](const error_code& ec) {
      if (ec || closed_ || settings_.heartbeat_interval_ms <= 0) return;
      const auto limit = std::chrono::milliseconds(2 * settings_.heartbeat_interval_ms);
      if (Now() - last_read_ >= limit) {
        spdlog::info("[{}] client timed out (no data for {}ms)", remote_address_,
                     2 * settings_.heartbeat_interval_ms);
        Close();
        return;
      }
      ArmReadDeadline();
    });
  }

 public:
  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    hb_timer_.cancel();
    deadline_timer_.cancel();
    flush_timer_.cancel();
    if (consumer_) {
      consumer_->Close();  // no Deliver after this returns
      consumer_.reset();
    }
    {
      absl::MutexLock lock(&mu_);
      sink_closed_ = true;
      pending_.clear();
    }
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    server_->Unregister(id_);
  }

 private:
  V2Server::Impl* const server_;
  const V2ServerOptions& opts_;
  asio::io_context& io_;
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  const uint64_t id_;
  std::string remote_address_;
  std::string remote_ip_;
  std::string common_name_;

  // I/O thread state.
  asio::steady_timer hb_timer_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer flush_timer_;
  uint64_t hb_generation_ = 0;
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
  bool flush_armed_ = false;
  int pending_codec_ = 0;  // 1 snappy, 2 deflate
  int pending_deflate_level_ = 6;
  std::unique_ptr<StreamCodec> codec_;
  SteadyTime last_read_;
  SteadyTime write_started_;
  std::string out_;          // frames not yet sealed
  std::string sealed_;       // wire bytes waiting for the write in flight
  std::string writing_buf_;  // wire bytes being written
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
  std::optional<AuthState> auth_;
  std::string secret_;

  absl::Mutex mu_;
  std::vector<broker::Delivery> pending_ ABSL_GUARDED_BY(mu_);
  bool drain_posted_ ABSL_GUARDED_BY(mu_) = false;
  bool sink_closed_ ABSL_GUARDED_BY(mu_) = false;

  mutable absl::Mutex info_mu_;
  V2ClientInfo info_ ABSL_GUARDED_BY(info_mu_);
  std::map<std::string, uint64_t> pub_counts_ ABSL_GUARDED_BY(info_mu_);
};

// ---------------------------------------------------------------------------------------

absl::Status ValidateTlsOptions(const TlsOptions& tls) {
  if (!tls.enabled()) {
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
    }
    if (tls.required != TlsRequired::kNo || !tls.client_auth_policy.empty()) {
      return absl::InvalidArgumentError(
          "cannot require TLS client connections without TLS key and cert");
    }
    return absl::OkStatus();
  }
  if (!tls.client_auth_policy.empty() && tls.client_auth_policy != "require" &&
      tls.client_auth_policy != "require-verify") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-client-auth-policy must be require or require-verify, not ",
                     tls.client_auth_policy));
  }
  if (tls.min_version != "tls1.0" && tls.min_version != "tls1.1" &&
      tls.min_version != "tls1.2" && tls.min_version != "tls1.3") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-min-version must be tls1.0, tls1.1, tls1.2 or tls1.3, not ",
                     tls.min_version));
  }
  return absl::OkStatus();
}

tls::ServerConfig ToServerConfig(const TlsOptions& options) {
  tls::ServerConfig config;
  config.cert_file = options.cert_file;
  config.key_file = options.key_file;
  config.root_ca_file = options.root_ca_file;
  config.client_auth = options.client_auth_policy == "require"          ? tls::ClientAuth::kRequire
                       : options.client_auth_policy == "require-verify" ? tls::ClientAuth::kRequireVerify
                                                                         : tls::ClientAuth::kNone;
  config.min_version = options.min_version == "tls1.1"   ? tls::Version::kTls11
                       : options.min_version == "tls1.2" ? tls::Version::kTls12
                       : options.min_version == "tls1.3" ? tls::Version::kTls13
                                                         : tls::Version::kTls10;
  return config;
}

absl::Status V2Server::Impl::Start() {
  if (started_) return absl::FailedPreconditionError("already started");
  if (absl::Status st = ValidateTlsOptions(options_.tls); !st.ok()) return st;
  if (options_.tls.enabled()) {
    auto ctx = tls::MakeServerContext(ToServerConfig(options_.tls));
    if (!ctx.ok()) return ctx.status();
    tls_ = *std::move(ctx);
  }
  const std::optional<net::HostPort> parsed = net::ParseHostPort(options_.address);
  if (!parsed) return absl::InvalidArgumentError(absl::StrCat("bad --tcp-address ", options_.address));
  const std::string& host = parsed->host;
  const int port = parsed->port;
  int threads = options_.threads;
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < threads; ++i) {
    ios_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*ios_.back()));
  }
  error_code ec;
  tcp::endpoint endpoint;
  if (host.empty()) {
    endpoint = tcp::endpoint(tcp::v4(), static_cast<uint16_t>(port));
  } else {
    tcp::resolver resolver(*ios_[0]);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cannot resolve ", host, ": ", ec.message()));
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor_ = std::make_unique<tcp::acceptor>(*ios_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.address, ": ", ec.message()));
  }
  port_ = acceptor_->local_endpoint().port();
  started_ = true;
  Accept();
  for (auto& io : ios_) {
    threads_.emplace_back([ctx = io.get()] { ctx->run(); });
  }
  return absl::OkStatus();
}

void V2Server::Impl::Accept() {
  asio::io_context& io = *ios_[next_io_++ % ios_.size()];
  acceptor_->async_accept(io, [this, &io](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      std::shared_ptr<Connection> conn;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        const uint64_t id = next_id_++;
        conn = std::make_shared<Connection>(this, io, std::move(socket), id);
        connections_[id] = conn;
      }
      // Start on the connection's own thread.
      asio::post(io, [conn] { conn->Start(); });
    }
    Accept();
  });
}

void V2Server::Impl::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  asio::post(*ios_[0], [this] {
    error_code ec;
    acceptor_->close(ec);
  });
  for (auto& c : open) c->PostClose();
  open.clear();
  auth_pool_.join();
  for (auto& g : guards_) g.reset();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // The threads are gone: close here whatever never ran its close, so the engine keeps
  // no pointer to a dead sink.
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->Close();
}

std::vector<V2ClientInfo> V2Server::Impl::Clients() const {
  std::vector<std::shared_ptr<Connection>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  std::vector<V2ClientInfo> out;
  out.reserve(open.size());
  for (const auto& c : open) out.push_back(c->Snapshot());
  return out;
}

V2Server::V2Server(broker::Engine* engine, V2ServerOptions options)
    : impl_(std::make_unique<Impl>(engine, std::move(options))) {}
V2Server::~V2Server() { Stop(); }
absl::Status V2Server::Start() { return impl_->Start(); }
int V2Server::port() const { return impl_->port(); }
void V2Server::Stop() { impl_->Stop(); }
std::vector<V2ClientInfo> V2Server::Clients() const { return impl_->Clients(); }

}  // namespace nsq::legacy
