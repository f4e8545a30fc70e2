#include "services/discovery/lookupd_v1.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json/go_json.h"
#include "common/names/names.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace nsq::discovery {

using json::AppendGoJsonString;
using json::GoJsonWriter;
namespace {

constexpr absl::string_view kMagic = "  V1";

// Go's strings.TrimSpace: ASCII whitespace (Unicode spaces are not expected here).
absl::string_view TrimSpace(absl::string_view s) { return absl::StripAsciiWhitespace(s); }

// Reads a JSON field into `out` with Go's json.Unmarshal rules for a string field:
// absent or null leaves it alone; any other type is an error.
bool ReadString(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

// Same for an int field: an integer that fits, nothing else.
bool ReadInt(const nlohmann::json& j, const char* key, int* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int>(v);
    return true;
  }
  if (it->is_number_integer()) {
    *out = static_cast<int>(it->get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

void AppendV1Frame(std::string* out, absl::string_view data) {
  const uint32_t n = static_cast<uint32_t>(data.size());
  const char size[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                        static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(size, 4);
  out->append(data.data(), data.size());
}

LookupdV1Session::LookupdV1Session(Registry* registry, const LookupdInfo* info,
                                   std::string remote_address)
    : registry_(registry), info_(info), remote_address_(std::move(remote_address)) {}

LookupdV1Session::~LookupdV1Session() { Close(); }

void LookupdV1Session::Close() {
  if (identified_) {
    spdlog::info("CLIENT({}): closing", remote_address_);
    registry_->RemovePeer(remote_address_);
    identified_ = false;
  }
  state_ = State::kClosed;
  buffer_.clear();
}

bool LookupdV1Session::Fail(std::string error, std::string* out) {
  spdlog::error("[{}] - {}", remote_address_, error);
  AppendV1Frame(out, error);
  state_ = State::kClosed;
  buffer_.clear();
  return false;
}

bool LookupdV1Session::Consume(absl::string_view data, std::string* out) {
  if (state_ == State::kClosed) return false;
  buffer_.append(data.data(), data.size());
  size_t pos = 0;
  bool ok = true;
  while (ok) {
    const absl::string_view rest(buffer_.data() + pos, buffer_.size() - pos);
    if (state_ == State::kMagic) {
      if (rest.size() < kMagic.size()) break;
      if (rest.substr(0, kMagic.size()) != kMagic) {
        spdlog::error("client({}) bad protocol magic '{}'", remote_address_,
                      std::string(rest.substr(0, kMagic.size())));
        AppendV1Frame(out, "E_BAD_PROTOCOL");
        state_ = State::kClosed;
        ok = false;
        break;
      }
      pos += kMagic.size();
      state_ = State::kLine;
    } else if (state_ == State::kLine) {
      const size_t nl = rest.find('\n');
      if (nl == absl::string_view::npos) {
        if (rest.size() > kMaxLineBytes) {
          ok = Fail(absl::StrCat("E_INVALID line longer than ", kMaxLineBytes, " bytes"), out);
        }
        break;
      }
      if (nl > kMaxLineBytes) {
        ok = Fail(absl::StrCat("E_INVALID line longer than ", kMaxLineBytes, " bytes"), out);
        break;
      }
      const std::string line(rest.substr(0, nl));
      pos += nl + 1;
      ok = Exec(line, out);
    } else if (state_ == State::kIdentifySize) {
      if (rest.size() < 4) break;
      const auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(rest[i])); };
      body_size_ = static_cast<int32_t>((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3));
      pos += 4;
      if (body_size_ < 0 || body_size_ > kMaxIdentifyBodyBytes) {
        ok = Fail(absl::StrCat("E_BAD_BODY IDENTIFY invalid body size ", body_size_), out);
        break;
      }
      state_ = State::kIdentifyBody;
    } else if (state_ == State::kIdentifyBody) {
      if (rest.size() < static_cast<size_t>(body_size_)) break;
      const std::string body(rest.substr(0, body_size_));
      pos += body_size_;
      state_ = State::kLine;
      ok = FinishIdentify(body, out);
    } else {
      ok = false;
    }
  }
  if (state_ == State::kClosed) {
    buffer_.clear();
    return false;
  }
  buffer_.erase(0, pos);
  return ok;
}

bool LookupdV1Session::Exec(absl::string_view raw_line, std::string* out) {
  const absl::string_view line = TrimSpace(raw_line);
  std::vector<std::string> params = absl::StrSplit(line, ' ');
  const std::string& command = params[0];
  if (command == "PING") {
    if (identified_) registry_->Touch(remote_address_);
    AppendV1Frame(out, "OK");
    return true;
  }
  if (command == "IDENTIFY") {
    if (identified_) return Fail("E_INVALID cannot IDENTIFY again", out);
    state_ = State::kIdentifySize;
    return true;
  }
  if (command == "REGISTER" || command == "UNREGISTER") {
    if (!identified_) return Fail("E_INVALID client must IDENTIFY", out);
    if (params.size() < 2) {
      return Fail(absl::StrCat("E_INVALID ", command, " insufficient number of params"), out);
    }
    const std::string& topic = params[1];
    const std::string channel = params.size() >= 3 ? params[2] : "";
    if (!names::IsValidName(topic)) {
      return Fail(absl::StrCat("E_BAD_TOPIC ", command, " topic name '", topic, "' is not valid"),
                  out);
    }
    if (!channel.empty() && !names::IsValidName(channel)) {
      return Fail(
          absl::StrCat("E_BAD_CHANNEL ", command, " channel name '", channel, "' is not valid"),
          out);
    }
    if (command == "REGISTER") {
      spdlog::info("DB: client({}) REGISTER topic:{} channel:{}", remote_address_, topic, channel);
      registry_->Register(remote_address_, topic, channel);
    } else {
      spdlog::info("DB: client({}) UNREGISTER topic:{} channel:{}", remote_address_, topic, channel);
      registry_->Unregister(remote_address_, topic, channel);
    }
    AppendV1Frame(out, "OK");
    return true;
  }
  return Fail(absl::StrCat("E_INVALID invalid command ", command), out);
}

bool LookupdV1Session::FinishIdentify(absl::string_view body, std::string* out) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr,
                                           /*allow_exceptions=*/false);
  PeerInfo peer;
  peer.id = remote_address_;
  peer.remote_address = remote_address_;
  bool decoded = !j.is_discarded() && (j.is_object() || j.is_null());
  if (decoded && j.is_object()) {
    decoded = ReadString(j, "hostname", &peer.hostname) &&
              ReadString(j, "broadcast_address", &peer.broadcast_address) &&
              ReadInt(j, "tcp_port", &peer.tcp_port) && ReadInt(j, "http_port", &peer.http_port) &&
              ReadString(j, "version", &peer.version) &&
              ReadString(j, "topology_zone", &peer.topology_zone) &&
              ReadString(j, "topology_region", &peer.topology_region);
  }
  if (!decoded) return Fail("E_BAD_BODY IDENTIFY failed to decode JSON body", out);
  if (peer.broadcast_address.empty() || peer.tcp_port == 0 || peer.http_port == 0 ||
      peer.version.empty()) {
    return Fail("E_BAD_BODY IDENTIFY missing fields", out);
  }
  spdlog::info("CLIENT({}): IDENTIFY Address:{} TCP:{} HTTP:{} Version:{}", remote_address_,
               peer.broadcast_address, peer.tcp_port, peer.http_port, peer.version);
  if (absl::Status st = registry_->AddPeer(std::move(peer)); !st.ok()) {
    return Fail(absl::StrCat("E_INVALID ", st.message()), out);
  }
  identified_ = true;
  // A Go map: keys sorted.
  GoJsonWriter w;
  w.BeginObject()
      .Key("broadcast_address").String(info_->broadcast_address)
      .Key("hostname").String(info_->hostname)
      .Key("http_port").Int(info_->http_port)
      .Key("tcp_port").Int(info_->tcp_port)
      .Key("version").String(info_->version)
      .EndObject();
  AppendV1Frame(out, w.str());
  return true;
}

}  // namespace nsq::discovery
