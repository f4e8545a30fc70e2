#include "common/grpc/server_metrics.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "prometheus/client_metric.h"

namespace nsq::grpcutil {
namespace {

using grpc::experimental::InterceptionHookPoints;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr int kCodes = 17;  // OK .. UNAUTHENTICATED
// prometheus.DefBuckets, as go-grpc-prometheus' handling-time histogram.
constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

const char* TypeName(int type) {
  switch (type) {
    case 0: return "unary";
    case 1: return "client_stream";
    case 2: return "server_stream";
    case 3: return "bidi_stream";
    default: return "unknown";
  }
}

}  // namespace

struct ServerMetrics::Method {
  std::string service;
  std::string method;
  std::string type;
  bool streaming = false;
  std::atomic<uint64_t> started{0};
  std::array<std::atomic<uint64_t>, kCodes> handled{};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> sent{0};
  std::atomic<int64_t> open{0};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // not cumulative; +Inf last
  std::atomic<int64_t> sum_ns{0};

  void Handled(int code, absl::Duration took) {
    // A code gRPC does not define counts as Unknown, as gRPC itself reports it.
    handled[code >= 0 && code < kCodes ? code : static_cast<int>(grpc::StatusCode::UNKNOWN)].fetch_add(1, std::memory_order_relaxed);
    const double seconds = absl::ToDoubleSeconds(took);
    const size_t b = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
    buckets[b].fetch_add(1, std::memory_order_relaxed);
    sum_ns.fetch_add(absl::ToInt64Nanoseconds(took), std::memory_order_relaxed);
    if (streaming) open.fetch_sub(1, std::memory_order_relaxed);
  }
};

namespace {

// One per call: created when the call starts, destroyed with the call. The call ends
// for the metrics when its status is about to be sent (so a client that has the status
// sees it counted), or, if no status is ever sent, when the call is destroyed.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(ServerMetrics::Method* m, grpc::ServerContextBase* ctx)
      : m_(m), ctx_(ctx), start_(absl::Now()) {
    m_->started.fetch_add(1, std::memory_order_relaxed);
    if (m_->streaming) m_->open.fetch_add(1, std::memory_order_relaxed);
  }
  ~MetricsInterceptor() override {
    if (!done_) m_->Handled(static_cast<int>(grpc::StatusCode::CANCELLED), absl::Now() - start_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      m_->received.fetch_add(1, std::memory_order_relaxed);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      m_->sent.fetch_add(1, std::memory_order_relaxed);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !done_.exchange(true)) {
      // A call the client cancelled (or that hit its deadline) ends with whatever the
      // handler says, but the client never sees that: count what it saw.
      const grpc::StatusCode code = ctx_ != nullptr && ctx_->IsCancelled() ? grpc::StatusCode::CANCELLED
                                                                           : methods->GetSendStatus().error_code();
      m_->Handled(static_cast<int>(code), absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  ServerMetrics::Method* const m_;
  grpc::ServerContextBase* const ctx_;
  const absl::Time start_;
  // Set by the one batch that sends the status; read again only by the destructor.
  std::atomic<bool> done_{false};
};

class MetricsInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(std::shared_ptr<ServerMetrics> metrics) : metrics_(std::move(metrics)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() == nullptr) return nullptr;
    return new MetricsInterceptor(metrics_->Find(info->method(), static_cast<int>(info->type())),
                                  info->server_context());
  }

 private:
  const std::shared_ptr<ServerMetrics> metrics_;
};

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

}  // namespace

ServerMetrics::ServerMetrics() = default;
ServerMetrics::~ServerMetrics() = default;

ServerMetrics::Method* ServerMetrics::Find(const char* full_method, int type) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(full_method);
    if (it != methods_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Method>& slot = methods_[full_method];
  if (slot == nullptr) {
    slot = std::make_unique<Method>();
    absl::string_view name = full_method;
    if (!name.empty() && name[0] == '/') name.remove_prefix(1);
    const size_t slash = name.find('/');
    slot->service = std::string(name.substr(0, slash));
    slot->method = slash == absl::string_view::npos ? "" : std::string(name.substr(slash + 1));
    slot->type = TypeName(type);
    slot->streaming = type != 0;
  }
  return slot.get();
}

std::vector<MetricFamily> ServerMetrics::Collect() const {
  const auto C = MetricType::Counter;
  MetricFamily started = Family("grpc_server_started_total", "Total number of RPCs started on the server.", C);
  MetricFamily handled = Family("grpc_server_handled_total",
                                "Total number of RPCs completed on the server, regardless of success or failure.", C);
  MetricFamily received = Family("grpc_server_msg_received_total",
                                 "Total number of RPC stream messages received on the server.", C);
  MetricFamily sent = Family("grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", C);
  MetricFamily seconds = Family("grpc_server_handling_seconds",
                                "Histogram of response latency (seconds) of gRPC that had been application-level "
                                "handled by the server.",
                                MetricType::Histogram);
  MetricFamily open = Family("grpc_server_streams_open", "Streaming RPCs in progress on the server.", MetricType::Gauge);
  auto counter = [](MetricFamily* f, std::vector<ClientMetric::Label> labels, uint64_t v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(v);
    f->metric.push_back(std::move(m));
  };
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [name, m] : methods_) {
    const std::vector<ClientMetric::Label> labels = {
        {"grpc_method", m->method}, {"grpc_service", m->service}, {"grpc_type", m->type}};
    counter(&started, labels, m->started.load(std::memory_order_relaxed));
    counter(&received, labels, m->received.load(std::memory_order_relaxed));
    counter(&sent, labels, m->sent.load(std::memory_order_relaxed));
    for (int code = 0; code < kCodes; ++code) {
      const uint64_t n = m->handled[code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::vector<ClientMetric::Label> l = labels;
      l.insert(l.begin(), ClientMetric::Label{"grpc_code", GoCodeName(code)});
      counter(&handled, std::move(l), n);
    }
    ClientMetric h;
    h.label = labels;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < m->buckets.size(); ++i) {
      cumulative += m->buckets[i].load(std::memory_order_relaxed);
      ClientMetric::Bucket b;
      b.cumulative_count = cumulative;
      b.upper_bound = i < kBuckets.size() ? kBuckets[i] : std::numeric_limits<double>::infinity();
      h.histogram.bucket.push_back(b);
    }
    h.histogram.sample_count = cumulative;
    h.histogram.sample_sum = static_cast<double>(m->sum_ns.load(std::memory_order_relaxed)) / 1e9;
    seconds.metric.push_back(std::move(h));
    if (m->streaming) {
      ClientMetric g;
      g.label = labels;
      g.gauge.value = static_cast<double>(m->open.load(std::memory_order_relaxed));
      open.metric.push_back(std::move(g));
    }
  }
  return {started, handled, received, sent, seconds, open};
}

void AddServerMetrics(grpc::ServerBuilder* builder, std::shared_ptr<ServerMetrics> metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<MetricsInterceptorFactory>(std::move(metrics)));
  builder->experimental().SetInterceptorCreators(std::move(creators));
}

std::string GoCodeName(int code) {
  static constexpr const char* kNames[kCodes] = {
      "OK",           "Canceled",          "Unknown",          "InvalidArgument", "DeadlineExceeded", "NotFound",
      "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",     "OutOfRange",
      "Unimplemented", "Internal",         "Unavailable",      "DataLoss",        "Unauthenticated"};
  if (code >= 0 && code < kCodes) return kNames[code];
  return absl::StrCat("Code(", code, ")");
}

}  // namespace nsq::grpcutil
