// main() for running a libFuzzer harness (LLVMFuzzerTestOneInput) as an ordinary test:
// feeds it every file under the directories (or files) named on the command line, then a
// fixed number of deterministic mutations of them. A crash, sanitizer report or failed
// check in the harness fails the test. Real fuzzing uses the same harness with
// -fsanitize=fuzzer (see README.md).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutationsPerInput = 200;

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string Mutate(std::string input, std::mt19937& rng) {
  static constexpr char kInteresting[] = "%&=+;?#/\\\r\n\0 0aFzZ\x7f\x80\xff";
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = input.empty() ? 0 : rng() % (input.size() + 1);
    const char c = rng() % 2 ? kInteresting[rng() % (sizeof(kInteresting) - 1)]
                             : static_cast<char>(rng() % 256);
    switch (rng() % 3) {
      case 0:
        input.insert(pos, 1, c);
        break;
      case 1:
        if (pos < input.size()) input.erase(pos, 1);
        break;
      default:
        if (pos < input.size()) input[pos] = c;
        break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path root(argv[i]);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(root)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(root);
    }
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
      }
      inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...: no inputs found\n", argv[0]);
    return 1;
  }
  Run("");
  std::mt19937 rng(12345);  // Fixed seed: the same inputs on every run.
  size_t runs = 1;
  for (const std::string& input : inputs) {
    Run(input);
    ++runs;
    for (int m = 0; m < kMutationsPerInput; ++m, ++runs) Run(Mutate(input, rng));
  }
  std::printf("ran %zu inputs (%zu corpus files)\n%zu passed, 0 failed\n", runs, inputs.size(),
              runs);
  return 0;
}
