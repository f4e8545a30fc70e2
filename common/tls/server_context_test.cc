#include "common/tls/server_context.h"

#include <openssl/ssl.h>

#include <string>

#include "common/tls/test_certs.h"
#include "gtest/gtest.h"

namespace nsq::tls {
namespace {

testing::TestCerts Certs() {
  auto certs = testing::WriteTestCerts(::testing::TempDir());
  EXPECT_TRUE(certs.ok()) << certs.status();
  return certs.ok() ? *certs : testing::TestCerts{};
}

TEST(ServerContextTest, LoadsCertificateAndSetsMinimumVersion) {
  const testing::TestCerts certs = Certs();
  auto ctx = MakeServerContext({.cert_file = certs.server_cert_file,
                                .key_file = certs.server_key_file,
                                .min_version = Version::kTls13});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*ctx)->native_handle()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode((*ctx)->native_handle()), SSL_VERIFY_NONE);
}

TEST(ServerContextTest, ClientAuthRequiresAPeerCertificate) {
  const testing::TestCerts certs = Certs();
  auto ctx = MakeServerContext({.cert_file = certs.server_cert_file,
                                .key_file = certs.server_key_file,
                                .client_auth = ClientAuth::kRequireVerify,
                                .root_ca_file = certs.ca_file});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(SSL_CTX_get_verify_mode((*ctx)->native_handle()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

TEST(ServerContextTest, MissingFilesAreInvalidArgumentNamingTheFile) {
  const testing::TestCerts certs = Certs();
  auto no_cert = MakeServerContext({.cert_file = "/nonexistent/cert.pem",
                                    .key_file = certs.server_key_file});
  EXPECT_EQ(no_cert.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_cert.status().message().find("/nonexistent/cert.pem"), std::string::npos);
  auto wrong_key = MakeServerContext({.cert_file = certs.server_cert_file,
                                      .key_file = certs.client_key_file});
  EXPECT_EQ(wrong_key.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_ca = MakeServerContext({.cert_file = certs.server_cert_file,
                                  .key_file = certs.server_key_file,
                                  .client_auth = ClientAuth::kRequireVerify,
                                  .root_ca_file = "/nonexistent/ca.pem"});
  EXPECT_EQ(no_ca.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServerContextTest, VersionNamesMatchNsqdStats) {
  EXPECT_EQ(VersionName(TLS1_VERSION), "TLS1.0");
  EXPECT_EQ(VersionName(TLS1_2_VERSION), "TLS1.2");
  EXPECT_EQ(VersionName(TLS1_3_VERSION), "TLS1.3");
}

}  // namespace
}  // namespace nsq::tls
