#pragma once

// Process-wide logging setup. After InitLogging(), code anywhere logs with spdlog's free
// functions (spdlog::info("..."), spdlog::warn(...)), which go to stderr as
//
//   [nsqd] 2026/11/28 17:00:00.123456 INFO: message
//
// in local time, with NSQ's level names (DEBUG, INFO, WARNING, ERROR, FATAL).

#include <string_view>

#include "absl/status/status.h"

namespace nsq::logging {

// Installs spdlog's default logger writing to stderr. `level` is one of NSQ's levels,
// case-insensitive: "debug", "info", "warn" (or "warning"), "error", "fatal"; "fatal"
// maps to spdlog's critical level and, like every level here, only filters: logging at it
// does not exit. `prefix` is written verbatim before each line, e.g. "[nsqd] " (NSQ's
// --log-prefix). Returns InvalidArgument "invalid log level ..." for an unknown level,
// leaving the current logger untouched. Call from main before starting threads; calling
// again replaces the logger.
absl::Status InitLogging(std::string_view level, std::string_view prefix);

// Changes the default logger's level at run time (thread-safe), e.g. for nsqd's
// PUT /config/log_level. Same level names and error as InitLogging().
absl::Status SetLogLevel(std::string_view level);

// nsqd's numeric LogLevel for a level name (debug 1, info 2, warn 3, error 4, fatal 5;
// same names as above), which is how nsqd's GET/PUT /config/log_level shows it; 0 for an
// unknown name.
int NsqLogLevelNumber(std::string_view level);

}  // namespace nsq::logging
