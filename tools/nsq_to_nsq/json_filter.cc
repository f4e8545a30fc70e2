#include "tools/nsq_to_nsq/json_filter.h"

#include "nlohmann/json.hpp"

namespace nsq::tools {

std::optional<std::string> JsonFilter::Apply(const std::string& body) const {
  if (!active()) return body;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  if (!require_field.empty()) {
    auto it = j.find(require_field);
    if (it == j.end()) return std::nullopt;
    if (!require_value.empty()) {
      const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
      if (v != require_value) return std::nullopt;
    }
  }
  if (whitelist.empty()) return body;
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& f : whitelist) {
    auto it = j.find(f);
    if (it != j.end()) out[f] = *it;
  }
  return out.dump();
}

}  // namespace nsq::tools
