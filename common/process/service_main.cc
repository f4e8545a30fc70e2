#include "common/process/service_main.h"

#include <iostream>

#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "spdlog/spdlog.h"

namespace nsq::process::internal {

std::optional<int> PrepareService(int argc, char** argv, const std::string& name,
                                  const std::string& version_line,
                                  const std::function<void(flags::FlagSet*)>& register_flags,
                                  const bool& show_version, const std::string& log_level,
                                  const std::string& log_prefix) {
  flags::FlagSet flags(name);
  register_flags(&flags);
  absl::Status st = flags.Parse(argc, argv);
  if (flags.HelpRequested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (!st.ok()) {
    std::cerr << name << ": " << st.message() << "\n";
    return 2;
  }
  if (show_version) {
    std::cout << version_line << "\n";
    return 0;
  }
  if (absl::Status ls = logging::InitLogging(log_level, log_prefix); !ls.ok()) {
    std::cerr << name << ": " << ls.message() << "\n";
    return 2;
  }
  for (const std::string& key : flags.UnknownConfigKeys()) {
    spdlog::warn("config file {}: unknown key {} ignored", flags.config_file(), key);
  }
  return std::nullopt;
}

int Serve(const std::function<absl::Status()>& start, const std::function<absl::Status()>& stop) {
  if (absl::Status st = start(); !st.ok()) {
    spdlog::critical("failed to start: {}", std::string(st.message()));
    return 1;
  }
  const int sig = WaitForShutdownSignal();
  spdlog::info("signal {} received, stopping", sig);
  if (absl::Status st = stop(); !st.ok()) {
    spdlog::critical("stopped with an error: {}", std::string(st.message()));
    return 1;
  }
  return 0;
}

}  // namespace nsq::process::internal
