// Connection's output: frames are appended to out_, sealed (compressed when a codec is
// on) into sealed_, and written with one write in flight, flushed as nsqd does.

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/broker/legacy/policy_json.h"
#include "services/broker/legacy/v2_connection.h"
#include "spdlog/spdlog.h"

namespace nsq::legacy {
namespace {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
// The line that precedes a dead-letter copy's body for a client that IDENTIFYed with
// "dead_letter_origin": true.
constexpr char kOriginHeader[] = "NSQ-Origin: ";
}  // namespace

void Connection::SendResponse(std::string_view data) {
  AppendFrame(&out_, kFrameTypeResponse, data);
  Flush();
}

void Connection::SendError(std::string_view message) {
  AppendFrame(&out_, kFrameTypeError, message);
  Flush();
}

// A fatal error: the frame is written, then the connection closes.
void Connection::SendFatal(std::string_view message) {
  spdlog::debug("[{}] fatal: {}", remote_address_, std::string(message));
  AppendFrame(&out_, kFrameTypeError, message);
  close_after_write_ = true;
  suspended_ = false;
  write_blocked_ = false;
  Flush();
}

void Connection::OnDrainPosted() {
  if (closed_) return;
  DrainDeliveries();
}

void Connection::DrainDeliveries() {
  {
    absl::MutexLock lock(&mu_);
    drain_posted_ = false;
    if (pending_.empty()) return;
    draining_.swap(pending_);
  }
  for (const broker::Delivery& d : draining_) {
    if (settings_.dead_letter_origin && d.message->origin) {
      // Beyond NSQ, asked for in IDENTIFY: a dead-letter copy says where it came from.
      const std::string body = absl::StrCat(kOriginHeader, OriginJson(*d.message->origin), "\n",
                                            d.message->body);
      AppendMessageFrame(&out_, d.message->timestamp_ns, d.attempts, d.message->id.view(), body);
      continue;
    }
    AppendMessageFrame(&out_, d.message->timestamp_ns, d.attempts, d.message->id.view(),
                       d.message->body);
  }
  inflight_ += static_cast<int64_t>(draining_.size());
  draining_.clear();
  // nsqd holds a connection's messages until output_buffer_size bytes wait or
  // output_buffer_timeout passes (250 ms by default), which becomes the latency of every
  // lightly loaded channel. The settings are upper bounds: here what is ready goes out
  // now, and while a write is in flight the next messages gather behind it (sealed when
  // it completes), so a busy connection still writes in large batches.
  if (writing_ && static_cast<int64_t>(out_.size()) < settings_.output_buffer_size) {
    flush_after_write_ = true;
    return;
  }
  Flush();
}

// Moves buffered frames into the wire buffer (compressing them) and writes.
void Connection::Seal() {
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

void Connection::Flush() {
  if (closed_) return;
  Seal();
  StartWrite();
}

void Connection::StartWrite() {
  if (closed_ || writing_ || write_blocked_ || sealed_.empty()) return;
  writing_ = true;
  write_started_ = Now();
  writing_buf_.swap(sealed_);
  sealed_.clear();
  auto self = shared_from_this();
  // The write deadline: a peer that takes nothing for write_timeout is gone.
  const uint64_t gen = ++write_generation_;
  write_timer_.expires_after(absl::ToChronoMilliseconds(opts_.write_timeout));
  write_timer_.async_wait([this, self, gen](const error_code& ec) {
    if (ec || closed_ || !writing_ || gen != write_generation_) return;
    spdlog::warn("[{}] write timed out after {}", remote_address_, absl::FormatDuration(opts_.write_timeout));
    Close();
  });
  auto handler = [this, self](const error_code& ec, size_t) { OnWriteDone(ec); };
  if (tls_ && tls_done_) {
    asio::async_write(*tls_, asio::buffer(writing_buf_), std::move(handler));
  } else {
    asio::async_write(socket_, asio::buffer(writing_buf_), std::move(handler));
  }
}

void Connection::OnWriteDone(const error_code& ec) {
  writing_ = false;
  writing_buf_.clear();
  write_timer_.cancel();
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
  if (flush_after_write_) {
    flush_after_write_ = false;
    Seal();
  }
  if (tls_pending_ && sealed_.empty() && out_.empty()) {
    StartTlsHandshake();
    return;
  }
  StartWrite();
  if (read_paused_ && PendingOutput() <= opts_.max_pending_output_bytes / 2) {
    read_paused_ = false;
    StartRead();
  }
}

}  // namespace nsq::legacy
