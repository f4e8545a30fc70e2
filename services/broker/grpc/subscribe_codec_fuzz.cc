// libFuzzer harness for the Subscribe stream's FIN fast path (common/fuzzing/README.md):
// whatever DecodeFinishOnly accepts, protobuf must read as the same finish command.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/strings/string_view.h"
#include "nsq/v1/broker.pb.h"
#include "services/broker/grpc/subscribe_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> ids;
  if (!nsq::broker::subscribe_codec::DecodeFinishOnly(input, &ids)) return 0;
  for (absl::string_view id : ids) {
    if (id.data() < input.data() || id.data() + id.size() > input.data() + input.size()) {
      std::abort();
    }
  }
  nsq::v1::SubscribeRequest parsed;
  if (!parsed.ParseFromArray(data, static_cast<int>(size))) std::abort();
  if (!parsed.has_finish()) std::abort();
  if (parsed.finish().ids_size() != static_cast<int>(ids.size())) std::abort();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (parsed.finish().ids(static_cast<int>(i)) != ids[i]) std::abort();
  }
  return 0;
}
