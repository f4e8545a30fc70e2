#include "tools/flags/tool_flags.h"

#include <grpcpp/grpcpp.h>

#include <cctype>
#include <iostream>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/lookupd.h"
#include "client/reachable.h"
#include "common/net/host_port.h"
#include "nsq/v1/discovery.grpc.pb.h"

namespace nsq::tools {
namespace {

constexpr absl::Duration kProbeTimeout = absl::Seconds(2);

absl::Status CheckAddresses(const std::string& flag, const std::vector<std::string>& addresses,
                            bool url_allowed) {
  for (const std::string& a : addresses) {
    std::string host_port = a;
    if (url_allowed) {
      std::string path;
      if (auto st = client::SplitLookupdAddress(a, "/lookup", &host_port, &path); !st.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", a, ": ", std::string(st.message())));
      }
    } else if (auto hp = net::ParseHostPort(a); !hp || hp->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", a, ": not a host:port address"));
    }
    if (auto st = client::CheckReachable(host_port, kProbeTimeout); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", a, ": ", std::string(st.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void SourceFlags::Register(flags::FlagSet* fs) {
  fs->AddStringList("nsqd-tcp-address", &nsqd_tcp_addresses, "nsqd TCP address (NSQ protocol V2; may be given multiple times)");
  fs->AddStringList("lookupd-http-address", &lookupd_http_addresses,
                    "lookupd HTTP address (brokers are then reached over NSQ protocol V2; may be given multiple times)");
  fs->AddStringList("broker-address", &broker_addresses, "broker gRPC address (may be given multiple times)");
  fs->AddStringList("discovery-address", &discovery_addresses,
                    "discovery gRPC address (brokers are then reached over gRPC; may be given multiple times)");
  fs->AddStringList("consumer-opt", &consumer_opts,
                    "option to passthrough to the consumer as name,value (may be given multiple times)");
  grpcutil::RegisterClientFlags(fs, &grpc_options, "grpc-");
}

absl::Status SourceFlags::Validate() const {
  const int kinds = !nsqd_tcp_addresses.empty() + !lookupd_http_addresses.empty() + !broker_addresses.empty() +
                    !discovery_addresses.empty();
  if (kinds == 0) {
    return absl::InvalidArgumentError(
        "--nsqd-tcp-address, --lookupd-http-address, --broker-address or --discovery-address required");
  }
  if (kinds > 1) {
    return absl::InvalidArgumentError(
        "use only one of --nsqd-tcp-address, --lookupd-http-address, --broker-address, --discovery-address");
  }
  client::Config c;
  for (const std::string& o : consumer_opts) {
    if (auto st = c.SetFlag(o); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--consumer-opt ", o, ": ", std::string(st.message())));
    }
  }
  if (auto st = CheckAddresses("nsqd-tcp-address", nsqd_tcp_addresses, false); !st.ok()) return st;
  if (auto st = CheckAddresses("lookupd-http-address", lookupd_http_addresses, true); !st.ok()) return st;
  if (auto st = CheckAddresses("broker-address", broker_addresses, false); !st.ok()) return st;
  if (auto st = CheckAddresses("discovery-address", discovery_addresses, false); !st.ok()) return st;
  if (auto st = grpcutil::ValidateClientOptions(grpc_options); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc-tls-*: ", std::string(st.message())));
  }
  return absl::OkStatus();
}

absl::Status SourceFlags::Apply(client::ConsumerOptions* o) const {
  o->nsqd_tcp_addresses = nsqd_tcp_addresses;
  o->lookupd_http_addresses = lookupd_http_addresses;
  o->broker_addresses = broker_addresses;
  o->discovery_addresses = discovery_addresses;
  ApplyGrpcFlags(grpc_options, &o->config);
  for (const std::string& opt : consumer_opts) {
    if (auto st = o->config.SetFlag(opt); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--consumer-opt ", opt, ": ", std::string(st.message())));
    }
  }
  return o->config.Validate();
}

absl::StatusOr<std::vector<std::string>> SourceFlags::ListTopics() const {
  std::set<std::string> topics;
  absl::Status last = absl::FailedPreconditionError("no lookupd or discovery address");
  bool any = false;
  for (const std::string& l : lookupd_http_addresses) {
    auto t = client::LookupdTopics(l, absl::Seconds(5));
    if (!t.ok()) {
      last = t.status();
      continue;
    }
    any = true;
    topics.insert(t->begin(), t->end());
  }
  for (const std::string& d : discovery_addresses) {
    auto channel = grpcutil::MakeChannel(d, grpc_options);
    if (!channel.ok()) return channel.status();
    auto stub = nsq::v1::Discovery::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    nsq::v1::ListTopicsResponse resp;
    grpc::Status st = stub->ListTopics(&ctx, nsq::v1::ListTopicsRequest(), &resp);
    if (!st.ok()) {
      last = absl::UnavailableError(absl::StrCat("discovery ", d, ": ", st.error_message()));
      continue;
    }
    any = true;
    topics.insert(resp.topics().begin(), resp.topics().end());
  }
  if (!any) return last;
  return std::vector<std::string>(topics.begin(), topics.end());
}

void DestinationFlags::Register(flags::FlagSet* fs, const std::string& prefix) {
  fs->AddStringList(prefix + "nsqd-tcp-address", &nsqd_tcp_addresses,
                    "destination nsqd TCP address (NSQ protocol V2; may be given multiple times)");
  fs->AddStringList(prefix + "broker-address", &broker_addresses,
                    "destination broker gRPC address (may be given multiple times)");
  fs->AddStringList("producer-opt", &producer_opts,
                    "option to passthrough to the producer as name,value (may be given multiple times)");
  grpcutil::RegisterClientFlags(fs, &grpc_options, prefix + "grpc-");
}

absl::Status DestinationFlags::Validate(const std::string& prefix) const {
  if (nsqd_tcp_addresses.empty() == broker_addresses.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("exactly one of --", prefix, "nsqd-tcp-address or --", prefix,
                                                   "broker-address required"));
  }
  client::Config c;
  for (const std::string& o : producer_opts) {
    if (auto st = c.SetFlag(o); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--producer-opt ", o, ": ", std::string(st.message())));
    }
  }
  if (auto st = CheckAddresses(prefix + "nsqd-tcp-address", nsqd_tcp_addresses, false); !st.ok()) return st;
  if (auto st = CheckAddresses(prefix + "broker-address", broker_addresses, false); !st.ok()) return st;
  if (auto st = grpcutil::ValidateClientOptions(grpc_options); !st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", prefix, "grpc-tls-*: ", std::string(st.message())));
  }
  return absl::OkStatus();
}

absl::Status DestinationFlags::Apply(client::ProducerOptions* o) const {
  o->nsqd_tcp_addresses = nsqd_tcp_addresses;
  o->broker_addresses = broker_addresses;
  ApplyGrpcFlags(grpc_options, &o->config);
  for (const std::string& opt : producer_opts) {
    if (auto st = o->config.SetFlag(opt); !st.ok()) return st;
  }
  return absl::OkStatus();
}

void ApplyGrpcFlags(const grpcutil::ClientOptions& grpc, client::Config* config) {
  config->grpc_tls = grpc.tls;
  config->grpc_tls_ca_file = grpc.ca_file;
  config->grpc_tls_cert = grpc.cert_file;
  config->grpc_tls_key = grpc.key_file;
  config->grpc_tls_server_name = grpc.server_name;
  if (!grpc.auth_secret.empty()) config->auth_secret = grpc.auth_secret;
}

std::optional<int> ParseFlags(flags::FlagSet& fs, int argc, char** argv, const std::string& tool) {
  absl::Status st = fs.Parse(argc, argv);
  if (fs.HelpRequested()) {
    std::cout << fs.Usage();
    return 0;
  }
  if (!st.ok()) return Fail(tool, st);
  if (!fs.positional().empty()) {
    return Fail(tool, absl::InvalidArgumentError(absl::StrCat("unexpected argument ", fs.positional()[0])));
  }
  return std::nullopt;
}

int Fail(const std::string& tool, const absl::Status& st) {
  std::cerr << tool << ": " << st.message() << std::endl;
  return 1;
}

absl::Status CheckName(const std::string& flag, const std::string& value, const std::string& kind) {
  if (IsValidName(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", value, " is not a valid ", kind, " name"));
}

absl::Status CheckTopics(const std::vector<std::string>& topics) {
  if (topics.empty()) return absl::InvalidArgumentError("--topic required");
  for (const std::string& t : topics) {
    if (absl::Status st = CheckName("topic", t, "topic"); !st.ok()) return st;
  }
  return absl::OkStatus();
}

std::string RandomTailChannel() {
  std::random_device rd;
  return absl::StrFormat("tail%06d#ephemeral", std::uniform_int_distribution<int>(0, 999998)(rd));
}

}  // namespace nsq::tools
