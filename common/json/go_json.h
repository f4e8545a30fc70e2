#pragma once

// A compact JSON writer that renders exactly what Go's encoding/json renders for the
// same values (nsqlookupd's responses): no spaces, "<", ">" and "&" escaped, invalid
// UTF-8 replaced by U+FFFD.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace nsq::json {

// Appends `text` as a Go-encoded JSON string (with the quotes).
void AppendGoJsonString(std::string* out, absl::string_view text);

// Builds one JSON value left to right. Keys and values are written in call order, so
// the caller writes struct fields in Go's declaration order (or sorted, for maps).
class GoJsonWriter {
 public:
  GoJsonWriter& BeginObject();
  GoJsonWriter& EndObject();
  GoJsonWriter& BeginArray();
  GoJsonWriter& EndArray();
  GoJsonWriter& Key(absl::string_view key);
  GoJsonWriter& String(absl::string_view value);
  GoJsonWriter& Int(int64_t value);
  GoJsonWriter& Uint(uint64_t value);
  // Go's float64 encoding: the shortest form that reads back the same, `1` not `1.0`,
  // exponent form outside [1e-6, 1e21) (`1e+21`, `1e-7`).
  GoJsonWriter& Float(double value);
  GoJsonWriter& Null();  // Go's nil slice, map or pointer
  GoJsonWriter& Bool(bool value);
  GoJsonWriter& StringArray(const std::vector<std::string>& values);

  const std::string& str() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  void Separate();

  std::string out_;
  // Per open container: whether it already has an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

}  // namespace nsq::json
