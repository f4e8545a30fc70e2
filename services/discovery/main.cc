// nsqlookupd: the discovery service. Runs one DiscoveryServer until SIGINT or SIGTERM.
#include "common/process/service_main.h"
#include "services/discovery/discovery_options.h"
#include "services/discovery/discovery_server.h"

int main(int argc, char** argv) {
  return nsq::process::RunService<nsq::discovery::DiscoveryServer>(
      argc, argv, "nsqlookupd", "nsqlookupd v1.3.0 (nsq-cpp 0.1.0)",
      nsq::discovery::DiscoveryOptions{});
}
