// nsq: the command-line client for the gRPC APIs (tools/nsq/cli.h).

#include <iostream>
#include <string>
#include <vector>

#include "common/process/signals.h"
#include "tools/nsq/cli.h"

int main(int argc, char** argv) {
  // A closed stdout is an error `sub` sees (and stops on), not a silent death. SIGINT
  // keeps its default action except in `sub`, which blocks it to end cleanly.
  nsq::process::IgnoreSigpipe();
  const std::vector<std::string> args(argv + 1, argv + argc);
  return nsq::tools::cli::Run(args, std::cin, std::cout, std::cerr);
}
