#include "common/grpc/server_metrics.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc/server_options.h"
#include "gtest/gtest.h"

namespace nsq::grpcutil {
namespace {

using Labels = std::map<std::string, std::string>;

// The value of the sample of family `name` whose labels include `want`; -1 if none.
double Value(const ServerMetrics& metrics, const std::string& name, const Labels& want) {
  for (const prometheus::MetricFamily& f : metrics.Collect()) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      Labels have;
      for (const auto& l : m.label) have[l.name] = l.value;
      bool match = true;
      for (const auto& [k, v] : want) match = match && have.count(k) && have[k] == v;
      if (!match) continue;
      switch (f.type) {
        case prometheus::MetricType::Counter: return m.counter.value;
        case prometheus::MetricType::Gauge: return m.gauge.value;
        case prometheus::MetricType::Histogram: return static_cast<double>(m.histogram.sample_count);
        default: return -2;
      }
    }
  }
  return -1;
}

grpc::ByteBuffer Buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// "/test.Echo/Chat" echoes every message and ends OK when the client is done writing;
// "/test.Echo/Fail" ends at once with INVALID_ARGUMENT.
class EchoService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new Reactor(ctx->method() == "/test.Echo/Fail");
  }

 private:
  class Reactor final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(bool fail) {
      if (fail) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "E_INVALID told to fail"));
      } else {
        StartRead(&buffer_);
      }
    }
    void OnReadDone(bool ok) override {
      if (ok) {
        StartWrite(&buffer_);
      } else {
        Finish(grpc::Status::OK);
      }
    }
    void OnWriteDone(bool ok) override {
      if (ok) {
        StartRead(&buffer_);
      } else {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      }
    }
    void OnDone() override { delete this; }

   private:
    grpc::ByteBuffer buffer_;
  };
};

// A server with the standard services (health: a unary Check and a server-streaming
// Watch), the echo service and the metrics, on an ephemeral loopback port; generic
// calls to it over a completion queue, one step at a time.
class ServerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    AddStandardServices(&builder);
    AddServerMetrics(&builder, metrics_);
    builder.RegisterCallbackGenericService(&echo_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    stub_ = std::make_unique<grpc::GenericStub>(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  // Waits for `tag` on the queue; its ok.
  bool Await(intptr_t tag) {
    void* got = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq_.Next(&got, &ok));
    EXPECT_EQ(got, reinterpret_cast<void*>(tag));
    return ok;
  }

  grpc::Status Unary(const std::string& method, const std::string& request) {
    grpc::ClientContext ctx;
    grpc::ByteBuffer response;
    grpc::Status status;
    auto call = stub_->PrepareUnaryCall(&ctx, method, Buffer(request), &cq_);
    call->StartCall();
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    Await(1);
    return status;
  }

  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  };
  std::unique_ptr<Stream> Open(const std::string& method) {
    auto s = std::make_unique<Stream>();
    s->call = stub_->PrepareCall(&s->ctx, method, &cq_);
    s->call->StartCall(reinterpret_cast<void*>(2));
    EXPECT_TRUE(Await(2));
    return s;
  }
  bool Write(Stream* s, const std::string& bytes) {
    s->call->Write(Buffer(bytes), reinterpret_cast<void*>(3));
    return Await(3);
  }
  bool Read(Stream* s) {
    grpc::ByteBuffer buffer;
    s->call->Read(&buffer, reinterpret_cast<void*>(4));
    return Await(4);
  }
  grpc::Status Close(Stream* s) {
    s->call->WritesDone(reinterpret_cast<void*>(5));
    Await(5);
    grpc::Status status;
    s->call->Finish(&status, reinterpret_cast<void*>(6));
    Await(6);
    return status;
  }

  // Polls (bounded) until `name{want}` is `value`: for what the server records after the
  // client already has its answer (a cancelled call ends on the server's own time).
  bool Eventually(const std::string& name, const Labels& want, double value) {
    for (int i = 0; i < 500; ++i) {
      if (Value(*metrics_, name, want) == value) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  std::shared_ptr<ServerMetrics> metrics_ = std::make_shared<ServerMetrics>();
  EchoService echo_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::CompletionQueue cq_;
};

const Labels kCheck = {{"grpc_service", "grpc.health.v1.Health"}, {"grpc_method", "Check"}, {"grpc_type", "unary"}};
const Labels kWatch = {{"grpc_service", "grpc.health.v1.Health"}, {"grpc_method", "Watch"},
                       {"grpc_type", "server_stream"}};
const Labels kChat = {{"grpc_service", "test.Echo"}, {"grpc_method", "Chat"}, {"grpc_type", "bidi_stream"}};
const Labels kFail = {{"grpc_service", "test.Echo"}, {"grpc_method", "Fail"}, {"grpc_type", "bidi_stream"}};

Labels With(Labels labels, const std::string& code) {
  labels["grpc_code"] = code;
  return labels;
}

// grpc.health.v1.HealthCheckRequest{service: "nope"}: field 1, length-delimited.
const std::string kUnknownService = std::string("\x0a\x04nope", 6);

TEST_F(ServerMetricsTest, UnaryCallsAreCountedByMethodAndStatusCode) {
  EXPECT_EQ(Value(*metrics_, "grpc_server_started_total", kCheck), -1);  // no call yet
  ASSERT_TRUE(Unary("/grpc.health.v1.Health/Check", "").ok());
  grpc::Status failed = Unary("/grpc.health.v1.Health/Check", kUnknownService);
  ASSERT_EQ(failed.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Unary("/grpc.health.v1.Health/Check", "").ok());
  // Counted before the status went out, so already there when the client has it.
  EXPECT_EQ(Value(*metrics_, "grpc_server_started_total", kCheck), 3);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kCheck, "OK")), 2);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kCheck, "NotFound")), 1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kCheck, "InvalidArgument")), -1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_msg_received_total", kCheck), 3);
  EXPECT_EQ(Value(*metrics_, "grpc_server_msg_sent_total", kCheck), 2);  // no answer to NOT_FOUND
  EXPECT_EQ(Value(*metrics_, "grpc_server_handling_seconds", kCheck), 3);
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kCheck), -1);  // unary calls are not streams
}

TEST_F(ServerMetricsTest, StreamGaugeRisesWhileAStreamIsOpenAndFallsWhenItEnds) {
  std::unique_ptr<Stream> a = Open("/test.Echo/Chat");
  ASSERT_TRUE(Write(a.get(), "ping"));
  ASSERT_TRUE(Read(a.get()));  // the server has the call
  std::unique_ptr<Stream> b = Open("/test.Echo/Chat");
  ASSERT_TRUE(Write(b.get(), "ping"));
  ASSERT_TRUE(Read(b.get()));
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kChat), 2);
  EXPECT_EQ(Value(*metrics_, "grpc_server_started_total", kChat), 2);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", kChat), -1);

  ASSERT_TRUE(Close(a.get()).ok());
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kChat), 1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kChat, "OK")), 1);
  ASSERT_TRUE(Write(b.get(), "again"));
  ASSERT_TRUE(Read(b.get()));
  ASSERT_TRUE(Close(b.get()).ok());
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kChat), 0);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kChat, "OK")), 2);
  EXPECT_EQ(Value(*metrics_, "grpc_server_msg_received_total", kChat), 3);
  EXPECT_EQ(Value(*metrics_, "grpc_server_msg_sent_total", kChat), 3);
}

TEST_F(ServerMetricsTest, AFailingStreamIsCountedWithItsCode) {
  std::unique_ptr<Stream> s = Open("/test.Echo/Fail");
  EXPECT_EQ(Close(s.get()).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Value(*metrics_, "grpc_server_started_total", kFail), 1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kFail, "InvalidArgument")), 1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_handled_total", With(kFail, "OK")), -1);
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kFail), 0);
}

TEST_F(ServerMetricsTest, AStreamTheClientCancelsLeavesTheGaugeAndIsCountedAsCanceled) {
  std::unique_ptr<Stream> s = Open("/grpc.health.v1.Health/Watch");
  ASSERT_TRUE(Write(s.get(), ""));  // HealthCheckRequest{service: ""}
  ASSERT_TRUE(Read(s.get()));       // SERVING
  EXPECT_EQ(Value(*metrics_, "grpc_server_streams_open", kWatch), 1);
  s->ctx.TryCancel();
  grpc::Status status;
  s->call->Finish(&status, reinterpret_cast<void*>(6));
  Await(6);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually("grpc_server_streams_open", kWatch, 0));
  EXPECT_TRUE(Eventually("grpc_server_handled_total", With(kWatch, "Canceled"), 1));
  EXPECT_EQ(Value(*metrics_, "grpc_server_started_total", kWatch), 1);
}

TEST(GoCodeNameTest, SpellsCodesAsGoDoes) {
  EXPECT_EQ(GoCodeName(0), "OK");
  EXPECT_EQ(GoCodeName(1), "Canceled");
  EXPECT_EQ(GoCodeName(5), "NotFound");
  EXPECT_EQ(GoCodeName(16), "Unauthenticated");
  EXPECT_EQ(GoCodeName(99), "Code(99)");
}

}  // namespace
}  // namespace nsq::grpcutil
