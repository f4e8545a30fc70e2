#include "client/lookupd.h"

#include <cctype>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "common/net/host_port.h"
#include "nlohmann/json.hpp"

namespace nsq::client {
namespace {

std::string QueryEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The "data" of an enveloped reply, or the reply itself.
absl::StatusOr<nlohmann::json> Payload(std::string_view body) {
  if (body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("lookupd: bad JSON");
  if (j.contains("status_code") && j.contains("data")) {
    if (j["status_code"] != 200) return absl::UnavailableError(absl::StrCat("lookupd: ", j.value("status_txt", "")));
    return j["data"];
  }
  return j;
}

absl::StatusOr<std::string> Get(std::string_view lookupd, std::string_view default_path, std::string_view query,
                                absl::Duration timeout) {
  std::string host_port, path;
  if (auto st = SplitLookupdAddress(lookupd, default_path, &host_port, &path); !st.ok()) return st;
  if (default_path != "/lookup") path = std::string(default_path);  // a given path is /lookup's
  std::string target = path;
  if (!query.empty()) {
    target += (path.find('?') != std::string::npos ? "&" : "?");
    target += std::string(query);
  }
  auto resp = http::HttpRequest("GET", host_port, target, "", {{"Accept", "application/vnd.nsq; version=1.0"}},
                                timeout);
  if (!resp.ok()) return resp.status();
  if (resp->status == 404 && default_path == "/lookup") return std::string("{}");  // topic unknown
  if (resp->status != 200) {
    return absl::UnavailableError(absl::StrCat("lookupd ", host_port, target, ": HTTP ", resp->status));
  }
  return std::move(resp->body);
}

}  // namespace

std::string LookupdProducer::TcpAddress() const { return net::JoinHostPort(broadcast_address, tcp_port); }
std::string LookupdProducer::HttpAddress() const { return net::JoinHostPort(broadcast_address, http_port); }

absl::Status SplitLookupdAddress(std::string_view lookupd, std::string_view default_path, std::string* host_port,
                                 std::string* path) {
  std::string_view rest = lookupd;
  auto starts = [&rest](std::string_view p) { return rest.substr(0, p.size()) == p; };
  if (starts("https://")) return absl::InvalidArgumentError("https lookupd is not supported");
  if (starts("http://")) rest.remove_prefix(7);
  const size_t slash = rest.find('/');
  std::string_view hp = rest.substr(0, slash);
  if (!net::ParseHostPort(hp) || net::ParseHostPort(hp)->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad lookupd address ", std::string(lookupd)));
  }
  *host_port = std::string(hp);
  *path = slash == std::string_view::npos || rest.substr(slash) == "/" ? std::string(default_path)
                                                                      : std::string(rest.substr(slash));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LookupdProducer>> ParseLookupdProducers(std::string_view body) {
  auto j = Payload(body);
  if (!j.ok()) return j.status();
  std::vector<LookupdProducer> out;
  if (!j->contains("producers")) return out;
  const auto& ps = (*j)["producers"];
  if (!ps.is_array()) return absl::DataLossError("lookupd: producers is not an array");
  for (const auto& p : ps) {
    if (!p.is_object()) continue;
    LookupdProducer r;
    r.broadcast_address = p.value("broadcast_address", "");
    r.hostname = p.value("hostname", "");
    r.tcp_port = p.value("tcp_port", 0);
    r.http_port = p.value("http_port", 0);
    r.grpc_port = p.value("grpc_port", 0);
    r.version = p.value("version", "");
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseLookupdTopics(std::string_view body) {
  auto j = Payload(body);
  if (!j.ok()) return j.status();
  std::vector<std::string> out;
  if (!j->contains("topics") || !(*j)["topics"].is_array()) return out;
  for (const auto& t : (*j)["topics"]) {
    if (t.is_string()) out.push_back(t.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::vector<LookupdProducer>> LookupdLookup(std::string_view lookupd, std::string_view topic,
                                                         absl::Duration timeout) {
  auto body = Get(lookupd, "/lookup", absl::StrCat("topic=", QueryEscape(topic)), timeout);
  if (!body.ok()) return body.status();
  return ParseLookupdProducers(*body);
}

absl::StatusOr<std::vector<std::string>> LookupdTopics(std::string_view lookupd, absl::Duration timeout) {
  auto body = Get(lookupd, "/topics", "", timeout);
  if (!body.ok()) return body.status();
  return ParseLookupdTopics(*body);
}

absl::StatusOr<std::vector<LookupdProducer>> LookupdNodes(std::string_view lookupd, absl::Duration timeout) {
  auto body = Get(lookupd, "/nodes", "", timeout);
  if (!body.ok()) return body.status();
  return ParseLookupdProducers(*body);
}

}  // namespace nsq::client
