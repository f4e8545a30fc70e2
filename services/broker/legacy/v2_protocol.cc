#include "services/broker/legacy/v2_protocol.h"

#include <cstdio>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/json/go_json.h"
#include "common/names/names.h"
#include "nlohmann/json.hpp"

namespace nsq::legacy {
namespace {

void AppendU32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

int32_t ReadI32(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + pos);
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                              (uint32_t{p[2]} << 8) | uint32_t{p[3]});
}

std::string Str(std::string_view s) { return std::string(s); }

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when invalid.
size_t DecodeRune(std::string_view s, size_t i, uint32_t* rune) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *rune = c;
    return 1;
  }
  size_t n;
  uint32_t r;
  uint32_t min;
  if ((c & 0xe0) == 0xc0) {
    n = 2, r = c & 0x1f, min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3, r = c & 0x0f, min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4, r = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    r = (r << 6) | (cc & 0x3f);
  }
  if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return 0;
  *rune = r;
  return n;
}

// The fatal error of a command that needs 4 more bytes for a length (NeedMore if absent).
bool HaveBytes(std::string_view input, size_t pos, size_t n) { return input.size() - pos >= n; }

bool IsName(std::string_view s) { return names::IsValidName(s); }

}  // namespace

void AppendFrame(std::string* out, int32_t frame_type, std::string_view data) {
  AppendU32(out, static_cast<uint32_t>(4 + data.size()));
  AppendU32(out, static_cast<uint32_t>(frame_type));
  out->append(data.data(), data.size());
}

void AppendMessageFrame(std::string* out, int64_t timestamp_ns, uint16_t attempts,
                        std::string_view id, std::string_view body) {
  const size_t size = 4 + 8 + 2 + id.size() + body.size();
  char header[18];
  const uint32_t s = static_cast<uint32_t>(size);
  header[0] = static_cast<char>(s >> 24);
  header[1] = static_cast<char>(s >> 16);
  header[2] = static_cast<char>(s >> 8);
  header[3] = static_cast<char>(s);
  header[4] = header[5] = header[6] = 0;
  header[7] = kFrameTypeMessage;
  const uint64_t ts = static_cast<uint64_t>(timestamp_ns);
  for (int i = 0; i < 8; ++i) header[8 + i] = static_cast<char>(ts >> (56 - 8 * i));
  header[16] = static_cast<char>(attempts >> 8);
  header[17] = static_cast<char>(attempts);
  out->append(header, sizeof(header));
  out->append(id.data(), id.size());
  out->append(body.data(), body.size());
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    uint32_t r = 0;
    const size_t n = DecodeRune(s, i, &r);
    if (n == 0) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    switch (r) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (r < 0x20 || r == 0x7f) {
          std::snprintf(buf, sizeof(buf), "\\x%02x", r);
          out += buf;
        } else if (r >= 0x80 && r < 0xa0) {
          std::snprintf(buf, sizeof(buf), "\\u%04x", r);
          out += buf;
        } else {
          out.append(s.data() + i, n);
        }
    }
    i += n;
  }
  out += '"';
  return out;
}

bool ByteToBase10(std::string_view s, uint64_t* out) {
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      *out = 0;
      return false;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

DecodeStatus DecodeCommand(std::string_view input, const DecodeContext& ctx,
                           DecodedCommand* out, size_t* consumed, std::string* error) {
  const size_t scan = std::min(input.size(), kMaxLineBytes);
  const size_t nl = input.substr(0, scan).find('\n');
  if (nl == std::string_view::npos) {
    return input.size() >= kMaxLineBytes ? DecodeStatus::kClose : DecodeStatus::kNeedMore;
  }
  std::string_view line = input.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  size_t pos = nl + 1;

  out->params.clear();
  out->bodies.clear();
  out->topic = out->channel = out->id = out->body = {};
  out->number = 0;
  for (size_t start = 0;;) {
    const size_t sp = line.find(' ', start);
    if (sp == std::string_view::npos) {
      out->params.push_back(line.substr(start));
      break;
    }
    out->params.push_back(line.substr(start, sp - start));
    start = sp + 1;
  }
  const std::vector<std::string_view>& params = out->params;
  const std::string_view name = params[0];

  auto fatal = [&](std::string message) {
    *error = std::move(message);
    return DecodeStatus::kFatal;
  };
  auto done = [&](CommandType type) {
    out->type = type;
    *consumed = pos;
    return DecodeStatus::kCommand;
  };
  const int64_t max_body = ctx.max_body_size;
  const int64_t max_msg = ctx.max_msg_size;

  // A [4-byte size][body] of IDENTIFY or AUTH (E_BAD_BODY, size checked against
  // --max-body-size before it is checked for being positive, as nsqd does).
  auto read_command_body = [&](const char* cmd, DecodeStatus* status) -> bool {
    if (!HaveBytes(input, pos, 4)) {
      *status = DecodeStatus::kNeedMore;
      return false;
    }
    const int32_t len = ReadI32(input, pos);
    if (len > max_body) {
      *status = fatal(absl::StrCat("E_BAD_BODY ", cmd, " body too big ", len, " > ", max_body));
      return false;
    }
    if (len <= 0) {
      *status = fatal(absl::StrCat("E_BAD_BODY ", cmd, " invalid body size ", len));
      return false;
    }
    if (!HaveBytes(input, pos + 4, static_cast<size_t>(len))) {
      *status = DecodeStatus::kNeedMore;
      return false;
    }
    out->body = input.substr(pos + 4, static_cast<size_t>(len));
    pos += 4 + static_cast<size_t>(len);
    return true;
  };
  // A [4-byte size][message] of PUB or DPUB (E_BAD_MESSAGE, against --max-msg-size).
  auto read_message_body = [&](const char* cmd, DecodeStatus* status) -> bool {
    if (!HaveBytes(input, pos, 4)) {
      *status = DecodeStatus::kNeedMore;
      return false;
    }
    const int32_t len = ReadI32(input, pos);
    if (len <= 0) {
      *status = fatal(absl::StrCat("E_BAD_MESSAGE ", cmd, " invalid message body size ", len));
      return false;
    }
    if (len > max_msg) {
      *status = fatal(absl::StrCat("E_BAD_MESSAGE ", cmd, " message too big ", len, " > ", max_msg));
      return false;
    }
    if (!HaveBytes(input, pos + 4, static_cast<size_t>(len))) {
      *status = DecodeStatus::kNeedMore;
      return false;
    }
    out->body = input.substr(pos + 4, static_cast<size_t>(len));
    pos += 4 + static_cast<size_t>(len);
    return true;
  };
  auto check_id = [&](std::string_view id, DecodeStatus* status) -> bool {
    if (id.size() != 16) {
      *status = fatal("E_INVALID invalid message ID");
      return false;
    }
    out->id = id;
    return true;
  };
  const bool subscribed_or_closing =
      ctx.state == ConnState::kSubscribed || ctx.state == ConnState::kClosing;

  DecodeStatus status = DecodeStatus::kCommand;
  if (name == "IDENTIFY") {
    if (ctx.state != ConnState::kInit) return fatal("E_INVALID cannot IDENTIFY in current state");
    if (!read_command_body("IDENTIFY", &status)) return status;
    return done(CommandType::kIdentify);
  }
  if (ctx.tls_required_unmet) {
    return fatal(absl::StrCat("E_INVALID cannot ", Str(name), " in current state (TLS required)"));
  }
  if (name == "FIN") {
    if (!subscribed_or_closing) return fatal("E_INVALID cannot FIN in current state");
    if (params.size() < 2) return fatal("E_INVALID FIN insufficient number of params");
    if (!check_id(params[1], &status)) return status;
    return done(CommandType::kFin);
  }
  if (name == "RDY") {
    if (ctx.state == ConnState::kClosing) return done(CommandType::kNop);  // ignored
    if (ctx.state != ConnState::kSubscribed) return fatal("E_INVALID cannot RDY in current state");
    int64_t count = 1;
    if (params.size() > 1) {
      uint64_t v = 0;
      if (!ByteToBase10(params[1], &v)) {
        return fatal(absl::StrCat("E_INVALID RDY could not parse count ", Str(params[1])));
      }
      count = static_cast<int64_t>(v);
    }
    if (count < 0 || count > ctx.max_rdy_count) {
      return fatal(absl::StrCat("E_INVALID RDY count ", count, " out of range 0-", ctx.max_rdy_count));
    }
    out->number = count;
    return done(CommandType::kRdy);
  }
  if (name == "REQ") {
    if (!subscribed_or_closing) return fatal("E_INVALID cannot REQ in current state");
    if (params.size() < 3) return fatal("E_INVALID REQ insufficient number of params");
    if (!check_id(params[1], &status)) return status;
    uint64_t v = 0;
    if (!ByteToBase10(params[2], &v)) {
      return fatal(absl::StrCat("E_INVALID REQ could not parse timeout ", Str(params[2])));
    }
    // Out of [0, --max-req-timeout] is clamped, not refused.
    const int64_t ms = static_cast<int64_t>(v);
    out->number = ms < 0 ? 0 : std::min(ms, ctx.max_req_timeout_ms);
    return done(CommandType::kReq);
  }
  if (name == "PUB") {
    if (params.size() < 2) return fatal("E_INVALID PUB insufficient number of parameters");
    if (!IsName(params[1])) {
      return fatal(absl::StrCat("E_BAD_TOPIC PUB topic name ", GoQuote(params[1]), " is not valid"));
    }
    out->topic = params[1];
    if (!read_message_body("PUB", &status)) return status;
    return done(CommandType::kPub);
  }
  if (name == "MPUB") {
    if (params.size() < 2) return fatal("E_INVALID MPUB insufficient number of parameters");
    if (!IsName(params[1])) {
      return fatal(absl::StrCat("E_BAD_TOPIC E_BAD_TOPIC MPUB topic name ", GoQuote(params[1]),
                                " is not valid"));
    }
    out->topic = params[1];
    if (!HaveBytes(input, pos, 4)) return DecodeStatus::kNeedMore;
    const int32_t body_len = ReadI32(input, pos);
    if (body_len <= 0) return fatal(absl::StrCat("E_BAD_BODY MPUB invalid body size ", body_len));
    if (body_len > max_body) {
      return fatal(absl::StrCat("E_BAD_BODY MPUB body too big ", body_len, " > ", max_body));
    }
    pos += 4;
    if (!HaveBytes(input, pos, 4)) return DecodeStatus::kNeedMore;
    const int32_t count = ReadI32(input, pos);
    const int64_t max_messages = (max_body - 4) / 5;
    if (count <= 0 || count > max_messages) {
      return fatal(absl::StrCat("E_BAD_BODY MPUB invalid message count ", count));
    }
    pos += 4;
    // nsqd reads the parts from the stream without comparing them with the body size;
    // so do we, but their total stays within --max-body-size so the buffer is bounded.
    int64_t total = 4;
    out->bodies.reserve(static_cast<size_t>(std::min<int64_t>(count, 4096)));
    for (int32_t i = 0; i < count; ++i) {
      if (!HaveBytes(input, pos, 4)) return DecodeStatus::kNeedMore;
      const int32_t size = ReadI32(input, pos);
      if (size <= 0) {
        return fatal(absl::StrCat("E_BAD_MESSAGE MPUB invalid message(", i, ") body size ", size));
      }
      if (size > max_msg) {
        return fatal(absl::StrCat("E_BAD_MESSAGE MPUB message too big ", size, " > ", max_msg));
      }
      total += 4 + static_cast<int64_t>(size);
      if (total > max_body) {
        return fatal(absl::StrCat("E_BAD_BODY MPUB body too big ", total, " > ", max_body));
      }
      if (!HaveBytes(input, pos + 4, static_cast<size_t>(size))) return DecodeStatus::kNeedMore;
      out->bodies.push_back(input.substr(pos + 4, static_cast<size_t>(size)));
      pos += 4 + static_cast<size_t>(size);
    }
    return done(CommandType::kMpub);
  }
  if (name == "DPUB") {
    if (params.size() < 3) return fatal("E_INVALID DPUB insufficient number of parameters");
    if (!IsName(params[1])) {
      return fatal(absl::StrCat("E_BAD_TOPIC DPUB topic name ", GoQuote(params[1]), " is not valid"));
    }
    out->topic = params[1];
    uint64_t v = 0;
    if (!ByteToBase10(params[2], &v)) {
      return fatal(absl::StrCat("E_INVALID DPUB could not parse timeout ", Str(params[2])));
    }
    const int64_t ms = static_cast<int64_t>(v);
    if (ms < 0 || ms > ctx.max_req_timeout_ms) {
      return fatal(absl::StrCat("E_INVALID DPUB timeout ", ms, " out of range 0-", ctx.max_req_timeout_ms));
    }
    out->number = ms;
    if (!read_message_body("DPUB", &status)) return status;
    return done(CommandType::kDpub);
  }
  if (name == "NOP") return done(CommandType::kNop);
  if (name == "TOUCH") {
    if (!subscribed_or_closing) return fatal("E_INVALID cannot TOUCH in current state");
    if (params.size() < 2) return fatal("E_INVALID TOUCH insufficient number of params");
    if (!check_id(params[1], &status)) return status;
    return done(CommandType::kTouch);
  }
  if (name == "SUB") {
    if (ctx.state != ConnState::kInit) return fatal("E_INVALID cannot SUB in current state");
    if (ctx.heartbeats_disabled) return fatal("E_INVALID cannot SUB with heartbeats disabled");
    if (params.size() < 3) return fatal("E_INVALID SUB insufficient number of parameters");
    if (!IsName(params[1])) {
      return fatal(absl::StrCat("E_BAD_TOPIC SUB topic name ", GoQuote(params[1]), " is not valid"));
    }
    if (!IsName(params[2])) {
      return fatal(absl::StrCat("E_BAD_CHANNEL SUB channel name ", GoQuote(params[2]), " is not valid"));
    }
    out->topic = params[1];
    out->channel = params[2];
    return done(CommandType::kSub);
  }
  if (name == "CLS") {
    if (ctx.state != ConnState::kSubscribed) return fatal("E_INVALID cannot CLS in current state");
    return done(CommandType::kCls);
  }
  if (name == "AUTH") {
    if (ctx.state != ConnState::kInit) return fatal("E_INVALID cannot AUTH in current state");
    if (params.size() != 1) return fatal("E_INVALID AUTH invalid number of parameters");
    if (!read_command_body("AUTH", &status)) return status;
    return done(CommandType::kAuth);
  }
  return fatal(absl::StrCat("E_INVALID invalid command ", Str(name)));
}

// ---------------------------------------------------------------------------------------
// IDENTIFY

absl::StatusOr<IdentifyRequest> ParseIdentify(std::string_view body) {
  using nlohmann::json;
  // Only the top level matters; deeper values are dropped as they are parsed.
  json doc = json::parse(
      body.begin(), body.end(),
      [](int depth, json::parse_event_t, json&) { return depth <= 1; },
      /*allow_exceptions=*/false);
  const absl::Status bad = absl::InvalidArgumentError("failed to decode JSON body");
  if (doc.is_discarded()) return bad;
  IdentifyRequest r;
  if (doc.is_null()) return r;  // Go decodes `null` into the zero value
  if (!doc.is_object()) return bad;

  auto lower = [](const std::string& s) {
    std::string l = s;
    for (char& c : l) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return l;
  };
  auto get_string = [](const json& v, std::string* dst) {
    if (v.is_null()) return true;
    if (!v.is_string()) return false;
    *dst = v.get<std::string>();
    return true;
  };
  auto get_bool = [](const json& v, bool* dst) {
    if (v.is_null()) return true;
    if (!v.is_boolean()) return false;
    *dst = v.get<bool>();
    return true;
  };
  auto get_int = [](const json& v, int64_t* dst, int64_t min, int64_t max) {
    if (v.is_null()) return true;
    int64_t x;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      x = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else {
      return false;
    }
    if (x < min || x > max) return false;
    *dst = x;
    return true;
  };
  constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
  constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
  bool ok = true;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string key = lower(it.key());
    const json& v = it.value();
    if (key == "client_id") ok &= get_string(v, &r.client_id);
    else if (key == "hostname") ok &= get_string(v, &r.hostname);
    else if (key == "user_agent") ok &= get_string(v, &r.user_agent);
    else if (key == "feature_negotiation") ok &= get_bool(v, &r.feature_negotiation);
    else if (key == "heartbeat_interval") ok &= get_int(v, &r.heartbeat_interval, kI64Min, kI64Max);
    else if (key == "output_buffer_size") ok &= get_int(v, &r.output_buffer_size, kI64Min, kI64Max);
    else if (key == "output_buffer_timeout") ok &= get_int(v, &r.output_buffer_timeout, kI64Min, kI64Max);
    else if (key == "tls_v1") ok &= get_bool(v, &r.tls_v1);
    else if (key == "deflate") ok &= get_bool(v, &r.deflate);
    else if (key == "deflate_level") ok &= get_int(v, &r.deflate_level, kI64Min, kI64Max);
    else if (key == "snappy") ok &= get_bool(v, &r.snappy);
    else if (key == "sample_rate") {
      ok &= get_int(v, &r.sample_rate, std::numeric_limits<int32_t>::min(),
                    std::numeric_limits<int32_t>::max());
    } else if (key == "msg_timeout") ok &= get_int(v, &r.msg_timeout, kI64Min, kI64Max);
    else if (key == "topology_region") ok &= get_string(v, &r.topology_region);
    else if (key == "topology_zone") ok &= get_string(v, &r.topology_zone);
    else if (key == "dead_letter_origin") ok &= get_bool(v, &r.dead_letter_origin);
  }
  if (!ok) return bad;
  return r;
}

absl::Status ApplyIdentify(const IdentifyRequest& r, const IdentifyLimits& limits,
                           ClientSettings* s) {
  // SetHeartbeatInterval
  if (r.heartbeat_interval == -1) {
    s->heartbeat_interval_ms = 0;
  } else if (r.heartbeat_interval == 0) {
  } else if (r.heartbeat_interval >= 1000 && r.heartbeat_interval <= limits.max_heartbeat_interval_ms) {
    s->heartbeat_interval_ms = r.heartbeat_interval;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat interval (", r.heartbeat_interval, ") is invalid"));
  }
  // SetOutputBuffer: the timeout first, then the size.
  if (r.output_buffer_timeout == -1) {
    s->output_buffer_timeout_ms = 0;
  } else if (r.output_buffer_timeout == 0) {
  } else if (r.output_buffer_timeout >= limits.min_output_buffer_timeout_ms &&
             r.output_buffer_timeout <= limits.max_output_buffer_timeout_ms) {
    s->output_buffer_timeout_ms = r.output_buffer_timeout;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("output buffer timeout (", r.output_buffer_timeout, ") is invalid"));
  }
  if (r.output_buffer_size == -1) {
    s->output_buffer_size = 1;
    s->output_buffer_timeout_ms = 0;
  } else if (r.output_buffer_size == 0) {
  } else if (r.output_buffer_size >= 64 && r.output_buffer_size <= limits.max_output_buffer_size) {
    s->output_buffer_size = r.output_buffer_size;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("output buffer size (", r.output_buffer_size, ") is invalid"));
  }
  if (r.sample_rate < 0 || r.sample_rate > 99) {
    return absl::InvalidArgumentError(absl::StrCat("sample rate (", r.sample_rate, ") is invalid"));
  }
  s->sample_rate = static_cast<int32_t>(r.sample_rate);
  if (r.msg_timeout == 0) {
  } else if (r.msg_timeout >= 1000 && r.msg_timeout <= limits.max_msg_timeout_ms) {
    s->msg_timeout_ms = r.msg_timeout;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("msg timeout (", r.msg_timeout, ") is invalid"));
  }
  s->dead_letter_origin = r.dead_letter_origin;
  return absl::OkStatus();
}

std::string IdentifyReplyJson(const IdentifyReply& r) {
  json::GoJsonWriter w;
  w.BeginObject();
  w.Key("max_rdy_count").Int(r.max_rdy_count);
  w.Key("version").String(r.version);
  w.Key("max_msg_timeout").Int(r.max_msg_timeout_ms);
  w.Key("msg_timeout").Int(r.msg_timeout_ms);
  w.Key("tls_v1").Bool(r.tls_v1);
  w.Key("deflate").Bool(r.deflate);
  w.Key("deflate_level").Int(r.deflate_level);
  w.Key("max_deflate_level").Int(r.max_deflate_level);
  w.Key("snappy").Bool(r.snappy);
  w.Key("sample_rate").Int(r.sample_rate);
  w.Key("auth_required").Bool(r.auth_required);
  w.Key("output_buffer_size").Int(r.output_buffer_size);
  w.Key("output_buffer_timeout").Int(r.output_buffer_timeout_ms);
  w.Key("topology_region").String(r.topology_region);
  w.Key("topology_zone").String(r.topology_zone);
  if (r.dead_letter_origin) w.Key("dead_letter_origin").Bool(true);
  w.EndObject();
  return w.Release();
}

std::string AuthReplyJson(std::string_view identity, std::string_view identity_url,
                          int64_t permission_count) {
  json::GoJsonWriter w;
  w.BeginObject();
  w.Key("identity").String(absl::string_view(identity.data(), identity.size()));
  w.Key("identity_url").String(absl::string_view(identity_url.data(), identity_url.size()));
  w.Key("permission_count").Int(permission_count);
  w.EndObject();
  return w.Release();
}

}  // namespace nsq::legacy
