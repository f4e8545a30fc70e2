#pragma once

// NSQ's TCP protocol V2 without I/O (nsq.md 1.5): frame encoding, the command decoder
// with nsqd's exact error strings and order of checks, and IDENTIFY parsing and
// negotiation. Pure functions over bytes, so they are unit tested and fuzzed on their
// own; v2_server.cc does the sockets.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nsq::legacy {

inline constexpr int32_t kFrameTypeResponse = 0;
inline constexpr int32_t kFrameTypeError = 1;
inline constexpr int32_t kFrameTypeMessage = 2;
inline constexpr std::string_view kMagicV2 = "  V2";
// nsqd reads command lines with a 16 KiB bufio.Reader: a longer line ends the connection.
inline constexpr size_t kMaxLineBytes = 16 * 1024;
// The version nsqd clients see (IDENTIFY reply, /info, /stats): nsqd 1.3.0's protocol.
inline constexpr char kNsqdVersion[] = "1.3.0";

// Appends `[u32 size = 4 + len(data)][i32 type][data]`.
void AppendFrame(std::string* out, int32_t frame_type, std::string_view data);
// Appends a FrameTypeMessage: [size][2][i64 ts][u16 attempts][16-byte id][body].
void AppendMessageFrame(std::string* out, int64_t timestamp_ns, uint16_t attempts,
                        std::string_view id, std::string_view body);

// Go's strconv.Quote (what nsqd's %q prints): "…" with \" \\ \n \t ... and \xNN for
// bytes that are not printable or not valid UTF-8.
std::string GoQuote(std::string_view s);
// nsqd's protocol.ByteToBase10: digits only (no sign), "" is 0, wraps on overflow.
bool ByteToBase10(std::string_view s, uint64_t* out);

// Connection states as nsqd numbers them (also `state` in /stats).
enum class ConnState : int32_t { kInit = 0, kSubscribed = 3, kClosing = 4 };

enum class CommandType {
  kIdentify, kAuth, kSub, kPub, kMpub, kDpub, kRdy, kFin, kReq, kTouch, kCls, kNop,
};

// What decoding depends on besides the bytes.
struct DecodeContext {
  ConnState state = ConnState::kInit;
  // --tls-required is on and this connection has not upgraded: every command but
  // IDENTIFY is refused.
  bool tls_required_unmet = false;
  bool heartbeats_disabled = false;  // IDENTIFY heartbeat_interval -1: SUB is refused
  int64_t max_msg_size = 1048576;
  int64_t max_body_size = 5242880;
  int64_t max_req_timeout_ms = 3600000;
  int64_t max_rdy_count = 2500;
};

// One whole command. Views point into the decoded input.
struct DecodedCommand {
  CommandType type = CommandType::kNop;
  std::vector<std::string_view> params;  // params[0] is the command name
  std::string_view topic;                // SUB, PUB, MPUB, DPUB
  std::string_view channel;              // SUB
  std::string_view id;                   // FIN, REQ, TOUCH: exactly 16 bytes
  std::string_view body;                 // IDENTIFY, AUTH, PUB, DPUB
  std::vector<std::string_view> bodies;  // MPUB
  int64_t number = 0;                    // RDY count; REQ and DPUB milliseconds
};

enum class DecodeStatus {
  kNeedMore,  // the input holds no whole command yet
  kCommand,   // `out` is filled; `consumed` bytes were used
  kFatal,     // send `error` as an error frame, then close
  kClose,     // close without a word (a line over kMaxLineBytes)
};

// Decodes the first command of `input`, checking what nsqd checks before it executes
// (state, TLS policy, parameters, names, sizes) in nsqd's order, so a malformed command
// fails as soon as nsqd's would, even before its body has arrived. Never reads past
// `input`; buffers it may need stay bounded by max_body_size plus a line.
DecodeStatus DecodeCommand(std::string_view input, const DecodeContext& context,
                           DecodedCommand* out, size_t* consumed, std::string* error);

// IDENTIFY's JSON body (identifyDataV2). Unknown keys are ignored; keys match
// case-insensitively and values must have Go's types, as encoding/json requires.
struct IdentifyRequest {
  std::string client_id;
  std::string hostname;
  std::string user_agent;
  bool feature_negotiation = false;
  int64_t heartbeat_interval = 0;     // ms; -1 disables
  int64_t output_buffer_size = 0;     // bytes; -1 disables
  int64_t output_buffer_timeout = 0;  // ms; -1 disables
  bool tls_v1 = false;
  bool deflate = false;
  int64_t deflate_level = 0;
  bool snappy = false;
  int64_t sample_rate = 0;  // Go int32
  int64_t msg_timeout = 0;  // ms
  std::string topology_region;
  std::string topology_zone;
  // Beyond NSQ (nsqd ignores the key): deliver a dead-letter copy's body prefixed by one
  // "NSQ-Origin: {json}\n" line.
  bool dead_letter_origin = false;
};
// InvalidArgument when the body is not JSON of that shape (nsqd: "failed to decode
// JSON body").
absl::StatusOr<IdentifyRequest> ParseIdentify(std::string_view json);

// The server's bounds for what a client may ask for (nsqd's options).
struct IdentifyLimits {
  int64_t max_heartbeat_interval_ms = 60000;
  int64_t max_output_buffer_size = 65536;
  int64_t min_output_buffer_timeout_ms = 25;
  int64_t max_output_buffer_timeout_ms = 30000;
  int64_t max_msg_timeout_ms = 900000;
};

// A connection's negotiable settings; start from the server defaults.
struct ClientSettings {
  int64_t heartbeat_interval_ms = 30000;  // 0 = disabled
  int64_t output_buffer_size = 16384;
  int64_t output_buffer_timeout_ms = 250;  // 0 = no timed flushes
  int32_t sample_rate = 0;
  int64_t msg_timeout_ms = 60000;
  bool dead_letter_origin = false;  // IDENTIFY's dead_letter_origin (beyond NSQ)
};

// nsqd's clientV2.Identify: validates and applies `request` in nsqd's order. The error
// text is nsqd's ("heartbeat interval (%d) is invalid", ...), to be sent as
// "E_BAD_BODY IDENTIFY <text>".
absl::Status ApplyIdentify(const IdentifyRequest& request, const IdentifyLimits& limits,
                           ClientSettings* settings);

// The IDENTIFY reply's 15 fields, in nsqd's order.
struct IdentifyReply {
  int64_t max_rdy_count = 2500;
  std::string version = kNsqdVersion;
  int64_t max_msg_timeout_ms = 900000;
  int64_t msg_timeout_ms = 60000;
  bool tls_v1 = false;
  bool deflate = false;
  int64_t deflate_level = 6;
  int64_t max_deflate_level = 6;
  bool snappy = false;
  int32_t sample_rate = 0;
  bool auth_required = false;
  int64_t output_buffer_size = 16384;
  int64_t output_buffer_timeout_ms = 250;
  std::string topology_region;
  std::string topology_zone;
  // Beyond NSQ: appended as a 16th field only when the client asked for it, so stock
  // clients see nsqd's 15.
  bool dead_letter_origin = false;
};
std::string IdentifyReplyJson(const IdentifyReply& reply);

// The reply to a successful AUTH, as nsqd's: identity, identity_url, permission_count.
std::string AuthReplyJson(std::string_view identity, std::string_view identity_url,
                          int64_t permission_count);

}  // namespace nsq::legacy
