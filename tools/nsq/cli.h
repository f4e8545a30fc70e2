#pragma once

// `nsq`: a command-line client for the broker's and discovery's gRPC APIs
// (proto/nsq/v1): pub, sub, stats, topic and channel admin, peek, policy, lookup.
// Everything but `main` lives here so that the commands run the same way from a test.

#include <iosfwd>
#include <string>
#include <vector>

namespace nsq::tools::cli {

// Exit statuses.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a call failed (the gRPC status is printed)
inline constexpr int kExitUsage = 2;   // a bad command line (nothing was sent)

// Runs `nsq` with `args` (argv without the program name). Bodies for `pub` come from
// `in` when none are given; results go to `out`, errors (one line each, "nsq: ...") to
// `err`. `sub` without --count runs until SIGINT, SIGTERM or SIGHUP: it blocks them
// (common/process BlockShutdownSignals) before it starts gRPC, so it must be the first
// gRPC user of the process.
int Run(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace nsq::tools::cli
