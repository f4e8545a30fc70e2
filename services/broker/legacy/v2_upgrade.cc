// Connection's upgrades negotiated by IDENTIFY: the TLS handshake (the reply goes out in
// plaintext first), then the compression codec for both directions.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/tls/server_context.h"
#include "services/broker/legacy/v2_connection.h"
#include "services/broker/legacy/v2_listener.h"
#include "spdlog/spdlog.h"

namespace nsq::legacy {
namespace {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// The TLS handshake after IDENTIFY must finish within this (nsqd: 5 s).
constexpr auto kTlsHandshakeTimeout = std::chrono::seconds(5);

}  // namespace

// After IDENTIFY (and TLS): switch both directions to the negotiated codec. Input
// already buffered past IDENTIFY is compressed too.
void Connection::EnableCompression() {
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

void Connection::StartTlsHandshake() {
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

void Connection::RecordTlsInfo() {
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

}  // namespace nsq::legacy
