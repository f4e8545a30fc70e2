#include "client/config.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/flags/flags.h"

namespace nsq::client {
namespace {

// "MaxInFlight" -> "max_in_flight"; snake-case names are returned as they are.
std::string SnakeCase(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (i > 0 && !std::isupper(static_cast<unsigned char>(name[i - 1]))) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

absl::Status Bad(const std::string& name, const std::string& value, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid value \"", value, "\" for option ", name, ": ", why));
}

using Setter = std::function<absl::Status(Config&, const std::string& name, const std::string& value)>;

Setter Duration(absl::Duration Config::*field, absl::Duration lo, absl::Duration hi) {
  return [=](Config& c, const std::string& name, const std::string& value) {
    auto d = flags::ParseGoDuration(value);
    if (!d.ok()) return Bad(name, value, "not a duration");
    if (*d < lo || *d > hi) {
      return Bad(name, value, absl::StrCat("out of range ", flags::FormatGoDuration(lo), "..",
                                           flags::FormatGoDuration(hi)));
    }
    c.*field = *d;
    return absl::OkStatus();
  };
}

Setter Int(int64_t Config::*field, int64_t lo, int64_t hi) {
  return [=](Config& c, const std::string& name, const std::string& value) {
    int64_t v;
    if (!absl::SimpleAtoi(value, &v)) return Bad(name, value, "not an integer");
    if (v < lo || v > hi) return Bad(name, value, absl::StrCat("out of range ", lo, "..", hi));
    c.*field = v;
    return absl::OkStatus();
  };
}

Setter Bool(bool Config::*field) {
  return [=](Config& c, const std::string& name, const std::string& value) {
    const std::string v = absl::AsciiStrToLower(value);
    if (v == "true" || v == "1" || v == "t") {
      c.*field = true;
    } else if (v == "false" || v == "0" || v == "f") {
      c.*field = false;
    } else {
      return Bad(name, value, "not a boolean");
    }
    return absl::OkStatus();
  };
}

Setter String(std::string Config::*field) {
  return [=](Config& c, const std::string&, const std::string& value) {
    c.*field = value;
    return absl::OkStatus();
  };
}

const std::map<std::string, Setter, std::less<>>& Setters() {
  static const auto* setters = new std::map<std::string, Setter, std::less<>>{
      {"dial_timeout", Duration(&Config::dial_timeout, absl::ZeroDuration(), absl::Hours(1))},
      {"read_timeout", Duration(&Config::read_timeout, absl::Milliseconds(100), absl::Minutes(5))},
      {"write_timeout", Duration(&Config::write_timeout, absl::Milliseconds(100), absl::Minutes(5))},
      {"lookupd_poll_interval",
       Duration(&Config::lookupd_poll_interval, absl::Milliseconds(10), absl::Minutes(5))},
      {"lookupd_poll_timeout", Duration(&Config::lookupd_poll_timeout, absl::ZeroDuration(), absl::Hours(1))},
      {"lookupd_poll_jitter",
       [](Config& c, const std::string& name, const std::string& value) {
         double v;
         if (!absl::SimpleAtod(value, &v) || v < 0 || v > 1) return Bad(name, value, "want 0..1");
         c.lookupd_poll_jitter = v;
         return absl::OkStatus();
       }},
      {"default_requeue_delay",
       Duration(&Config::default_requeue_delay, absl::ZeroDuration(), absl::Minutes(60))},
      {"max_requeue_delay", Duration(&Config::max_requeue_delay, absl::ZeroDuration(), absl::Minutes(60))},
      {"backoff_strategy",
       [](Config& c, const std::string& name, const std::string& value) {
         if (value == "exponential" || value.empty()) {
           c.backoff_strategy = BackoffStrategy::kExponential;
         } else if (value == "full_jitter") {
           c.backoff_strategy = BackoffStrategy::kFullJitter;
         } else {
           return Bad(name, value, "want exponential or full_jitter");
         }
         return absl::OkStatus();
       }},
      {"max_backoff_duration",
       Duration(&Config::max_backoff_duration, absl::ZeroDuration(), absl::Minutes(60))},
      {"backoff_multiplier", Duration(&Config::backoff_multiplier, absl::ZeroDuration(), absl::Minutes(60))},
      {"max_attempts", Int(&Config::max_attempts, 0, 65535)},
      {"low_rdy_idle_timeout", Duration(&Config::low_rdy_idle_timeout, absl::Seconds(1), absl::Minutes(5))},
      {"low_rdy_timeout", Duration(&Config::low_rdy_timeout, absl::Seconds(1), absl::Minutes(5))},
      {"rdy_redistribute_interval",
       Duration(&Config::rdy_redistribute_interval, absl::Milliseconds(1), absl::Seconds(5))},
      {"client_id", String(&Config::client_id)},
      {"hostname", String(&Config::hostname)},
      {"user_agent", String(&Config::user_agent)},
      {"heartbeat_interval",
       Duration(&Config::heartbeat_interval, -absl::Seconds(1), absl::Minutes(5))},
      {"sample_rate", Int(&Config::sample_rate, 0, 99)},
      {"output_buffer_size", Int(&Config::output_buffer_size, -1, int64_t{1} << 30)},
      {"output_buffer_timeout",
       Duration(&Config::output_buffer_timeout, -absl::Seconds(1), absl::Minutes(5))},
      {"max_in_flight", Int(&Config::max_in_flight, 0, int64_t{1} << 31)},
      {"msg_timeout", Duration(&Config::msg_timeout, absl::ZeroDuration(), absl::Hours(24))},
      {"max_msg_size", Int(&Config::max_msg_size, 0, int64_t{1} << 31)},
      {"auth_secret", String(&Config::auth_secret)},
      {"deflate", Bool(&Config::deflate)},
      {"deflate_level", Int(&Config::deflate_level, 1, 9)},
      {"snappy", Bool(&Config::snappy)},
      {"tls_v1", Bool(&Config::tls_v1)},
      {"tls_root_ca_file", String(&Config::tls_root_ca_file)},
      {"tls_insecure_skip_verify", Bool(&Config::tls_insecure_skip_verify)},
      {"tls_cert", String(&Config::tls_cert)},
      {"tls_key", String(&Config::tls_key)},
      {"grpc_tls", Bool(&Config::grpc_tls)},
      {"grpc_tls_ca_file", String(&Config::grpc_tls_ca_file)},
      {"grpc_tls_cert", String(&Config::grpc_tls_cert)},
      {"grpc_tls_key", String(&Config::grpc_tls_key)},
      {"grpc_tls_server_name", String(&Config::grpc_tls_server_name)},
  };
  return *setters;
}

}  // namespace

absl::Status Config::Set(std::string_view name, std::string_view value) {
  const std::string key = SnakeCase(name);
  auto it = Setters().find(key);
  if (it == Setters().end()) return absl::InvalidArgumentError(absl::StrCat("unknown option ", std::string(name)));
  return it->second(*this, std::string(name), std::string(value));
}

absl::Status Config::SetFlag(std::string_view name_comma_value) {
  const size_t comma = name_comma_value.find(',');
  if (comma == std::string_view::npos) {
    // go-nsq: a bare name sets a boolean option to true.
    return Set(name_comma_value, "true");
  }
  return Set(name_comma_value.substr(0, comma), name_comma_value.substr(comma + 1));
}

absl::Status Config::Validate() const {
  if (heartbeat_interval > absl::ZeroDuration() && heartbeat_interval >= read_timeout) {
    return absl::InvalidArgumentError("heartbeat_interval must be less than read_timeout");
  }
  if (deflate && snappy) return absl::InvalidArgumentError("cannot enable both deflate and snappy");
  if (deflate || snappy) return absl::InvalidArgumentError("deflate and snappy are not supported by this client yet");
  if (tls_cert.empty() != tls_key.empty()) return absl::InvalidArgumentError("tls_cert and tls_key go together");
  if (grpc_tls_cert.empty() != grpc_tls_key.empty()) {
    return absl::InvalidArgumentError("grpc_tls_cert and grpc_tls_key go together");
  }
  return absl::OkStatus();
}

absl::Duration AutoRequeueDelay(const Config& config, uint32_t attempts) {
  const absl::Duration d = config.default_requeue_delay * static_cast<int64_t>(attempts);
  return std::min(d, config.max_requeue_delay);
}

}  // namespace nsq::client
