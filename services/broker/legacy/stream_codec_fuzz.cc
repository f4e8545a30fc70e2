// libFuzzer harness for the snappy-framed and raw DEFLATE stream decoders, which read
// untrusted bytes after IDENTIFY (common/fuzzing/README.md).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/broker/legacy/stream_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  auto codec = data[0] % 2 ? nsq::legacy::NewSnappyCodec() : nsq::legacy::NewDeflateCodec(6);
  codec->Feed(input);
  std::string out;
  for (int i = 0; i < 10000; ++i) {
    size_t produced = 0;
    const size_t before = out.size();
    if (!codec->Decode(&out, 4096, &produced).ok() || produced == 0) break;
    if (out.size() != before + produced || produced > 65536 + 4096) std::abort();
    if (out.size() > (64u << 20)) break;
  }
  // Whatever was encoded decodes back.
  auto a = data[0] % 2 ? nsq::legacy::NewSnappyCodec() : nsq::legacy::NewDeflateCodec(6);
  auto b = data[0] % 2 ? nsq::legacy::NewSnappyCodec() : nsq::legacy::NewDeflateCodec(6);
  std::string wire;
  a->Encode(input, &wire);
  b->Feed(wire);
  std::string back;
  size_t produced = 0;
  do {
    if (!b->Decode(&back, 1 << 20, &produced).ok()) std::abort();
  } while (produced > 0);
  if (back != input) std::abort();
  return 0;
}
