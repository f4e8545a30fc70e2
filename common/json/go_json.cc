#include "common/json/go_json.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace nsq::json {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendUnicodeEscape(std::string* out, unsigned code) {
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(code >> shift) & 0xf]);
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t Utf8SequenceLength(absl::string_view s, size_t i, unsigned* code) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned c0 = b(i);
  size_t len;
  unsigned cp;
  if (c0 >= 0xc2 && c0 <= 0xdf) {
    len = 2;
    cp = c0 & 0x1f;
  } else if (c0 >= 0xe0 && c0 <= 0xef) {
    len = 3;
    cp = c0 & 0x0f;
  } else if (c0 >= 0xf0 && c0 <= 0xf4) {
    len = 4;
    cp = c0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  *code = cp;
  return len;
}

}  // namespace

void AppendGoJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '<':
        case '>':
        case '&': AppendUnicodeEscape(out, c); break;
        default:
          if (c < 0x20) {
            AppendUnicodeEscape(out, c);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    unsigned code = 0;
    const size_t len = Utf8SequenceLength(text, i, &code);
    if (len == 0) {
      out->append("\\ufffd");
      ++i;
    } else if (code == 0x2028 || code == 0x2029) {
      AppendUnicodeEscape(out, code);
      i += len;
    } else {
      out->append(text.data() + i, len);
      i += len;
    }
  }
  out->push_back('"');
}

void GoJsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_element_.empty()) {
    if (has_element_.back()) out_.push_back(',');
    has_element_.back() = true;
  }
}

GoJsonWriter& GoJsonWriter::BeginObject() {
  Separate();
  out_.push_back('{');
  has_element_.push_back(false);
  return *this;
}

GoJsonWriter& GoJsonWriter::EndObject() {
  out_.push_back('}');
  has_element_.pop_back();
  return *this;
}

GoJsonWriter& GoJsonWriter::BeginArray() {
  Separate();
  out_.push_back('[');
  has_element_.push_back(false);
  return *this;
}

GoJsonWriter& GoJsonWriter::EndArray() {
  out_.push_back(']');
  has_element_.pop_back();
  return *this;
}

GoJsonWriter& GoJsonWriter::Key(absl::string_view key) {
  Separate();
  AppendGoJsonString(&out_, key);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

GoJsonWriter& GoJsonWriter::String(absl::string_view value) {
  Separate();
  AppendGoJsonString(&out_, value);
  return *this;
}

GoJsonWriter& GoJsonWriter::Int(int64_t value) {
  Separate();
  absl::StrAppend(&out_, value);
  return *this;
}

GoJsonWriter& GoJsonWriter::Uint(uint64_t value) {
  Separate();
  absl::StrAppend(&out_, value);
  return *this;
}

GoJsonWriter& GoJsonWriter::Float(double value) {
  Separate();
  char buf[64];
  const double a = std::fabs(value);
  const bool exp = a != 0 && (a < 1e-6 || a >= 1e21);
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value,
                                 exp ? std::chars_format::scientific : std::chars_format::fixed);
  std::string text(buf, end);
  if (exp) {
    // Go writes e-07 as e-7 (and e+21 as is).
    const size_t n = text.size();
    if (n >= 4 && text[n - 4] == 'e' && text[n - 3] == '-' && text[n - 2] == '0') text.erase(n - 2, 1);
  }
  out_.append(text);
  return *this;
}

GoJsonWriter& GoJsonWriter::Null() {
  Separate();
  out_.append("null");
  return *this;
}

GoJsonWriter& GoJsonWriter::Bool(bool value) {
  Separate();
  out_.append(value ? "true" : "false");
  return *this;
}

GoJsonWriter& GoJsonWriter::StringArray(const std::vector<std::string>& values) {
  BeginArray();
  for (const std::string& v : values) String(v);
  return EndArray();
}

}  // namespace nsq::json
