#include "common/flags/go_duration.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace nsq::flags {
namespace {

// Debian's abseil is built with its own absl::string_view, distinct from std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// ---------------------------------------------------------------------------------------
// Go durations. Ported from Go's time/format.go so that edge cases (fractions, overflow,
// "0", the two micro signs) match what NSQ users type.

constexpr uint64_t kTwoTo63 = uint64_t{1} << 63;

// Consumes [0-9]*; false on overflow of 1<<63.
bool LeadingInt(std::string_view* s, uint64_t* out) {
  uint64_t x = 0;
  size_t i = 0;
  for (; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c < '0' || c > '9') break;
    if (x > kTwoTo63 / 10) return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
    if (x > kTwoTo63) return false;
  }
  s->remove_prefix(i);
  *out = x;
  return true;
}

// Consumes [0-9]*, keeping as many digits as fit; `scale` is 10^(digits kept).
void LeadingFraction(std::string_view* s, uint64_t* out, double* scale) {
  uint64_t x = 0;
  double sc = 1;
  bool overflow = false;
  size_t i = 0;
  for (; i < s->size(); ++i) {
    const char c = (*s)[i];
    if (c < '0' || c > '9') break;
    if (overflow) continue;
    if (x > (kTwoTo63 - 1) / 10) {
      overflow = true;
      continue;
    }
    const uint64_t y = x * 10 + static_cast<uint64_t>(c - '0');
    if (y > kTwoTo63) {
      overflow = true;
      continue;
    }
    x = y;
    sc *= 10;
  }
  s->remove_prefix(i);
  *out = x;
  *scale = sc;
}

bool UnitNanos(std::string_view unit, uint64_t* nanos) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"ns", 1},
      {"us", 1000},
      {"\xC2\xB5s", 1000},  // U+00B5 micro sign
      {"\xCE\xBCs", 1000},  // U+03BC Greek small letter mu
      {"ms", 1000 * 1000},
      {"s", 1000 * 1000 * 1000},
      {"m", uint64_t{60} * 1000 * 1000 * 1000},
      {"h", uint64_t{3600} * 1000 * 1000 * 1000},
  };
  for (const auto& [name, value] : kUnits) {
    if (unit == name) {
      *nanos = value;
      return true;
    }
  }
  return false;
}

// Writes v/10^prec's fraction (".125", no trailing zeros, nothing when zero) in front of
// `*w` in buf and returns v/10^prec.
uint64_t FormatFraction(char* buf, int* w, uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    const uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) buf[--*w] = static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) buf[--*w] = '.';
  return v;
}

void FormatInt(char* buf, int* w, uint64_t v) {
  if (v == 0) {
    buf[--*w] = '0';
    return;
  }
  while (v > 0) {
    buf[--*w] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  const std::string quoted = absl::StrCat("\"", Sv(text), "\"");
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
    }
    const size_t before_int = s.size();
    uint64_t v = 0;
    if (!LeadingInt(&s, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
    }
    const bool pre = before_int != s.size();
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      const size_t before_frac = s.size();
      LeadingFraction(&s, &f, &scale);
      post = before_frac != s.size();
    }
    if (!pre && !post) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
    }
    size_t i = 0;
    while (i < s.size() && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9')) ++i;
    if (i == 0) {
      return absl::InvalidArgumentError(absl::StrCat("missing unit in duration ", quoted));
    }
    const std::string_view unit_text = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = 0;
    if (!UnitNanos(unit_text, &unit)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown unit \"", Sv(unit_text), "\" in duration ", quoted));
    }
    if (v > kTwoTo63 / unit) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
    }
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) *
                                 (static_cast<double>(unit) / scale));
      if (v > kTwoTo63) {
        return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
      }
    }
    total += v;
    if (total > kTwoTo63) {
      return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
    }
  }
  if (negative) {
    if (total == kTwoTo63) return absl::Nanoseconds(std::numeric_limits<int64_t>::min());
    return absl::Nanoseconds(-static_cast<int64_t>(total));
  }
  if (total > kTwoTo63 - 1) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration ", quoted));
  }
  return absl::Nanoseconds(static_cast<int64_t>(total));
}

std::string FormatGoDuration(absl::Duration duration) {
  const int64_t d = absl::ToInt64Nanoseconds(duration);  // Saturates.
  char buf[32];
  int w = sizeof(buf);
  const bool negative = d < 0;
  uint64_t u = negative ? -static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
  if (u < 1000 * 1000 * 1000) {
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      return "0s";
    } else if (u < 1000) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000 * 1000) {
      prec = 3;
      buf[--w] = '\xB5';  // U+00B5 micro sign, as Go prints it.
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    u = FormatFraction(buf, &w, u, prec);
    FormatInt(buf, &w, u);
  } else {
    buf[--w] = 's';
    u = FormatFraction(buf, &w, u, 9);
    FormatInt(buf, &w, u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      FormatInt(buf, &w, u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        FormatInt(buf, &w, u);
      }
    }
  }
  if (negative) buf[--w] = '-';
  return std::string(buf + w, sizeof(buf) - w);
}

}  // namespace nsq::flags
