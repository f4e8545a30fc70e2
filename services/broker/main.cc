// nsqd: the broker. Runs one BrokerServer until SIGINT or SIGTERM.
#include <cstdlib>

#include "common/process/service_main.h"
#include "services/broker/broker_options.h"
#include "services/broker/broker_server.h"

int main(int argc, char** argv) {
  using nsq::broker::BrokerOptions;
  return nsq::process::RunService<nsq::broker::BrokerServer>(
      argc, argv, "nsqd", "nsqd v1.3.0 (nsq-cpp 0.1.0)", BrokerOptions{},
      std::function<void(BrokerOptions&)>([](BrokerOptions& options) {
        // nsqd keeps its data in the working directory by default; under `bazel run`
        // that is the directory the user ran it from, not the runfiles tree.
        if (options.data_path.empty()) {
          if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) options.data_path = dir;
        }
      }));
}
