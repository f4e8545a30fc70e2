#pragma once

// gRPC server metrics for every nsq-cpp gRPC port, in go-grpc-prometheus' names and
// labels (so its dashboards work), fed by a server interceptor:
//
//   grpc_server_started_total{grpc_service,grpc_method,grpc_type}            calls started
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_type,grpc_code}  calls finished, by status
//   grpc_server_msg_received_total{...}, grpc_server_msg_sent_total{...}     stream messages
//   grpc_server_handling_seconds{...}                                        histogram, start to status
//   grpc_server_streams_open{...}                                            streaming calls in progress
//
// grpc_type is unary, client_stream, server_stream or bidi_stream; grpc_code is the
// status code's name as Go spells it (OK, NotFound, InvalidArgument, ...). A method's
// series appear with its first call.

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace grpc {
class ServerBuilder;
}  // namespace grpc

namespace nsq::grpcutil {

// The counters of one server (or several: each call counts once wherever it runs).
// Thread-safe: calls update it from gRPC's threads, Collect() runs on the scraper's.
class ServerMetrics final : public prometheus::Collectable {
 public:
  ServerMetrics();
  ~ServerMetrics() override;
  std::vector<prometheus::MetricFamily> Collect() const override;

  struct Method;  // one full method name's counters (server_metrics.cc)
  // The counters of `full_method` ("/pkg.Service/Method"), created on first use; `type`
  // is grpc::internal::RpcMethod::RpcType's value. Never null; lives as long as this.
  Method* Find(const char* full_method, int type) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_ ABSL_GUARDED_BY(mu_);
};

// Counts every call of the server built by `builder` in `metrics` (an interceptor; the
// builder's only interceptor factory, so another one must be added here too). Call
// before BuildAndStart(); the server keeps `metrics` alive.
void AddServerMetrics(grpc::ServerBuilder* builder, std::shared_ptr<ServerMetrics> metrics);

// Go's name of a gRPC status code ("OK", "NotFound", ...), "Code(<n>)" past the known ones.
std::string GoCodeName(int code);

}  // namespace nsq::grpcutil
