#include "tools/nsq/args.h"

namespace nsq::tools::cli {

absl::Status ParseInterleaved(flags::FlagSet* fs, const std::vector<std::string>& args,
                              std::vector<std::string>* positional) {
  positional->clear();
  // Everything after a literal "--" is positional. FlagSet stops at it too, but would
  // not say whether it stopped there or at a positional argument.
  std::vector<std::string> rest = args;
  std::vector<std::string> after_dashes;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == "--") {
      after_dashes.assign(rest.begin() + static_cast<std::ptrdiff_t>(i) + 1, rest.end());
      rest.resize(i);
      break;
    }
  }
  // FlagSet (like Go's flag package) stops at the first positional argument: take it
  // and parse again from the next one. Each round consumes at least one argument. A
  // value taken by a flag ("--count 5") never reaches the positional list.
  while (true) {
    if (absl::Status st = fs->Parse(rest); !st.ok()) return st;
    const std::vector<std::string>& left = fs->positional();
    if (left.empty()) break;
    positional->push_back(left.front());
    rest.assign(left.begin() + 1, left.end());
  }
  positional->insert(positional->end(), after_dashes.begin(), after_dashes.end());
  return absl::OkStatus();
}

}  // namespace nsq::tools::cli
