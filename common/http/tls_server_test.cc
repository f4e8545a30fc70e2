// HTTPS on common/http's Server: real TLS sockets on 127.0.0.1, certificates generated
// per test.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "common/tls/config.h"
#include "common/tls/test_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nsq::http {
namespace {

using tls::testing::TestCerts;

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = tls::testing::WriteTestCerts(::testing::TempDir());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }

  // Starts a TLS server whose /whoami answers "tls=<0|1> <method>".
  void StartServer(tls::ClientAuth client_auth = tls::ClientAuth::kNone,
                   tls::Version min_version = tls::Version::kTls12,
                   size_t max_body_bytes = 1024 * 1024) {
    Server::Options options;
    options.max_body_bytes = max_body_bytes;
    options.io_timeout = absl::Seconds(5);
    options.tls = tls::ServerConfig{.cert_file = certs_.server_cert_file,
                                    .key_file = certs_.server_key_file,
                                    .client_auth = client_auth,
                                    .root_ca_file = certs_.ca_file,
                                    .min_version = min_version};
    server_.emplace(options);
    server_->Handle("/whoami", [](const Request& req) {
      return Response{.body = absl::StrCat("tls=", req.tls ? 1 : 0, " ", req.method)};
    });
    ASSERT_TRUE(server_->Start().ok());
  }

  std::string HostPort() const { return absl::StrCat("127.0.0.1:", server_->port()); }

  absl::StatusOr<ClientResponse> Get(const ClientTls& client_tls, const std::string& target) {
    return HttpsRequest(client_tls, "GET", HostPort(), target);
  }

  ClientTls Trusting() const { return ClientTls{.ca_file = certs_.ca_file}; }
  ClientTls WithClientCert() const {
    return ClientTls{.ca_file = certs_.ca_file,
                     .cert_file = certs_.client_cert_file,
                     .key_file = certs_.client_key_file};
  }
  ClientTls WithUntrustedCert() const {
    return ClientTls{.ca_file = certs_.ca_file,
                     .cert_file = certs_.untrusted_cert_file,
                     .key_file = certs_.untrusted_key_file};
  }

  // A blocking OpenSSL handshake capped at `max_version`; true when it completes.
  bool HandshakeWithMaxVersion(int max_version) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_max_proto_version(ctx, max_version);
      SSL_CTX_set_security_level(ctx, 0);
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      ok = SSL_connect(ssl) == 1;
      SSL_free(ssl);
      SSL_CTX_free(ctx);
    }
    close(fd);
    return ok;
  }

  TestCerts certs_;
  std::optional<Server> server_;
};

TEST_F(TlsServerTest, ServesRequestsOverTls) {
  StartServer();
  auto resp = Get(Trusting(), "/whoami");
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "tls=1 GET");
  auto missing = Get(Trusting(), "/nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->status, 404);
}

TEST_F(TlsServerTest, PlaintextClientIsClosedWithoutAnAnswer) {
  StartServer();
  auto resp = HttpRequest("GET", HostPort(), "/whoami");
  EXPECT_FALSE(resp.ok());
  // The server still serves TLS clients afterwards.
  EXPECT_TRUE(Get(Trusting(), "/whoami").ok());
}

TEST_F(TlsServerTest, OversizedBodyGets413OverTls) {
  StartServer(tls::ClientAuth::kNone, tls::Version::kTls12, /*max_body_bytes=*/16);
  auto resp = HttpsRequest(Trusting(), "POST", HostPort(), "/whoami", std::string(1000, 'x'));
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->status, 413);
  EXPECT_EQ(resp->body, "BODY_TOO_BIG");
}

TEST_F(TlsServerTest, RequireVerifyAcceptsOnlyCertificatesFromTheRootCa) {
  StartServer(tls::ClientAuth::kRequireVerify);
  auto good = Get(WithClientCert(), "/whoami");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->body, "tls=1 GET");
  EXPECT_FALSE(Get(Trusting(), "/whoami").ok());           // no certificate
  EXPECT_FALSE(Get(WithUntrustedCert(), "/whoami").ok());  // not from the CA
}

TEST_F(TlsServerTest, RequireAcceptsAnyClientCertificateButNeedsOne) {
  StartServer(tls::ClientAuth::kRequire);
  auto untrusted = Get(WithUntrustedCert(), "/whoami");
  ASSERT_TRUE(untrusted.ok()) << untrusted.status();
  EXPECT_EQ(untrusted->status, 200);
  EXPECT_FALSE(Get(Trusting(), "/whoami").ok());
}

TEST_F(TlsServerTest, MinVersionRejectsOlderClients) {
  StartServer(tls::ClientAuth::kNone, tls::Version::kTls13);
  EXPECT_FALSE(HandshakeWithMaxVersion(TLS1_2_VERSION));
  EXPECT_TRUE(HandshakeWithMaxVersion(TLS1_3_VERSION));
}

TEST_F(TlsServerTest, OldClientsConnectWhenMinVersionAllowsThem) {
  StartServer(tls::ClientAuth::kNone, tls::Version::kTls10);
  EXPECT_TRUE(HandshakeWithMaxVersion(TLS1_2_VERSION));
}

TEST_F(TlsServerTest, UnloadableCertificateFailsStart) {
  Server::Options options;
  options.tls = tls::ServerConfig{.cert_file = "/nonexistent/server.pem",
                                  .key_file = certs_.server_key_file};
  Server server(options);
  const absl::Status st = server.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("/nonexistent/server.pem"));
}

TEST_F(TlsServerTest, StopClosesAConnectionStillInItsHandshake) {
  StartServer();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // well before the 5 s io_timeout
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char byte;
  EXPECT_LE(recv(fd, &byte, 1, 0), 0);  // closed by the server
  close(fd);
}

}  // namespace
}  // namespace nsq::http
