#pragma once

// Command-line splitting for `nsq COMMAND ...`: flags may come before, between or after
// the positional arguments (`nsq sub orders billing --count 5`), and `--` ends the flags
// (`nsq pub orders -- -1 -2` publishes "-1" and "-2").

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/flags/flags.h"

namespace nsq::tools::cli {

// Parses `args` with `fs`, collecting the arguments that are not flags, in order, into
// `positional`. The status is fs.Parse's (kCancelled after --help).
absl::Status ParseInterleaved(flags::FlagSet* fs, const std::vector<std::string>& args,
                              std::vector<std::string>* positional);

}  // namespace nsq::tools::cli
