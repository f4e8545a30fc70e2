#include "services/broker/legacy/v2_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/broker/legacy/v2_listener.h"
#include "spdlog/spdlog.h"

namespace nsq::legacy {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Decompressed bytes pulled from a compressed stream per step.
constexpr size_t kDecodeChunk = 64 * 1024;

// The connection whose input is being processed on this thread: deliveries its own
// commands cause are picked up when processing ends instead of being posted.
thread_local const Connection* t_processing = nullptr;

std::string Endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return absl::StrCat("[", addr.to_string(), "]:", ep.port());
  return absl::StrCat(addr.to_string(), ":", ep.port());
}

}  // namespace

Connection::Connection(V2Server::Impl* server, asio::io_context& io, tcp::socket socket, uint64_t id)
    : server_(server),
      opts_(server->options()),
      io_(io),
      socket_(std::move(socket)),
      id_(id),
      hb_timer_(io),
      deadline_timer_(io),
      write_timer_(io) {
  error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  remote_address_ = ec ? "" : Endpoint(remote);
  remote_ip_ = ec ? "" : remote.address().to_string();
  socket_.set_option(tcp::no_delay(true), ec);
  if (opts_.socket_send_buffer_bytes > 0) {
    socket_.set_option(asio::socket_base::send_buffer_size(opts_.socket_send_buffer_bytes), ec);
  }
  settings_.heartbeat_interval_ms = absl::ToInt64Milliseconds(opts_.client_timeout) / 2;
  settings_.output_buffer_timeout_ms = absl::ToInt64Milliseconds(opts_.output_buffer_timeout);
  settings_.msg_timeout_ms = absl::ToInt64Milliseconds(opts_.msg_timeout);
  // nsqd's defaults until IDENTIFY (which may set them, even to ""): the remote host.
  info_.client_id = remote_ip_;
  info_.hostname = remote_ip_;
  info_.remote_address = remote_address_;
  info_.connect_time = absl::Now();
  decode_ctx_.max_msg_size = opts_.max_msg_size;
  decode_ctx_.max_body_size = opts_.max_body_size;
  decode_ctx_.max_req_timeout_ms = absl::ToInt64Milliseconds(opts_.max_req_timeout);
  decode_ctx_.max_rdy_count = opts_.max_rdy_count;
  decode_ctx_.tls_required_unmet = opts_.tls.required != TlsRequired::kNo;
}

Connection::~Connection() {
  // Normally closed already; make sure the engine holds no pointer to this sink.
  if (consumer_) consumer_->Close();
}

void Connection::Start() {
  last_read_ = Now();
  RestartHeartbeat();
  StartRead();
}

void Connection::Deliver(std::vector<broker::Delivery>& batch) {
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

void Connection::Closed(const absl::Status& why) {
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

void Connection::PostClose() {
  auto self = shared_from_this();
  asio::post(io_, [self] { self->Close(); });
}

V2ClientInfo Connection::Snapshot() const {
  absl::MutexLock lock(&info_mu_);
  V2ClientInfo out = info_;
  out.pub_counts.assign(pub_counts_.begin(), pub_counts_.end());
  return out;
}

void Connection::StartRead() {
  if (closed_ || reading_ || suspended_ || close_after_write_) return;
  // A client that does not read its responses stops being read (TCP pushes back on it)
  // instead of growing our buffers; OnWriteDone resumes.
  if (PendingOutput() > opts_.max_pending_output_bytes) {
    read_paused_ = true;
    return;
  }
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

void Connection::OnRead(const error_code& ec, size_t n) {
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
void Connection::Process() {
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

void Connection::ProcessCommands() {
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
      // nsqd creates an MPUB's topic before it reads the messages, so a bad body still
      // leaves the topic behind (when the client may publish to it).
      if (!cmd_.topic.empty() && (absl::StartsWith(error, "E_BAD_BODY MPUB") ||
                                  absl::StartsWith(error, "E_BAD_MESSAGE MPUB"))) {
        const bool may_publish = opts_.auth.addresses.empty() ||
                                 (auth_ && auth_->IsAllowed(cmd_.topic, ""));
        if (may_publish) server_->engine()->CreateTopic(cmd_.topic).IgnoreError();
      }
      SendFatal(error);
      return;
    }
    in_pos_ += consumed;
    if (cmd_.type != CommandType::kFin) FlushFins();
    Execute(cmd_);
  }
  if (!suspended_) Compact();
}

void Connection::Compact() {
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ > kReadChunk) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

void Connection::Execute(const DecodedCommand& c) {
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

void Connection::Identify(const DecodedCommand& c) {
  absl::StatusOr<IdentifyRequest> req = ParseIdentify(c.body);
  if (!req.ok()) return SendFatal("E_BAD_BODY IDENTIFY failed to decode JSON body");
  {
    absl::MutexLock lock(&info_mu_);
    info_.client_id = req->client_id;
    info_.hostname = req->hostname;
    info_.user_agent = req->user_agent;
    info_.topology_zone = req->topology_zone;
    info_.topology_region = req->topology_region;
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
  reply.topology_zone = opts_.topology_zone;
  reply.topology_region = opts_.topology_region;
  reply.dead_letter_origin = settings_.dead_letter_origin;
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

// Continues after a suspension (TLS, an auth server query).
void Connection::Resume() {
  suspended_ = false;
  Process();
  StartRead();
}

void Connection::Sub(const DecodedCommand& c) {
  if (CheckAuth("SUB", c.topic, c.channel, c) != AuthCheck::kOk) return;
  broker::ConsumerInfo ci;
  {
    absl::MutexLock lock(&info_mu_);
    ci.client_id = info_.client_id;
    ci.hostname = info_.hostname;
    ci.user_agent = info_.user_agent;
    ci.topology_zone = info_.topology_zone;
    ci.topology_region = info_.topology_region;
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

// PUB, MPUB, DPUB. The engine queues the messages at once; the OK waits until they are
// durable (--sync-every=1) without blocking this I/O thread: the connection suspends its
// input (no further command runs, nothing more is read) and the storage's commit thread
// posts the answer back here. One PUB in flight per connection keeps every response in
// command order; other connections on this thread go on meanwhile, and concurrent
// publishers share one group commit.
void Connection::Pub(const DecodedCommand& c) {
  const char* name = c.type == CommandType::kPub ? "PUB" : c.type == CommandType::kMpub ? "MPUB" : "DPUB";
  if (CheckAuth(name, c.topic, "", c) != AuthCheck::kOk) return;
  pub_.name = name;
  pub_.topic = std::string(c.topic);
  pub_.count = c.type == CommandType::kMpub ? c.bodies.size() : 1;
  std::weak_ptr<Connection> weak = weak_from_this();
  asio::io_context* io = &io_;
  std::shared_ptr<PostGate> gate = server_->post_gate();
  auto done = [weak, io, gate](absl::Status st) {
    if (io->get_executor().running_in_this_thread()) {
      std::shared_ptr<Connection> self = weak.lock();
      if (self && self->pub_calling_) {  // inline: an error, or nothing to sync
        self->pub_inline_ = std::move(st);
        return;
      }
    }
    absl::MutexLock lock(&gate->mu);
    if (!gate->open) return;
    std::shared_ptr<Connection> self = weak.lock();
    if (!self) return;
    // The reference moves into the io_context's queue: none is left on this thread.
    asio::post(*io, [self = std::move(self), st = std::move(st)] {
      self->pub_self_.reset();
      if (self->closed_) return;
      self->FinishPub(st);
      self->Resume();
    });
  };
  pub_calling_ = true;
  pub_inline_.reset();
  if (c.type == CommandType::kMpub) {
    server_->engine()->PublishAsync(c.topic, c.bodies, absl::ZeroDuration(), nullptr, std::move(done));
  } else {
    const std::string_view body = c.body;
    server_->engine()->PublishAsync(c.topic, absl::MakeConstSpan(&body, 1),
                                    absl::Milliseconds(c.number), nullptr, std::move(done));
  }
  pub_calling_ = false;
  if (pub_inline_.has_value()) {
    const absl::Status st = *std::move(pub_inline_);
    pub_inline_.reset();
    return FinishPub(st);
  }
  suspended_ = true;
  pub_self_ = shared_from_this();
}

void Connection::FinishPub(const absl::Status& st) {
  if (!st.ok()) {
    return SendFatal(absl::StrCat("E_", pub_.name, "_FAILED ", pub_.name, " failed ",
                                  std::string(st.message())));
  }
  {
    absl::MutexLock lock(&info_mu_);
    pub_counts_[pub_.topic] += pub_.count;
  }
  SendResponse("OK");
}

void Connection::Rdy(const DecodedCommand& c) {
  rdy_ = c.number;
  if (consumer_) consumer_->SetReady(c.number).IgnoreError();
  // nsqd flushes when the client is no longer ready for more.
  if (inflight_ >= rdy_) Flush();
}

void Connection::FlushFins() {
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

void Connection::Req(const DecodedCommand& c) {
  broker::MessageId id;
  broker::MessageId::FromBytes(c.id, &id);
  absl::Status st = consumer_ ? consumer_->Requeue(id, absl::Milliseconds(c.number))
                              : absl::FailedPreconditionError(absl::StrCat("REQ ", std::string(c.id), " failed ID not in flight"));
  if (!st.ok()) return SendError(absl::StrCat("E_REQ_FAILED ", std::string(st.message())));
  if (inflight_ > 0) --inflight_;
}

void Connection::Touch(const DecodedCommand& c) {
  broker::MessageId id;
  broker::MessageId::FromBytes(c.id, &id);
  absl::Status st = consumer_ ? consumer_->Touch(id)
                              : absl::FailedPreconditionError(absl::StrCat("TOUCH ", std::string(c.id), " failed ID not in flight"));
  if (!st.ok()) SendError(absl::StrCat("E_TOUCH_FAILED ", std::string(st.message())));
}

void Connection::Cls() {
  rdy_ = 0;
  if (consumer_) consumer_->SetReady(0).IgnoreError();
  state_ = ConnState::kClosing;
  {
    absl::MutexLock lock(&info_mu_);
    info_.state = static_cast<int32_t>(state_);
  }
  SendResponse("CLOSE_WAIT");
}

void Connection::RestartHeartbeat() {
  hb_timer_.cancel();
  hb_generation_++;
  if (settings_.heartbeat_interval_ms <= 0) {
    deadline_timer_.cancel();
    return;
  }
  ScheduleHeartbeat();
  ArmReadDeadline();
}

void Connection::ScheduleHeartbeat() {
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
void Connection::ArmReadDeadline() {
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

void Connection::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  // A durability answer still to come finds the connection gone; released when Close
  // returns, as the caller may hold no other reference.
  std::shared_ptr<Connection> keep = std::move(pub_self_);
  hb_timer_.cancel();
  deadline_timer_.cancel();
  write_timer_.cancel();
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

}  // namespace nsq::legacy
