#include "common/http/query.h"

#include "absl/strings/str_cat.h"

namespace nsq::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Debian's abseil has its own absl::string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid URL escape \"", Sv(text.substr(i, 3)), "\""));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseQuery(std::string_view raw, QueryParams* out) {
  absl::Status first_error;
  while (!raw.empty()) {
    std::string_view component = raw;
    if (size_t amp = raw.find('&'); amp != std::string_view::npos) {
      component = raw.substr(0, amp);
      raw.remove_prefix(amp + 1);
    } else {
      raw = {};
    }
    if (component.empty()) continue;
    if (component.find(';') != std::string_view::npos) {
      if (first_error.ok()) {
        first_error = absl::InvalidArgumentError("invalid semicolon separator in query");
      }
      continue;
    }
    std::string_view key = component;
    std::string_view value;
    if (size_t eq = component.find('='); eq != std::string_view::npos) {
      key = component.substr(0, eq);
      value = component.substr(eq + 1);
    }
    absl::StatusOr<std::string> k = PercentDecode(key, /*plus_as_space=*/true);
    absl::StatusOr<std::string> v = PercentDecode(value, /*plus_as_space=*/true);
    if (!k.ok() || !v.ok()) {
      if (first_error.ok()) first_error = !k.ok() ? k.status() : v.status();
      continue;
    }
    out->emplace_back(std::move(*k), std::move(*v));
  }
  return first_error;
}

}  // namespace nsq::http
