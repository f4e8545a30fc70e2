#include "common/grpc/tls.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/flags/flags.h"
#include "common/tls/test_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::grpcutil {
namespace {

using ::testing::HasSubstr;

// Answers every method with the call's "authorization" metadata and the client
// certificate's common name: "<authorization>|<cn>".
class EchoService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(grpc::GenericCallbackServerContext* context) {
        std::string auth, cn;
        auto it = context->client_metadata().find(kAuthMetadataKey);
        if (it != context->client_metadata().end()) auth.assign(it->second.data(), it->second.size());
        if (auto ctx = context->auth_context()) {
          for (const auto& v : ctx->FindPropertyValues("x509_common_name")) cn.assign(v.data(), v.size());
        }
        grpc::Slice slice(absl::StrCat(auth, "|", cn));
        response_ = grpc::ByteBuffer(&slice, 1);
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) return Finish(grpc::Status::OK);
        StartWrite(&response_);
      }
      void OnWriteDone(bool /*ok*/) override { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer request_, response_;
    };
    return new Reactor(context);
  }
};

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = tls::testing::WriteTestCerts(::testing::TempDir());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // Starts the echo server with `options`; the port is port_.
  void StartServer(const ServerTlsOptions& options) {
    auto credentials = MakeServerCredentials(options);
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterCallbackGenericService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }

  ServerTlsOptions ServerTls() const {
    ServerTlsOptions o;
    o.cert_file = certs_.server_cert_file;
    o.key_file = certs_.server_key_file;
    return o;
  }
  ClientOptions ClientTls() const {
    ClientOptions o;
    o.ca_file = certs_.ca_file;
    return o;
  }

  // One call to the echo server; its reply in *reply.
  grpc::Status Call(const ClientOptions& options, std::string* reply = nullptr) {
    auto channel = MakeChannel(absl::StrCat("127.0.0.1:", port_), options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    grpc::GenericStub stub(*channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Slice slice(std::string("ping"));
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Mutex mu;
    bool done = false;
    grpc::Status status;
    stub.UnaryCall(&context, "/test.Echo/Call", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     absl::MutexLock lock(&mu);
                     status = std::move(s);
                     done = true;
                   });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&done));
    if (status.ok() && reply != nullptr) {
      std::vector<grpc::Slice> slices;
      (void)response.Dump(&slices);
      reply->clear();
      for (const auto& s : slices) reply->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return status;
  }

  tls::testing::TestCerts certs_;
  EchoService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcTlsTest, ClientWithTheCaReachesATlsServer) {
  StartServer(ServerTls());
  std::string reply;
  grpc::Status st = Call(ClientTls(), &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reply, "|");
}

TEST_F(GrpcTlsTest, PlaintextClientIsRefusedByATlsServer) {
  StartServer(ServerTls());
  EXPECT_EQ(Call(ClientOptions()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, ClientWithoutTheCaRejectsTheServer) {
  StartServer(ServerTls());
  ClientOptions o;
  o.ca_file = certs_.untrusted_cert_file;  // a CA that did not sign the server
  EXPECT_EQ(Call(o).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, ServerNameOverrideIsChecked) {
  StartServer(ServerTls());
  ClientOptions o = ClientTls();
  o.server_name = "localhost";  // in the certificate
  EXPECT_TRUE(Call(o).ok());
  o.server_name = "elsewhere.example";
  EXPECT_EQ(Call(o).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsRejectsAClientWithoutACertificate) {
  ServerTlsOptions s = ServerTls();
  s.client_ca_file = certs_.ca_file;
  StartServer(s);
  EXPECT_EQ(Call(ClientTls()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsRejectsAClientCertificateTheCaDidNotSign) {
  ServerTlsOptions s = ServerTls();
  s.client_ca_file = certs_.ca_file;
  StartServer(s);
  ClientOptions o = ClientTls();
  o.cert_file = certs_.untrusted_cert_file;
  o.key_file = certs_.untrusted_key_file;
  EXPECT_EQ(Call(o).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, MutualTlsAcceptsASignedClientCertificate) {
  ServerTlsOptions s = ServerTls();
  s.client_ca_file = certs_.ca_file;
  StartServer(s);
  ClientOptions o = ClientTls();
  o.cert_file = certs_.client_cert_file;
  o.key_file = certs_.client_key_file;
  std::string reply;
  grpc::Status st = Call(o, &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_THAT(reply, ::testing::StartsWith("|"));
  EXPECT_GT(reply.size(), 1u);  // the client certificate's common name
}

TEST_F(GrpcTlsTest, AuthSecretGoesAsBearerMetadataOnEveryCall) {
  StartServer(ServerTlsOptions());  // plaintext: the secret is metadata either way
  ClientOptions o;
  o.auth_secret = "s3cret";
  std::string reply;
  ASSERT_TRUE(Call(o, &reply).ok());
  EXPECT_EQ(reply, "Bearer s3cret|");
  EXPECT_EQ(SecretFromAuthMetadata("Bearer s3cret"), "s3cret");
  EXPECT_EQ(SecretFromAuthMetadata("Basic abc"), "");
}

TEST_F(GrpcTlsTest, MissingServerFilesAreClearErrors) {
  ServerTlsOptions s = ServerTls();
  s.cert_file = "/nonexistent/cert.pem";
  absl::Status st = ValidateServerTls(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("/nonexistent/cert.pem"));

  s = ServerTls();
  s.key_file = "";
  EXPECT_THAT(ValidateServerTls(s).message(), HasSubstr("together"));

  s = ServerTls();
  s.key_file = certs_.client_key_file;  // not the certificate's key
  EXPECT_THAT(ValidateServerTls(s).message(), HasSubstr("does not match"));

  s = ServerTls();
  s.client_ca_file = certs_.server_key_file;  // no certificate in it
  EXPECT_THAT(ValidateServerTls(s).message(), HasSubstr("holds no PEM certificate"));

  ServerTlsOptions ca_only;
  ca_only.client_ca_file = certs_.ca_file;
  EXPECT_EQ(ValidateServerTls(ca_only).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateServerTls(ServerTlsOptions()).ok());
}

TEST_F(GrpcTlsTest, BadClientFilesAreClearErrors) {
  ClientOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(ValidateClientOptions(o).message(), HasSubstr("/nonexistent/ca.pem"));
  o = ClientTls();
  o.cert_file = certs_.client_cert_file;
  EXPECT_THAT(ValidateClientOptions(o).message(), HasSubstr("together"));
  EXPECT_TRUE(ValidateClientOptions(ClientOptions()).ok());
  EXPECT_TRUE(ValidateClientOptions(ClientTls()).ok());
}

TEST_F(GrpcTlsTest, ClientFlagsFillTheOptions) {
  ClientOptions o;
  flags::FlagSet fs("tool");
  RegisterClientFlags(&fs, &o);
  ASSERT_TRUE(fs.Parse({"--grpc-tls-ca=ca.pem", "--grpc-tls-cert=c.pem", "--grpc-tls-key=k.pem",
                        "--grpc-tls-server-name=broker.local", "--grpc-auth-secret=xyz"})
                  .ok());
  EXPECT_EQ(o.ca_file, "ca.pem");
  EXPECT_EQ(o.cert_file, "c.pem");
  EXPECT_EQ(o.key_file, "k.pem");
  EXPECT_EQ(o.server_name, "broker.local");
  EXPECT_EQ(o.auth_secret, "xyz");
  EXPECT_TRUE(o.UseTls());

  ClientOptions bare;
  flags::FlagSet fs2("broker");
  RegisterClientFlags(&fs2, &bare, "discovery-", /*auth_secret=*/false);
  EXPECT_FALSE(bare.UseTls());
  ASSERT_TRUE(fs2.Parse({"--discovery-tls"}).ok());
  EXPECT_TRUE(bare.UseTls());
  EXPECT_FALSE(fs2.Parse({"--discovery-auth-secret=x"}).ok());
}

}  // namespace
}  // namespace nsq::grpcutil
