// nsqd: the broker. Parses options, runs one BrokerServer until SIGINT or SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/flags/flags.h"
#include "common/logging/logging.h"
#include "common/process/signals.h"
#include "services/broker/broker_options.h"
#include "services/broker/broker_server.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  nsq::process::InitServiceProcess();

  nsq::broker::BrokerOptions options;
  nsq::flags::FlagSet flags("nsqd");
  options.RegisterFlags(&flags);
  if (absl::Status st = flags.Parse(argc, argv); !st.ok()) {
    std::cerr << "nsqd: " << st.message() << "\n";
    return 2;
  }
  if (flags.HelpRequested()) {
    std::cout << flags.Usage();
    return 0;
  }
  if (options.show_version) {
    std::cout << "nsqd v1.3.0 (nsq-cpp 0.1.0)\n";
    return 0;
  }
  if (absl::Status st = nsq::logging::InitLogging(options.log_level, options.log_prefix); !st.ok()) {
    std::cerr << "nsqd: " << st.message() << "\n";
    return 2;
  }
  for (const std::string& key : flags.UnknownConfigKeys()) {
    spdlog::warn("config file {}: unknown key {} ignored", flags.config_file(), key);
  }
  // nsqd keeps its data in the working directory by default; under `bazel run` that is
  // the directory the user ran it from, not the runfiles tree.
  if (options.data_path.empty()) {
    if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) options.data_path = dir;
  }

  nsq::broker::BrokerServer server(options);
  if (absl::Status st = server.Start(); !st.ok()) {
    spdlog::critical("failed to start: {}", std::string(st.message()));
    return 1;
  }
  int sig = nsq::process::WaitForShutdownSignal();
  spdlog::info("signal {} received, stopping", sig);
  server.Stop();
  return 0;
}
