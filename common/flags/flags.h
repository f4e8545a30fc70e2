#pragma once

// Command-line and TOML config-file flags with NSQ's names and Go's syntax.
//
// A service binds each option field to a flag; the field's current value is the default:
//
//   nsq::flags::FlagSet fs("nsqd");
//   fs.AddInt64("mem-queue-size", &opts.mem_queue_size, "messages kept in memory per topic");
//   absl::Status s = fs.Parse(argc, argv);
//   if (fs.HelpRequested()) { std::cout << fs.Usage(); return 0; }
//   if (!s.ok()) { std::cerr << s.message() << "\n" << fs.Usage(); return 2; }
//
// Precedence is flag > config file (--config=FILE) > default. A FlagSet is used from one
// thread; the bound variables are written only inside Parse().

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/flags/go_duration.h"  // ParseGoDuration, FormatGoDuration

namespace nsq::flags {

class FlagSet {
 public:
  explicit FlagSet(std::string program_name);
  ~FlagSet();
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Each binds flag `name` (without dashes) to `*dst`, whose current value becomes the
  // default shown in Usage(). The config-file key is `name` with '-' replaced by '_'
  // unless `config_key` is non-empty. Registering a name twice, or "config", "help" or
  // "h", is a programming error and aborts.
  void AddString(std::string name, std::string* dst, std::string help,
                 std::string config_key = "");
  void AddInt64(std::string name, int64_t* dst, std::string help,
                std::string config_key = "");
  void AddInt(std::string name, int* dst, std::string help, std::string config_key = "");
  void AddUint16(std::string name, uint16_t* dst, std::string help,
                 std::string config_key = "");
  void AddDouble(std::string name, double* dst, std::string help,
                 std::string config_key = "");
  // --x sets true; --x=true|false (and Go's 1, t, T, TRUE, True, 0, f, F, ...).
  void AddBool(std::string name, bool* dst, std::string help, std::string config_key = "");
  // Go duration syntax on the command line; in TOML a string ("60s") or an integer
  // number of milliseconds.
  void AddDuration(std::string name, absl::Duration* dst, std::string help,
                   std::string config_key = "");
  // A string flag that may be given bare, like a Go flag.Value with IsBoolFlag() (nsqd's
  // --tls-required): a bare --name means --name=<bare_value>, and as for bools a value
  // must then be attached with '=' (in "--name v", v is positional). In TOML a string or
  // a boolean ("true" / "false").
  void AddBoolStyleString(std::string name, std::string* dst, std::string bare_value,
                          std::string help, std::string config_key = "");
  // Repeatable: the first occurrence on the command line replaces the config/default
  // value, later ones append. In TOML an array of strings (or a single string); numbers
  // in the array are kept as their text (nsqd's float lists).
  void AddStringList(std::string name, std::vector<std::string>* dst, std::string help,
                     std::string config_key = "");

  // Parses argv[1..argc): --name=value, --name value, -name=value, -name value, and bare
  // --name for bools and bool-style strings. "--config=FILE" loads a TOML file before command-line values are
  // applied. Like Go's flag package, parsing stops at "--" or at the first argument that
  // is not a flag; the rest are positional(). "-h", "--help" (or "-help") set
  // HelpRequested() and return a kCancelled status without touching any bound variable.
  // Errors (unknown flag, bad value, unreadable or malformed config, wrong TOML type)
  // are kInvalidArgument naming the flag or key; bound variables may then be partially
  // updated. Unknown config keys are not errors: see UnknownConfigKeys().
  absl::Status Parse(int argc, const char* const* argv);
  absl::Status Parse(int argc, char** argv) {
    return Parse(argc, const_cast<const char* const*>(argv));
  }
  // Same, without a program name: every element is an argument.
  absl::Status Parse(const std::vector<std::string>& args);

  bool HelpRequested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }
  // Top-level config-file keys that match no flag, in file order.
  const std::vector<std::string>& UnknownConfigKeys() const { return unknown_config_keys_; }
  // The --config path given, or "" when none.
  const std::string& config_file() const { return config_file_; }
  // True when `name` was given on the command line or in the config file.
  bool IsSet(std::string_view name) const;

  // "Usage of <program>:" then one line per flag, sorted by name: name, type, help and
  // default.
  std::string Usage() const;

  struct Flag;  // Defined in flags.cc.

 private:
  void Add(std::unique_ptr<Flag> flag);
  Flag* Find(std::string_view name) const;
  absl::Status LoadConfig(const std::string& path);

  std::string program_name_;
  std::vector<std::unique_ptr<Flag>> flags_;  // In registration order.
  bool help_requested_ = false;
  std::string config_file_;
  std::vector<std::string> positional_;
  std::vector<std::string> unknown_config_keys_;
};

}  // namespace nsq::flags
