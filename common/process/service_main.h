#pragma once

// The body of every service's main(): parse flags (and --config), answer --help and
// --version, set up logging, then run one server object from Start() until SIGINT or
// SIGTERM and Stop() it. Each main.cc is then one call.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/process/signals.h"

namespace nsq::flags {
class FlagSet;
}

namespace nsq::process {
namespace internal {

// Returns the exit code to stop with now, or nothing to go on and serve.
std::optional<int> PrepareService(int argc, char** argv, const std::string& name,
                                  const std::string& version_line,
                                  const std::function<void(flags::FlagSet*)>& register_flags,
                                  const bool& show_version, const std::string& log_level,
                                  const std::string& log_prefix);
// Start(), wait for a shutdown signal, Stop(). Returns the exit code: 1 if either failed.
int Serve(const std::function<absl::Status()>& start, const std::function<absl::Status()>& stop);

}  // namespace internal

// `Options` has RegisterFlags(flags::FlagSet*), show_version, log_level and log_prefix;
// `Server` is built from the options and has Start() and Stop(), and may have
// stop_status(): a server that could not stop cleanly (the broker could not write its
// queues out) then exits 1. `adjust` may change the options after parsing (defaults that
// depend on the environment).
template <typename Server, typename Options>
int RunService(int argc, char** argv, const std::string& name, const std::string& version_line,
               Options options, const std::function<void(Options&)>& adjust = nullptr) {
  InitServiceProcess();
  if (auto code = internal::PrepareService(
          argc, argv, name, version_line, [&](flags::FlagSet* f) { options.RegisterFlags(f); },
          options.show_version, options.log_level, options.log_prefix)) {
    return *code;
  }
  if (adjust) adjust(options);
  Server server(options);
  return internal::Serve([&] { return server.Start(); }, [&]() -> absl::Status {
    server.Stop();
    if constexpr (requires { server.stop_status(); }) {
      return server.stop_status();
    } else {
      return absl::OkStatus();
    }
  });
}

}  // namespace nsq::process
