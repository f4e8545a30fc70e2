// The broker's HTTPS listener (--https-address) and --tls-required on plain HTTP, over
// real TLS sockets on 127.0.0.1 with certificates generated per test.

#include <string>

#include "absl/strings/str_cat.h"
#include "common/http/client.h"
#include "common/tls/test_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/broker/broker_server.h"

namespace nsq::broker {
namespace {

using ::testing::HasSubstr;

class BrokerHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = tls::testing::WriteTestCerts(::testing::TempDir());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }

  BrokerOptions TlsOptions() {
    static int n = 0;
    BrokerOptions o;
    o.grpc_address = "127.0.0.1:0";
    o.http_address = "127.0.0.1:0";
    o.https_address = "127.0.0.1:0";
    o.tcp_address = "127.0.0.1:0";
    o.data_path = absl::StrCat(::testing::TempDir(), "/https_broker", ++n);
    o.node_id = 1;
    o.tls_cert = certs_.server_cert_file;
    o.tls_key = certs_.server_key_file;
    return o;
  }

  absl::StatusOr<http::ClientResponse> Https(const BrokerServer& server,
                                             const std::string& method,
                                             const std::string& target,
                                             const std::string& body = "",
                                             bool client_cert = false) {
    http::ClientTls tls{.ca_file = certs_.ca_file};
    if (client_cert) {
      tls.cert_file = certs_.client_cert_file;
      tls.key_file = certs_.client_key_file;
    }
    return http::HttpsRequest(tls, method, absl::StrCat("127.0.0.1:", server.https_port()),
                              target, body);
  }

  absl::StatusOr<http::ClientResponse> Plain(const BrokerServer& server,
                                             const std::string& target) {
    return http::HttpRequest("GET", absl::StrCat("127.0.0.1:", server.http_port()), target);
  }

  tls::testing::TestCerts certs_;
};

TEST_F(BrokerHttpsTest, NoHttpsListenerWithoutACertificate) {
  BrokerOptions o = TlsOptions();
  o.tls_cert.clear();
  o.tls_key.clear();
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(server.https_port(), 0);
}

TEST_F(BrokerHttpsTest, HttpsServesTheNsqdApi) {
  BrokerServer server(TlsOptions());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.https_port(), 0);
  EXPECT_NE(server.https_port(), server.http_port());

  auto ping = Https(server, "GET", "/ping");
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->body, "OK");

  auto pub = Https(server, "POST", "/pub?topic=secure", "hello");
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->status, 200);
  EXPECT_EQ(pub->body, "OK");
  EXPECT_EQ(pub->Header("X-NSQ-Content-Type"), "nsq; version=1.0");

  auto stats = Https(server, "GET", "/stats?format=json&topic=secure");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->status, 200);
  EXPECT_THAT(stats->body, HasSubstr("\"topic_name\":\"secure\""));
  EXPECT_THAT(stats->body, HasSubstr("\"message_count\":1"));

  auto bad = Https(server, "POST", "/pub?topic=bad!name", "x");
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(bad->body, "{\"message\":\"INVALID_TOPIC\"}");

  auto config = Https(server, "GET", "/config/https_address");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->body, "\"127.0.0.1:0\"");
}

TEST_F(BrokerHttpsTest, HttpsServesMetrics) {
  BrokerServer server(TlsOptions());
  ASSERT_TRUE(server.Start().ok());
  ASSERT_TRUE(server.engine()->CreateTopic("orders").ok());
  auto metrics = Https(server, "GET", "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("nsq_broker_healthy 1"));
}

TEST_F(BrokerHttpsTest, PlainHttpStaysOpenUnlessTlsIsRequired) {
  for (const char* required : {"false", "tcp-https"}) {
    BrokerOptions o = TlsOptions();
    o.tls_required = required;
    BrokerServer server(o);
    ASSERT_TRUE(server.Start().ok()) << required;
    auto ping = Plain(server, "/ping");
    ASSERT_TRUE(ping.ok()) << ping.status();
    EXPECT_EQ(ping->status, 200) << required;
    EXPECT_EQ(ping->body, "OK");
  }
}

TEST_F(BrokerHttpsTest, TlsRequiredMakesEveryPlainHttpRequestAnswer403) {
  BrokerOptions o = TlsOptions();
  o.tls_required = "true";
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  const std::string want =
      absl::StrCat("{\"message\": \"TLS_REQUIRED\", \"https_port\": ", server.https_port(), "}");
  for (const char* target : {"/ping", "/stats", "/metrics", "/config/tls_required", "/nope"}) {
    auto resp = Plain(server, target);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->status, 403) << target;
    EXPECT_EQ(resp->body, want) << target;
    EXPECT_EQ(resp->Header("X-NSQ-Content-Type"), "nsq; version=1.0") << target;
    EXPECT_EQ(resp->Header("Content-Type"), "application/json; charset=utf-8") << target;
  }
  // HTTPS serves them.
  auto ping = Https(server, "GET", "/ping");
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->status, 200);
  auto metrics = Https(server, "GET", "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
}

TEST_F(BrokerHttpsTest, RequireVerifyClientPolicyAppliesToHttps) {
  BrokerOptions o = TlsOptions();
  o.tls_client_auth_policy = "require-verify";
  o.tls_root_ca_file = certs_.ca_file;
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  auto with_cert = Https(server, "GET", "/ping", "", /*client_cert=*/true);
  ASSERT_TRUE(with_cert.ok()) << with_cert.status();
  EXPECT_EQ(with_cert->status, 200);
  EXPECT_FALSE(Https(server, "GET", "/ping").ok());  // no client certificate
  auto untrusted = http::HttpsRequest(
      {.ca_file = certs_.ca_file,
       .cert_file = certs_.untrusted_cert_file,
       .key_file = certs_.untrusted_key_file},
      "GET", absl::StrCat("127.0.0.1:", server.https_port()), "/ping");
  EXPECT_FALSE(untrusted.ok());
  // A client auth policy implies --tls-required=true (nsqd), so plain HTTP answers 403.
  auto plain = Plain(server, "/ping");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->status, 403);
}

TEST_F(BrokerHttpsTest, RequireClientPolicyAcceptsAnyCertificate) {
  BrokerOptions o = TlsOptions();
  o.tls_client_auth_policy = "require";
  BrokerServer server(o);
  ASSERT_TRUE(server.Start().ok());
  auto untrusted = http::HttpsRequest(
      {.ca_file = certs_.ca_file,
       .cert_file = certs_.untrusted_cert_file,
       .key_file = certs_.untrusted_key_file},
      "GET", absl::StrCat("127.0.0.1:", server.https_port()), "/ping");
  ASSERT_TRUE(untrusted.ok()) << untrusted.status();
  EXPECT_EQ(untrusted->status, 200);
  EXPECT_FALSE(Https(server, "GET", "/ping").ok());
}

TEST_F(BrokerHttpsTest, BusyHttpsAddressFailsStartWithAClearError) {
  BrokerServer first(TlsOptions());
  ASSERT_TRUE(first.Start().ok());
  BrokerOptions o = TlsOptions();
  o.https_address = absl::StrCat("127.0.0.1:", first.https_port());
  BrokerServer second(o);
  const absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("HTTPS listener on"));
}

}  // namespace
}  // namespace nsq::broker
