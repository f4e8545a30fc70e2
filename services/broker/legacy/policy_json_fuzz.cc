// libFuzzer harness for the policy JSON of POST /channel/policy and /topic/policy: any
// accepted body must round-trip through PolicyJson unchanged (common/fuzzing/README.md).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "services/broker/legacy/policy_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nsq::broker::QueuePolicy> policy = nsq::legacy::ParsePolicyJson(body);
  if (!policy.ok()) {
    if (!absl::IsInvalidArgument(policy.status())) std::abort();
    return 0;
  }
  absl::StatusOr<nsq::broker::QueuePolicy> back =
      nsq::legacy::ParsePolicyJson(nsq::legacy::PolicyJson(*policy));
  if (!back.ok() || !(*back == *policy)) std::abort();
  return 0;
}
