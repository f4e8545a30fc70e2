#include "services/broker/legacy/http_config.h"

#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/json/go_json.h"
#include "common/logging/logging.h"
#include "nlohmann/json.hpp"
#include "services/broker/legacy/http_v1.h"

namespace nsq::legacy {

http::Response ConfigEndpoint::Handle(const http::Request& req) {
  const std::string opt = req.path.substr(std::string("/config/").size());
  absl::MutexLock lock(&mu_);
  if (req.method == "PUT") {
    if (req.body.empty() || static_cast<int64_t>(req.body.size()) > options_.max_msg_size) {
      return V1Error(413, "INVALID_VALUE");
    }
    if (opt == "nsqlookupd_tcp_addresses") {
      const nlohmann::ordered_json v = nlohmann::ordered_json::parse(req.body, nullptr, false);
      if (v.is_discarded() || !(v.is_array() || v.is_null())) return V1Error(400, "INVALID_VALUE");
      std::vector<std::string> addresses;
      for (const nlohmann::ordered_json& a : v) {
        if (!a.is_string()) return V1Error(400, "INVALID_VALUE");
        addresses.push_back(a.get<std::string>());
      }
      config_[opt] = json::GoJsonWriter().StringArray(addresses).Release();
      if (options_.set_lookupd_addresses) options_.set_lookupd_addresses(addresses);
    } else if (opt == "log_level") {
      const std::string level = absl::AsciiStrToLower(req.body);
      if (!options_.set_log_level || !options_.set_log_level(level)) {
        return V1Error(400, "INVALID_VALUE");
      }
      // nsqd answers with its LogLevel, an int (debug 1 ... fatal 5).
      config_[opt] = json::GoJsonWriter().Int(logging::NsqLogLevelNumber(level)).Release();
    } else {
      return V1Error(400, "INVALID_OPTION");
    }
  }
  auto it = config_.find(opt);
  if (it == config_.end()) return V1Error(400, "INVALID_OPTION");
  return V1(200, it->second, kJsonContentType);
}

}  // namespace nsq::legacy
