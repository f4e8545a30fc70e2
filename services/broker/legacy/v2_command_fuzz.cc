// libFuzzer harness for the V2 command decoder (common/fuzzing/README.md). The first
// byte picks the connection state and limits; the rest is the stream from the client.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/broker/legacy/v2_protocol.h"

using nsq::legacy::ConnState;
using nsq::legacy::DecodeCommand;
using nsq::legacy::DecodeContext;
using nsq::legacy::DecodedCommand;
using nsq::legacy::DecodeStatus;

namespace {
bool Within(std::string_view outer, std::string_view inner) {
  return inner.empty() ||
         (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  DecodeContext ctx;
  static constexpr ConnState kStates[] = {ConnState::kInit, ConnState::kSubscribed, ConnState::kClosing};
  ctx.state = kStates[mode % 3];
  ctx.tls_required_unmet = (mode & 0x08) != 0;
  ctx.heartbeats_disabled = (mode & 0x10) != 0;
  if (mode & 0x20) {
    ctx.max_msg_size = 16;
    ctx.max_body_size = 64;
  }
  DecodedCommand cmd;
  // Decode commands one after the other, as a connection does.
  for (int i = 0; i < 1000 && !input.empty(); ++i) {
    size_t consumed = 0;
    std::string error;
    const DecodeStatus st = DecodeCommand(input, ctx, &cmd, &consumed, &error);
    if (st != DecodeStatus::kCommand) {
      if (st == DecodeStatus::kFatal && error.empty()) std::abort();
      break;
    }
    if (consumed == 0 || consumed > input.size()) std::abort();
    const std::string_view used = input.substr(0, consumed);
    if (!Within(used, cmd.body) || !Within(used, cmd.topic) || !Within(used, cmd.id)) std::abort();
    for (std::string_view b : cmd.bodies) {
      if (!Within(used, b) || b.empty() || static_cast<int64_t>(b.size()) > ctx.max_msg_size) std::abort();
    }
    if (!cmd.id.empty() && cmd.id.size() != 16) std::abort();
    if (static_cast<int64_t>(cmd.body.size()) > ctx.max_body_size) std::abort();
    input.remove_prefix(consumed);
  }
  return 0;
}
