#pragma once

// nsq_to_nsq's JSON options: drop messages lacking --require-json-field (or whose value
// differs from --require-json-value), and keep only --whitelist-json-field fields.

#include <optional>
#include <string>
#include <vector>

namespace nsq::tools {

struct JsonFilter {
  std::string require_field;
  std::string require_value;  // compared with a string field as is, else with its JSON
  std::vector<std::string> whitelist;

  bool active() const { return !require_field.empty() || !whitelist.empty(); }
  // The body to publish, or nothing when the message is to be dropped (FINished).
  std::optional<std::string> Apply(const std::string& body) const;
};

}  // namespace nsq::tools
