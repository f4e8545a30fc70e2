#pragma once

// Test helpers for the legacy gateway: an in-process broker engine (fake clock, memory
// storage) served by the real V2 listener and HTTP API on 127.0.0.1:0, and a blocking V2
// client over a real socket that can upgrade to TLS, snappy or deflate.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "common/time/fake_clock.h"
#include "services/broker/core/engine.h"
#include "services/broker/core/memory_storage.h"
#include "services/broker/core/storage.h"
#include "services/broker/legacy/http_api.h"
#include "services/broker/legacy/stream_codec.h"
#include "services/broker/legacy/v2_server.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace nsq::legacy::testing {

// How long a test waits for something it expects.
inline constexpr absl::Duration kWait = absl::Seconds(5);

struct Frame {
  int32_t type = -1;
  std::string data;
};

// A decoded FrameTypeMessage.
struct Message {
  int64_t timestamp_ns = 0;
  uint16_t attempts = 0;
  std::string id;
  std::string body;
};
std::optional<Message> ParseMessage(const Frame& frame);

// "IDENTIFY\n" style command bytes: `line` + "\n", then [4-byte size][body] if `body`.
std::string Command(std::string_view line);
std::string Command(std::string_view line, std::string_view body);
// MPUB's body: [4B body size][4B count]([4B size][data])*.
std::string MpubCommand(std::string_view topic, const std::vector<std::string>& bodies);

class V2Client {
 public:
  explicit V2Client(int fd);
  ~V2Client();
  V2Client(const V2Client&) = delete;
  V2Client& operator=(const V2Client&) = delete;

  // Connects to 127.0.0.1:port and, unless `magic` is false, sends "  V2".
  static std::unique_ptr<V2Client> Connect(int port, bool magic = true);

  bool Send(std::string_view bytes);
  // The next frame; nullopt if the connection closed or nothing came in time.
  std::optional<Frame> Read(absl::Duration timeout = kWait);
  // "<type> <data>" of the next frame ("0 OK", "1 E_INVALID ..."), or "closed" /
  // "timeout", for exact comparisons.
  std::string ReadText(absl::Duration timeout = kWait);
  // Next frame that is not a heartbeat, as ReadText.
  std::string ReadTextSkippingHeartbeats(absl::Duration timeout = kWait);
  // True when the server closes the connection within `timeout` (frames before the
  // close are dropped).
  bool WaitClosed(absl::Duration timeout = kWait);
  bool closed() const { return closed_; }

  // Sends IDENTIFY with `json` and returns the reply as ReadText.
  std::string Identify(std::string_view json);
  // IDENTIFY + SUB + RDY, expecting OK replies. False on anything else.
  bool Subscribe(std::string_view topic, std::string_view channel, int64_t rdy,
                 std::string_view identify_json = "{\"feature_negotiation\":true}");
  std::string Pub(std::string_view topic, std::string_view body);

  // Client side of the upgrades; call after the IDENTIFY reply says so. TLS verifies
  // the server against `ca_file` and may present a client certificate.
  bool StartTls(const std::string& ca_file, const std::string& cert_file = "",
                const std::string& key_file = "");
  // Bytes already read past the IDENTIFY reply are compressed ones.
  void StartCodec(std::unique_ptr<StreamCodec> codec) {
    codec_ = std::move(codec);
    codec_->Feed(plain_);
    plain_.clear();
  }

 private:
  bool FillPlain(absl::Time deadline);
  bool RawWrite(std::string_view bytes);

  int fd_;
  SSL_CTX* ssl_ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::unique_ptr<StreamCodec> codec_;
  std::string plain_;
  bool closed_ = false;
};

// A MemoryStorage whose durability answers (Storage::WhenDurable, i.e. what a publish
// waits for under --sync-every=1) can be held back: while Hold(true), every answer
// waits until Release(), which runs them on the caller's thread as the storage's commit
// thread would. Otherwise answers are immediate.
class HeldDurabilityStorage : public broker::Storage {
 public:
  absl::StatusOr<std::unique_ptr<broker::BackendQueue>> OpenQueue(std::string_view topic,
                                                                  std::string_view channel,
                                                                  bool durable) override {
    return memory_.OpenQueue(topic, channel, durable);
  }
  absl::Status MoveQueue(broker::BackendQueue* queue, std::string_view topic,
                         std::string_view channel, bool durable) override {
    return memory_.MoveQueue(queue, topic, channel, durable);
  }
  absl::StatusOr<std::unique_ptr<broker::DeferredQueue>> OpenDeferred(std::string_view topic,
                                                                      std::string_view channel) override {
    return memory_.OpenDeferred(topic, channel);
  }
  absl::Status SaveMetadata(const broker::Metadata& metadata) override {
    return memory_.SaveMetadata(metadata);
  }
  absl::StatusOr<broker::Metadata> LoadMetadata() override { return memory_.LoadMetadata(); }
  void WhenDurable(absl::AnyInvocable<void(absl::Status) &&> done) override;

  void Hold(bool hold);
  // Durability answers held back now.
  size_t Waiting();
  // Waits (bounded by kWait) until at least `n` answers are held back.
  bool AwaitWaiting(size_t n);
  // Runs every held answer with `status`; returns how many.
  size_t Release(absl::Status status = absl::OkStatus());

 private:
  broker::MemoryStorage memory_;
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::AnyInvocable<void(absl::Status) &&>> held_ ABSL_GUARDED_BY(mu_);
};

struct GatewayConfig {
  broker::EngineOptions engine;
  V2ServerOptions v2;
  HttpApiOptions http;
  int v2_threads = 2;
  int http_threads = 1;
  // http::Server::Options::write_timeout; zero = its default.
  absl::Duration http_write_timeout = absl::ZeroDuration();
};

// The engine runs on a fake clock: Advance() moves it and runs the engine's timers.
// Heartbeats and output flushes run on real time.
class Gateway {
 public:
  explicit Gateway(GatewayConfig config = {});
  ~Gateway();

  broker::Engine& engine() { return *engine_; }
  HeldDurabilityStorage& storage() { return storage_; }
  V2Server& v2() { return *v2_; }
  int tcp_port() const { return v2_->port(); }
  int http_port() const { return http_->port(); }
  void Advance(absl::Duration d);

  std::unique_ptr<V2Client> Connect(bool magic = true) { return V2Client::Connect(tcp_port(), magic); }
  absl::StatusOr<http::ClientResponse> Http(const std::string& method, const std::string& target,
                                            const std::string& body = "",
                                            std::vector<std::pair<std::string, std::string>> headers = {});
  // Waits until `pred` holds for the stats of topic/channel (bounded).
  broker::ChannelStats ChannelStats(const std::string& topic, const std::string& channel);

 private:
  FakeClock clock_;
  HeldDurabilityStorage storage_;
  std::unique_ptr<broker::Engine> engine_;
  std::unique_ptr<V2Server> v2_;
  std::unique_ptr<http::Server> http_;
};

// One HTTP exchange as "<status> [<content-type>] [<x-nsq-content-type>] <body>", for
// exact comparisons (what curl would see); the error message if the request failed.
std::string HttpCall(Gateway& gw, const std::string& method, const std::string& target,
                     const std::string& body = "");
// The bracketed headers of HttpCall for nsqd's V1 JSON, text and empty answers.
inline constexpr char kV1Json[] = "[application/json; charset=utf-8] [nsq; version=1.0] ";
inline constexpr char kV1Text[] = "[text/plain; charset=utf-8] [nsq; version=1.0] ";
inline constexpr char kV1Empty[] = "[] [nsq; version=1.0] ";

// Path of a file under services/broker/legacy/testdata in the test's runfiles.
std::string TestdataPath(const std::string& name);

}  // namespace nsq::legacy::testing
