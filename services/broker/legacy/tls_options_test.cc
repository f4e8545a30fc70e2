#include "services/broker/legacy/tls_options.h"

#include "gtest/gtest.h"

namespace nsq::legacy {
namespace {

TlsOptions WithFiles() {
  TlsOptions tls;
  tls.cert_file = "cert.pem";
  tls.key_file = "key.pem";
  return tls;
}

TEST(TlsOptionsTest, NoTlsAtAllIsValid) { EXPECT_TRUE(ValidateTlsOptions(TlsOptions()).ok()); }

TEST(TlsOptionsTest, CertWithoutKeyIsRejected) {
  TlsOptions tls;
  tls.cert_file = "cert.pem";
  EXPECT_EQ(ValidateTlsOptions(tls).message(), "--tls-cert and --tls-key must be given together");
}

TEST(TlsOptionsTest, RequiringTlsWithoutCertificateIsRejectedAsNsqdDoes) {
  TlsOptions required;
  required.required = TlsRequired::kYes;
  EXPECT_EQ(ValidateTlsOptions(required).message(),
            "cannot require TLS client connections without TLS key and cert");
  TlsOptions policy;
  policy.client_auth_policy = "require";
  EXPECT_FALSE(ValidateTlsOptions(policy).ok());
}

TEST(TlsOptionsTest, UnknownPolicyOrVersionIsRejected) {
  TlsOptions policy = WithFiles();
  policy.client_auth_policy = "maybe";
  EXPECT_EQ(ValidateTlsOptions(policy).message(),
            "--tls-client-auth-policy must be require or require-verify, not maybe");
  TlsOptions version = WithFiles();
  version.min_version = "ssl3";
  EXPECT_EQ(ValidateTlsOptions(version).message(),
            "--tls-min-version must be tls1.0, tls1.1, tls1.2 or tls1.3, not ssl3");
}

TEST(TlsOptionsTest, ServerConfigCarriesFilesPolicyAndMinimumVersion) {
  TlsOptions tls = WithFiles();
  tls.root_ca_file = "ca.pem";
  tls.client_auth_policy = "require-verify";
  tls.min_version = "tls1.2";
  ASSERT_TRUE(ValidateTlsOptions(tls).ok());
  const tls::ServerConfig config = ToServerConfig(tls);
  EXPECT_EQ(config.cert_file, "cert.pem");
  EXPECT_EQ(config.key_file, "key.pem");
  EXPECT_EQ(config.root_ca_file, "ca.pem");
  EXPECT_EQ(config.client_auth, tls::ClientAuth::kRequireVerify);
  EXPECT_EQ(config.min_version, tls::Version::kTls12);
}

TEST(TlsOptionsTest, DefaultsMapToNoClientAuthAndTls10) {
  const tls::ServerConfig config = ToServerConfig(WithFiles());
  EXPECT_EQ(config.client_auth, tls::ClientAuth::kNone);
  EXPECT_EQ(config.min_version, tls::Version::kTls10);
  TlsOptions require = WithFiles();
  require.client_auth_policy = "require";
  EXPECT_EQ(ToServerConfig(require).client_auth, tls::ClientAuth::kRequire);
}

}  // namespace
}  // namespace nsq::legacy
