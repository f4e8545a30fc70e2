#include "common/logging/logging.h"

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace nsq::logging {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status ParseLevel(std::string_view text, spdlog::level::level_enum* out) {
  const std::string lower = absl::AsciiStrToLower(Sv(text));
  if (lower == "debug") {
    *out = spdlog::level::debug;
  } else if (lower == "info") {
    *out = spdlog::level::info;
  } else if (lower == "warn" || lower == "warning") {
    *out = spdlog::level::warn;
  } else if (lower == "error") {
    *out = spdlog::level::err;
  } else if (lower == "fatal") {
    *out = spdlog::level::critical;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid log level \"", Sv(text), "\" (want debug, info, warn, error or fatal)"));
  }
  return absl::OkStatus();
}

}  // namespace

int NsqLogLevelNumber(std::string_view level) {
  spdlog::level::level_enum parsed;
  if (!ParseLevel(level, &parsed).ok()) return 0;
  switch (parsed) {
    case spdlog::level::debug: return 1;
    case spdlog::level::info: return 2;
    case spdlog::level::warn: return 3;
    case spdlog::level::err: return 4;
    default: return 5;
  }
}

namespace {

// "%*" in the pattern: the level as NSQ's Go logger spells it.
class NsqLevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    std::string_view name;
    switch (msg.level) {
      case spdlog::level::trace:
        name = "TRACE";
        break;
      case spdlog::level::debug:
        name = "DEBUG";
        break;
      case spdlog::level::info:
        name = "INFO";
        break;
      case spdlog::level::warn:
        name = "WARNING";
        break;
      case spdlog::level::err:
        name = "ERROR";
        break;
      default:
        name = "FATAL";
        break;
    }
    dest.append(name.data(), name.data() + name.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<NsqLevelFlag>();
  }
};

}  // namespace

absl::Status InitLogging(std::string_view level, std::string_view prefix) {
  spdlog::level::level_enum parsed;
  if (absl::Status s = ParseLevel(level, &parsed); !s.ok()) return s;
  // '%' in the prefix is literal text, not a pattern flag.
  const std::string pattern =
      absl::StrCat(absl::StrReplaceAll(Sv(prefix), {{"%", "%%"}}),
                   "%Y/%m/%d %H:%M:%S.%f %*: %v");
  try {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<NsqLevelFlag>('*').set_pattern(pattern);
    auto logger = std::make_shared<spdlog::logger>(
        "nsq", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_formatter(std::move(formatter));
    logger->set_level(parsed);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot set up logging: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status SetLogLevel(std::string_view level) {
  spdlog::level::level_enum parsed;
  if (absl::Status s = ParseLevel(level, &parsed); !s.ok()) return s;
  spdlog::default_logger_raw()->set_level(parsed);
  return absl::OkStatus();
}

}  // namespace nsq::logging
