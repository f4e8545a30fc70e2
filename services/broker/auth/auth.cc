#include "services/broker/auth/auth.h"

#include <re2/re2.h>

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "common/json/go_json.h"
#include "nlohmann/json.hpp"

namespace nsq::auth {

bool Authorization::IsAllowed(std::string_view topic_name, std::string_view channel) const {
  const char* need = channel.empty() ? "publish" : "subscribe";
  if (std::find(permissions.begin(), permissions.end(), need) == permissions.end()) return false;
  if (!topic || !RE2::PartialMatch(re2::StringPiece(topic_name.data(), topic_name.size()), *topic)) {
    return false;
  }
  for (const auto& re : channels) {
    if (RE2::PartialMatch(re2::StringPiece(channel.data(), channel.size()), *re)) return true;
  }
  return false;
}

bool AuthState::IsAllowed(std::string_view topic, std::string_view channel) const {
  for (const Authorization& a : authorizations) {
    if (a.IsAllowed(topic, channel)) return true;
  }
  return false;
}

absl::StatusOr<AuthState> ParseAuthReply(std::string_view body, absl::Time now) {
  using nlohmann::json;
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("auth server reply is not a JSON object");
  }
  AuthState state;
  const json ttl = doc.value("ttl", json());
  if (!ttl.is_number_integer() || ttl.get<int64_t>() <= 0) {
    return absl::InvalidArgumentError("auth server reply has no positive ttl");
  }
  state.expires = now + absl::Seconds(ttl.get<int64_t>());
  if (doc.contains("identity") && doc["identity"].is_string()) state.identity = doc["identity"];
  if (doc.contains("identity_url") && doc["identity_url"].is_string()) {
    state.identity_url = doc["identity_url"];
  }
  const json auths = doc.value("authorizations", json::array());
  if (!auths.is_array()) return absl::InvalidArgumentError("authorizations is not an array");
  auto compile = [](const json& v) -> std::shared_ptr<const re2::RE2> {
    if (!v.is_string()) return nullptr;
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(v.get<std::string>(), options);
    if (!re->ok()) return nullptr;
    return re;
  };
  for (const json& a : auths) {
    if (!a.is_object()) return absl::InvalidArgumentError("authorization is not an object");
    Authorization out;
    for (const json& p : a.value("permissions", json::array())) {
      if (!p.is_string() || (p != "subscribe" && p != "publish")) {
        return absl::InvalidArgumentError("unknown permission");
      }
      out.permissions.push_back(p);
    }
    out.topic = compile(a.value("topic", json("")));
    if (!out.topic) return absl::InvalidArgumentError("bad topic regex");
    for (const json& c : a.value("channels", json::array())) {
      auto re = compile(c);
      if (!re) return absl::InvalidArgumentError("bad channel regex");
      out.channels.push_back(std::move(re));
    }
    state.authorizations.push_back(std::move(out));
  }
  return state;
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

// Splits "http://host:port/path" (or "host:port") into host:port and path.
bool SplitEndpoint(const std::string& address, std::string* host_port, std::string* path) {
  std::string rest = address;
  if (absl::StrContains(rest, "://")) {
    if (!absl::StartsWith(rest, "http://")) return false;  // no TLS client here
    rest = rest.substr(7);
    const size_t slash = rest.find('/');
    *host_port = rest.substr(0, slash);
    *path = slash == std::string::npos ? "/" : rest.substr(slash);
  } else {
    *host_port = rest;
    *path = "/auth";
  }
  return !host_port->empty();
}

}  // namespace

absl::StatusOr<AuthState> QueryAuthServers(const AuthOptions& options,
                                           std::string_view common_name,
                                           std::string_view remote_ip, std::string_view secret,
                                           bool tls, const Clock* clock) {
  if (options.addresses.empty()) return absl::FailedPreconditionError("auth is not enabled");
  std::vector<std::string> order = options.addresses;
  std::shuffle(order.begin(), order.end(), std::mt19937(std::random_device{}()));
  const std::string tls_text = tls ? "true" : "false";
  absl::Status last = absl::UnavailableError("no auth server answered");
  for (const std::string& address : order) {
    std::string host_port, path;
    if (!SplitEndpoint(address, &host_port, &path)) {
      last = absl::InvalidArgumentError(absl::StrCat("unsupported auth address ", address));
      continue;
    }
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Accept", "application/vnd.nsq; version=1.0"}};
    absl::StatusOr<http::ClientResponse> response;
    if (options.method == "post") {
      headers.emplace_back("Content-Type", "application/json");
      // Go's encoding/json of nsqd's url.Values: keys sorted, each value a list.
      json::GoJsonWriter w;
      w.BeginObject();
      w.Key("common_name").StringArray({std::string(common_name)});
      w.Key("remote_ip").StringArray({std::string(remote_ip)});
      w.Key("secret").StringArray({std::string(secret)});
      w.Key("tls").StringArray({tls_text});
      w.EndObject();
      const std::string body = w.Release();
      response = http::HttpRequest("POST", host_port, path, body, headers, options.request_timeout);
    } else {
      const std::string target = absl::StrCat(
          path, absl::StrContains(path, "?") ? "&" : "?", "common_name=", QueryEscape(common_name),
          "&remote_ip=", QueryEscape(remote_ip), "&secret=", QueryEscape(secret), "&tls=", tls_text);
      response = http::HttpRequest("GET", host_port, target, "", headers, options.request_timeout);
    }
    if (!response.ok()) {
      last = response.status();
      continue;
    }
    if (response->status != 200) {
      last = absl::PermissionDeniedError(
          absl::StrCat("auth server ", address, " answered ", response->status));
      continue;
    }
    return ParseAuthReply(response->body, clock->Now());
  }
  return last;
}

}  // namespace nsq::auth
