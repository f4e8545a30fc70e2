#include "common/flags/flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "toml++/toml.h"

namespace nsq::flags {
namespace {

// ---------------------------------------------------------------------------------------
// Values.

absl::StatusOr<bool> ParseGoBool(std::string_view text) {
  static constexpr std::string_view kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static constexpr std::string_view kFalse[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (std::string_view t : kTrue) {
    if (text == t) return true;
  }
  for (std::string_view f : kFalse) {
    if (text == f) return false;
  }
  return absl::InvalidArgumentError("not a boolean (want true or false)");
}

std::string ConfigKeyFor(const std::string& name, std::string config_key) {
  if (!config_key.empty()) return config_key;
  return absl::StrReplaceAll(name, {{"-", "_"}});
}

// Debian's abseil is built with its own absl::string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

[[noreturn]] void DieMisuse(const std::string& message) {
  std::fprintf(stderr, "nsq::flags: %s\n", message.c_str());
  std::abort();
}

std::string TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// FlagSet.

struct FlagSet::Flag {
  using Target = std::variant<std::string*, int64_t*, int*, uint16_t*, double*, bool*,
                              absl::Duration*, std::vector<std::string>*>;

  std::string name;
  std::string config_key;
  std::string help;
  Target target;
  std::string default_text;
  bool set = false;               // Given on the command line or in the config file.
  std::optional<std::string> bare_value;  // AddBoolStyleString: the value of a bare --name.
  bool list_cli_started = false;  // A list flag was seen on this command line.

  bool is_bool() const { return std::holds_alternative<bool*>(target); }
  bool is_list() const { return std::holds_alternative<std::vector<std::string>*>(target); }

  std::string TypeName() const {
    switch (target.index()) {
      case 0:
        return "string";
      case 1:
      case 2:
        return "int";
      case 3:
        return "uint16";
      case 4:
        return "float";
      case 5:
        return "";
      case 6:
        return "duration";
      default:
        return "string";
    }
  }

  std::string CurrentText() const {
    return std::visit(
        [](auto* p) -> std::string {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return *p;
          } else if constexpr (std::is_same_v<T, bool>) {
            return *p ? "true" : "false";
          } else if constexpr (std::is_same_v<T, absl::Duration>) {
            return FormatGoDuration(*p);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            return absl::StrJoin(*p, ",");
          } else {
            return absl::StrCat(*p);
          }
        },
        target);
  }

  // Parses `text` into the target. `from_cli` makes a list flag's first value replace
  // the earlier (default or config) contents. The error says only what is wrong with
  // the value; callers add where it came from.
  absl::Status SetFromText(const std::string& text, bool from_cli) {
    return std::visit(
        [&](auto* p) -> absl::Status {
          using T = std::remove_pointer_t<decltype(p)>;
          if constexpr (std::is_same_v<T, std::string>) {
            *p = text;
          } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, int>) {
            T v;
            if (!absl::SimpleAtoi(text, &v)) {
              return absl::InvalidArgumentError(
                  std::is_same_v<T, int> ? "not an integer in range for int"
                                         : "not a 64-bit integer");
            }
            *p = v;
          } else if constexpr (std::is_same_v<T, uint16_t>) {
            int64_t v;
            if (!absl::SimpleAtoi(text, &v) || v < 0 || v > 65535) {
              return absl::InvalidArgumentError("not an integer in [0, 65535]");
            }
            *p = static_cast<uint16_t>(v);
          } else if constexpr (std::is_same_v<T, double>) {
            double v;
            if (!absl::SimpleAtod(text, &v)) {
              return absl::InvalidArgumentError("not a number");
            }
            *p = v;
          } else if constexpr (std::is_same_v<T, bool>) {
            absl::StatusOr<bool> v = ParseGoBool(text);
            if (!v.ok()) return v.status();
            *p = *v;
          } else if constexpr (std::is_same_v<T, absl::Duration>) {
            absl::StatusOr<absl::Duration> v = ParseGoDuration(text);
            if (!v.ok()) return v.status();
            *p = *v;
          } else {
            static_assert(std::is_same_v<T, std::vector<std::string>>);
            if (from_cli && !list_cli_started) {
              p->clear();
              list_cli_started = true;
            }
            p->push_back(text);
          }
          return absl::OkStatus();
        },
        target);
  }

  // Applies a TOML value; `where` prefixes errors ("config file \"x\" line 3").
  absl::Status SetFromToml(const toml::node& node, const std::string& where) {
    auto type_error = [&](std::string_view want) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": key \"", config_key,
                                                     "\" (flag --", name, "): expected ",
                                                     Sv(want), ", got ", TomlTypeName(node)));
    };
    auto value_error = [&](const absl::Status& s, std::string_view text) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": key \"", config_key,
                                                     "\" (flag --", name, "): invalid value \"",
                                                     Sv(text), "\": ", s.message()));
    };
    auto from_text = [&](const std::string& text) -> absl::Status {
      absl::Status s = SetFromText(text, /*from_cli=*/false);
      if (!s.ok()) return value_error(s, text);
      return absl::OkStatus();
    };
    const std::optional<std::string> str = node.value_exact<std::string>();
    switch (target.index()) {
      case 0:  // string
        if (const auto* b = node.as_boolean(); b != nullptr && bare_value.has_value()) {
          *std::get<std::string*>(target) = b->get() ? "true" : "false";
          return absl::OkStatus();
        }
        if (!str) return type_error("string");
        *std::get<std::string*>(target) = *str;
        return absl::OkStatus();
      case 1:  // int64
      case 2:  // int
      case 3:  // uint16
        if (const auto* i = node.as_integer()) return from_text(absl::StrCat(i->get()));
        if (str) return from_text(*str);
        return type_error("integer");
      case 4:  // double
        if (const auto* d = node.as_floating_point()) {
          *std::get<double*>(target) = d->get();
          return absl::OkStatus();
        }
        if (const auto* i = node.as_integer()) {
          *std::get<double*>(target) = static_cast<double>(i->get());
          return absl::OkStatus();
        }
        if (str) return from_text(*str);
        return type_error("number");
      case 5:  // bool
        if (const auto* b = node.as_boolean()) {
          *std::get<bool*>(target) = b->get();
          return absl::OkStatus();
        }
        if (str) return from_text(*str);
        return type_error("boolean");
      case 6:  // duration
        if (const auto* i = node.as_integer()) {
          *std::get<absl::Duration*>(target) = absl::Milliseconds(i->get());
          return absl::OkStatus();
        }
        if (str) return from_text(*str);
        return type_error("duration string or integer milliseconds");
      default: {  // string list
        auto* dst = std::get<std::vector<std::string>*>(target);
        if (str) {
          *dst = {*str};
          return absl::OkStatus();
        }
        const toml::array* array = node.as_array();
        if (array == nullptr) return type_error("array of strings");
        std::vector<std::string> values;
        for (const toml::node& element : *array) {
          std::optional<std::string> s = element.value_exact<std::string>();
          // Numbers are kept as their text: nsqd's float list keys (e2e percentiles).
          if (!s) {
            if (const auto* d = element.as_floating_point()) s = absl::StrCat(d->get());
            if (const auto* i = element.as_integer()) s = absl::StrCat(i->get());
          }
          if (!s) return type_error("array of strings");
          values.push_back(std::move(*s));
        }
        *dst = std::move(values);
        return absl::OkStatus();
      }
    }
  }
};

FlagSet::FlagSet(std::string program_name) : program_name_(std::move(program_name)) {}

FlagSet::~FlagSet() = default;

void FlagSet::Add(std::unique_ptr<Flag> flag) {
  const std::string& name = flag->name;
  if (name.empty() || name[0] == '-' || name.find('=') != std::string::npos ||
      name == "config" || name == "help" || name == "h") {
    DieMisuse(absl::StrCat("invalid flag name \"", name, "\""));
  }
  if (Find(name) != nullptr) DieMisuse(absl::StrCat("flag --", name, " registered twice"));
  flag->default_text = flag->CurrentText();
  flags_.push_back(std::move(flag));
}

FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const auto& f : flags_) {
    if (f->name == name) return f.get();
  }
  return nullptr;
}

#define NSQ_FLAGS_DEFINE_ADD(Method, Type)                                              \
  void FlagSet::Method(std::string name, Type* dst, std::string help,                   \
                       std::string config_key) {                                        \
    if (dst == nullptr) DieMisuse(absl::StrCat("flag --", name, " bound to nullptr"));  \
    auto flag = std::make_unique<Flag>();                                               \
    flag->config_key = ConfigKeyFor(name, std::move(config_key));                       \
    flag->name = std::move(name);                                                       \
    flag->help = std::move(help);                                                       \
    flag->target = dst;                                                                 \
    Add(std::move(flag));                                                               \
  }

NSQ_FLAGS_DEFINE_ADD(AddString, std::string)
NSQ_FLAGS_DEFINE_ADD(AddInt64, int64_t)
NSQ_FLAGS_DEFINE_ADD(AddInt, int)
NSQ_FLAGS_DEFINE_ADD(AddUint16, uint16_t)
NSQ_FLAGS_DEFINE_ADD(AddDouble, double)
NSQ_FLAGS_DEFINE_ADD(AddBool, bool)
NSQ_FLAGS_DEFINE_ADD(AddDuration, absl::Duration)
NSQ_FLAGS_DEFINE_ADD(AddStringList, std::vector<std::string>)

#undef NSQ_FLAGS_DEFINE_ADD

void FlagSet::AddBoolStyleString(std::string name, std::string* dst, std::string bare_value,
                                 std::string help, std::string config_key) {
  const std::string flag_name = name;
  AddString(std::move(name), dst, std::move(help), std::move(config_key));
  Find(flag_name)->bare_value = std::move(bare_value);
}

absl::Status FlagSet::Parse(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i] == nullptr ? "" : argv[i]);
  return Parse(args);
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  help_requested_ = false;
  config_file_.clear();
  positional_.clear();
  unknown_config_keys_.clear();
  for (auto& f : flags_) {
    f->set = false;
    f->list_cli_started = false;
  }

  // Pass 1: split the command line into (flag, value) pairs without applying them, so
  // that the config file, wherever --config appears, sits below every flag.
  std::vector<std::pair<Flag*, std::string>> assignments;
  bool have_config = false;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') break;  // Not a flag ("-" included).
    size_t dashes = 1;
    if (arg[1] == '-') {
      if (arg.size() == 2) {  // "--" ends the flags.
        ++i;
        break;
      }
      dashes = 2;
    }
    std::string_view body = std::string_view(arg).substr(dashes);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return absl::InvalidArgumentError(absl::StrCat("bad flag syntax: ", arg));
    }
    std::string name;
    std::string value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string_view::npos) {
      name = std::string(body.substr(0, eq));
      value = std::string(body.substr(eq + 1));
      has_value = true;
    } else {
      name = std::string(body);
    }
    if (name == "help" || name == "h") {
      help_requested_ = true;
      return absl::CancelledError("help requested");
    }
    Flag* flag = nullptr;
    if (name != "config") {
      flag = Find(name);
      if (flag == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag: --", name));
      }
    }
    if (!has_value) {
      if (flag != nullptr && flag->is_bool()) {
        value = "true";
      } else if (flag != nullptr && flag->bare_value.has_value()) {
        value = *flag->bare_value;
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag needs an argument: --", name));
      }
    }
    if (flag == nullptr) {
      config_file_ = value;
      have_config = true;
    } else {
      assignments.emplace_back(flag, std::move(value));
    }
  }
  positional_.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());

  if (have_config) {
    if (config_file_.empty()) return absl::InvalidArgumentError("--config: empty path");
    absl::Status s = LoadConfig(config_file_);
    if (!s.ok()) return s;
  }
  for (auto& [flag, value] : assignments) {
    absl::Status s = flag->SetFromText(value, /*from_cli=*/true);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid value \"", value,
                                                     "\" for flag --", flag->name, ": ",
                                                     s.message()));
    }
    flag->set = true;
  }
  return absl::OkStatus();
}

absl::Status FlagSet::LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read config file \"", path,
                                                   "\": ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read config file \"", path, "\": read error"));
  }
  toml::table table;
  try {
    table = toml::parse(contents.str(), path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed config file \"", path, "\" line ", e.source().begin.line, ", column ",
        e.source().begin.column, ": ", Sv(e.description())));
  }
  // toml::table iterates in key order; report unknown keys in file order instead.
  std::vector<std::pair<toml::source_position, std::string>> unknown;
  for (auto&& [key, node] : table) {
    const std::string key_text(key.str());
    Flag* flag = nullptr;
    for (const auto& f : flags_) {
      if (f->config_key == key_text) {
        flag = f.get();
        break;
      }
    }
    if (flag == nullptr) {
      unknown.emplace_back(key.source().begin, key_text);
      continue;
    }
    const std::string where =
        absl::StrCat("config file \"", path, "\" line ", node.source().begin.line);
    absl::Status s = flag->SetFromToml(node, where);
    if (!s.ok()) return s;
    flag->set = true;
  }
  std::sort(unknown.begin(), unknown.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line
                                        : a.first.column < b.first.column;
  });
  for (auto& [pos, key] : unknown) unknown_config_keys_.push_back(std::move(key));
  return absl::OkStatus();
}

bool FlagSet::IsSet(std::string_view name) const {
  const Flag* f = Find(name);
  return f != nullptr && f->set;
}

std::string FlagSet::Usage() const {
  std::vector<const Flag*> sorted;
  for (const auto& f : flags_) sorted.push_back(f.get());
  std::sort(sorted.begin(), sorted.end(),
            [](const Flag* a, const Flag* b) { return a->name < b->name; });

  struct Line {
    std::string left;
    std::string right;
  };
  std::vector<Line> lines;
  lines.push_back({"--config string", "path to a TOML config file"});
  for (const Flag* f : sorted) {
    Line line;
    line.left = absl::StrCat("--", f->name);
    if (std::string type = f->TypeName(); !type.empty()) absl::StrAppend(&line.left, " ", type);
    line.right = f->help;
    if (f->is_list()) absl::StrAppend(&line.right, " (may be given multiple times)");
    const std::string& d = f->default_text;
    if (!(d.empty() || d == "0" || d == "false" || d == "0s")) {
      if (std::holds_alternative<std::string*>(f->target)) {
        absl::StrAppend(&line.right, " (default \"", d, "\")");
      } else {
        absl::StrAppend(&line.right, " (default ", d, ")");
      }
    }
    lines.push_back(std::move(line));
  }
  lines.push_back({"--help", "print this help and exit"});
  size_t width = 0;
  for (const Line& l : lines) width = std::max(width, l.left.size());
  std::string out = absl::StrCat("Usage of ", program_name_, ":\n");
  for (const Line& l : lines) {
    absl::StrAppend(&out, "  ", l.left, std::string(width - l.left.size() + 2, ' '),
                    l.right, "\n");
  }
  return out;
}

}  // namespace nsq::flags
