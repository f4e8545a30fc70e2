// libFuzzer harness for URL query and percent decoding (common/fuzzing/README.md).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/http/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  nsq::http::QueryParams params;
  const absl::Status status = nsq::http::ParseQuery(input, &params);
  size_t decoded = 0;
  for (const auto& [key, value] : params) decoded += key.size() + value.size();
  // Decoding never grows the text, and every pair came from a non-empty component.
  if (decoded > size || params.size() > size) std::abort();
  if (status.ok() && input.find(';') != std::string_view::npos) std::abort();

  for (bool plus_as_space : {false, true}) {
    absl::StatusOr<std::string> out = nsq::http::PercentDecode(input, plus_as_space);
    if (out.ok() && out->size() > size) std::abort();
    if (!out.ok() && input.find('%') == std::string_view::npos) std::abort();
  }
  return 0;
}
