#pragma once

// URL decoding as Go's net/url does it, kept free of any networking headers so that it
// can be fuzzed and reused on its own.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nsq::http {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes (either hex case). With `plus_as_space`, '+' decodes to ' ' (query
// components); without it '+' stays (paths). A '%' not followed by two hex digits is an
// InvalidArgument error.
absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_as_space);

// Parses an application/x-www-form-urlencoded query ("a=1&b=x+y&a=%32") into decoded
// pairs in order, like Go's url.ParseQuery: empty components are skipped, a component
// without '=' has an empty value, and a component that fails to decode or contains ';'
// is skipped. Returns the first such error (InvalidArgument) after parsing the rest, so
// `*out` always holds every valid pair. Appends to `*out`.
absl::Status ParseQuery(std::string_view raw, QueryParams* out);

}  // namespace nsq::http
