#include "common/names/names.h"

namespace nsq::names {
namespace {
constexpr std::string_view kEphemeral = "#ephemeral";
}

bool IsEphemeralName(std::string_view name) {
  return name.size() > kEphemeral.size() &&
         name.substr(name.size() - kEphemeral.size()) == kEphemeral;
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  std::string_view base = IsEphemeralName(name) ? name.substr(0, name.size() - kEphemeral.size()) : name;
  if (base.empty()) return false;
  for (char c : base) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace nsq::names
