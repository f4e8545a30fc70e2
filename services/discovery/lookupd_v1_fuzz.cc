// libFuzzer harness for the lookupd V1 state machine (see common/fuzzing/README.md).
// The first byte splits the input into two writes, so reassembly is exercised too.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/time/fake_clock.h"
#include "services/discovery/lookupd_v1.h"
#include "services/discovery/registry.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static nsq::FakeClock clock;
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;
  nsq::discovery::Registry registry(nsq::discovery::RegistryOptions{}, &clock);
  nsq::discovery::LookupdInfo info;
  info.broadcast_address = "fuzz";
  info.tcp_port = 4160;
  info.http_port = 4161;
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = size == 0 ? 0 : static_cast<uint8_t>(data[0]) % (size + 1);
  {
    nsq::discovery::LookupdV1Session session(&registry, &info, "127.0.0.1:1");
    std::string out;
    bool open = session.Consume(input.substr(0, split), &out);
    if (open) open = session.Consume(input.substr(split), &out);
    // Every response is a whole frame.
    size_t pos = 0;
    while (pos + 4 <= out.size()) {
      const uint32_t n = (static_cast<uint32_t>(static_cast<uint8_t>(out[pos])) << 24) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(out[pos + 1])) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(out[pos + 2])) << 8) |
                         static_cast<uint32_t>(static_cast<uint8_t>(out[pos + 3]));
      pos += 4 + n;
    }
    if (pos != out.size()) __builtin_trap();
    registry.Lookup("t");
    registry.Nodes();
  }
  // The session is gone: so is its peer.
  if (!registry.Nodes().empty()) __builtin_trap();
  return 0;
}
