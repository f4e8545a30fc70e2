// nsqlookupd: the discovery service. Parses options, runs one DiscoveryServer until
// SIGINT or SIGTERM.
#include <iostream>

#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "services/discovery/discovery_options.h"
#include "services/discovery/discovery_server.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  nsq::process::InitServiceProcess();

  nsq::discovery::DiscoveryOptions options;
  nsq::flags::FlagSet flags("nsqlookupd");
  options.RegisterFlags(&flags);
  if (absl::Status st = flags.Parse(argc, argv); !st.ok()) {
    if (flags.HelpRequested()) {
      std::cout << flags.Usage();
      return 0;
    }
    std::cerr << "nsqlookupd: " << st.message() << "\n";
    return 2;
  }
  if (options.show_version) {
    std::cout << "nsqlookupd v1.3.0 (nsq-cpp 0.1.0)\n";
    return 0;
  }
  if (absl::Status st = nsq::logging::InitLogging(options.log_level, options.log_prefix); !st.ok()) {
    std::cerr << "nsqlookupd: " << st.message() << "\n";
    return 2;
  }
  for (const std::string& key : flags.UnknownConfigKeys()) {
    spdlog::warn("config file {}: unknown key {} ignored", flags.config_file(), key);
  }

  nsq::discovery::DiscoveryServer server(options);
  if (absl::Status st = server.Start(); !st.ok()) {
    spdlog::critical("failed to start: {}", std::string(st.message()));
    return 1;
  }
  int sig = nsq::process::WaitForShutdownSignal();
  spdlog::info("signal {} received, stopping", sig);
  server.Stop();
  return 0;
}
