// libFuzzer harness for IDENTIFY: JSON parsing, negotiation and the reply
// (common/fuzzing/README.md).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "nlohmann/json.hpp"
#include "services/broker/legacy/v2_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nsq::legacy::IdentifyRequest> req = nsq::legacy::ParseIdentify(body);
  if (!req.ok()) return 0;
  nsq::legacy::ClientSettings settings;
  const absl::Status st = nsq::legacy::ApplyIdentify(*req, {}, &settings);
  if (st.ok()) {
    if (settings.sample_rate < 0 || settings.sample_rate > 99) std::abort();
    if (settings.heartbeat_interval_ms != 0 &&
        (settings.heartbeat_interval_ms < 1000 || settings.heartbeat_interval_ms > 60000)) {
      std::abort();
    }
  }
  nsq::legacy::IdentifyReply reply;
  reply.topology_zone = req->client_id;  // any bytes must still give valid JSON
  reply.topology_region = req->user_agent;
  const std::string json = nsq::legacy::IdentifyReplyJson(reply);
  if (nlohmann::json::parse(json, nullptr, false).is_discarded()) std::abort();
  return 0;
}
