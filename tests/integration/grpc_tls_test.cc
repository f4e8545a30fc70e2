// TLS on the gRPC ports, end to end on loopback with certificates generated per test: the
// broker's and discovery's gRPC ports (plain TLS and mTLS), the rule that --tls-* alone
// keeps gRPC plaintext while --grpc-tls reuses those files, and every client: the client
// library's producer and consumer (fixed broker and through discovery), the broker's
// registrar toward discovery, and the admin reading brokers.

#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/loopback.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "common/http/client.h"
#include "common/tls/test_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/admin/admin_server.h"
#include "services/broker/broker_server.h"
#include "services/discovery/discovery_server.h"

namespace nsq {
namespace {

using ::testing::HasSubstr;

using testing_loopback::WaitFor;

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto certs = tls::testing::WriteTestCerts(::testing::TempDir());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void TearDown() override {
    if (admin_) admin_->Stop();
    for (auto& b : brokers_) b->Stop();
    if (discovery_) discovery_->Stop();
  }

  broker::BrokerOptions BrokerOpts() { return testing_loopback::LoopbackBroker("grpc_tls_broker"); }
  broker::BrokerOptions TlsBrokerOpts() {
    broker::BrokerOptions o = BrokerOpts();
    o.grpc_tls_cert = certs_.server_cert_file;
    o.grpc_tls_key = certs_.server_key_file;
    return o;
  }
  broker::BrokerServer* StartBroker(broker::BrokerOptions o) {
    brokers_.push_back(std::make_unique<broker::BrokerServer>(std::move(o)));
    absl::Status st = brokers_.back()->Start();
    EXPECT_TRUE(st.ok()) << st;
    return brokers_.back().get();
  }
  static std::string GrpcAddress(broker::BrokerServer* b) {
    return absl::StrCat("127.0.0.1:", b->grpc_port());
  }

  // A config that trusts the test CA (and, with `cert`, presents the client certificate).
  client::Config TlsConfig(bool cert = false) const {
    client::Config c;
    c.grpc_tls_ca_file = certs_.ca_file;
    if (cert) {
      c.grpc_tls_cert = certs_.client_cert_file;
      c.grpc_tls_key = certs_.client_key_file;
    }
    return c;
  }
  static absl::Status PublishTo(broker::BrokerServer* b, const client::Config& config,
                                const std::string& topic = "orders") {
    client::ProducerOptions o;
    o.broker_addresses = {GrpcAddress(b)};
    o.max_retries = 0;
    o.timeout = absl::Seconds(5);
    o.config = config;
    client::Producer producer(o);
    return producer.Publish(topic, "hello");
  }

  // Consumes until `want` bodies arrived (bounded); returns what came.
  std::vector<std::string> Consume(client::ConsumerOptions o, size_t want) {
    absl::Mutex mu;
    std::vector<std::string> bodies;
    client::Consumer consumer(o, [&](const client::Message& m) {
      absl::MutexLock lock(&mu);
      bodies.push_back(m.body);
      return true;
    });
    absl::Status st = consumer.Start();
    EXPECT_TRUE(st.ok()) << st;
    WaitFor([&] {
      absl::MutexLock lock(&mu);
      return bodies.size() >= want;
    });
    consumer.Stop();
    absl::MutexLock lock(&mu);
    return bodies;
  }

  discovery::DiscoveryServer* StartDiscovery(bool mtls) {
    discovery::DiscoveryOptions d = testing_loopback::LoopbackDiscovery();
    d.grpc_tls_cert = certs_.server_cert_file;
    d.grpc_tls_key = certs_.server_key_file;
    if (mtls) d.grpc_tls_client_ca = certs_.ca_file;
    discovery_ = std::make_unique<discovery::DiscoveryServer>(d);
    absl::Status st = discovery_->Start();
    EXPECT_TRUE(st.ok()) << st;
    return discovery_.get();
  }

  tls::testing::TestCerts certs_;
  std::unique_ptr<discovery::DiscoveryServer> discovery_;
  std::vector<std::unique_ptr<broker::BrokerServer>> brokers_;
  std::unique_ptr<admin::AdminServer> admin_;
};

TEST_F(GrpcTlsTest, PublishAndSubscribeOverTls) {
  broker::BrokerServer* b = StartBroker(TlsBrokerOpts());
  ASSERT_TRUE(PublishTo(b, TlsConfig()).ok());
  client::ConsumerOptions o;
  o.topic = "orders";
  o.channel = "billing";
  o.broker_addresses = {GrpcAddress(b)};
  o.config = TlsConfig();
  EXPECT_EQ(Consume(o, 1), std::vector<std::string>{"hello"});
}

TEST_F(GrpcTlsTest, PlaintextClientIsRefusedByATlsPort) {
  broker::BrokerServer* b = StartBroker(TlsBrokerOpts());
  absl::Status st = PublishTo(b, client::Config());
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_FALSE(b->engine()->GetStats({"orders", "", false}).ok());  // never created
}

TEST_F(GrpcTlsTest, ClientThatDoesNotTrustTheServerIsRefused) {
  broker::BrokerServer* b = StartBroker(TlsBrokerOpts());
  client::Config c;
  c.grpc_tls = true;  // the system's roots: the test CA is not among them
  EXPECT_EQ(PublishTo(b, c).code(), absl::StatusCode::kUnavailable);
}

TEST_F(GrpcTlsTest, MutualTlsRejectsAClientWithoutACertificate) {
  broker::BrokerOptions o = TlsBrokerOpts();
  o.grpc_tls_client_ca = certs_.ca_file;
  broker::BrokerServer* b = StartBroker(o);
  EXPECT_EQ(PublishTo(b, TlsConfig(/*cert=*/false)).code(), absl::StatusCode::kUnavailable);
  client::Config untrusted = TlsConfig();
  untrusted.grpc_tls_cert = certs_.untrusted_cert_file;
  untrusted.grpc_tls_key = certs_.untrusted_key_file;
  EXPECT_EQ(PublishTo(b, untrusted).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(PublishTo(b, TlsConfig(/*cert=*/true)).ok());
}

TEST_F(GrpcTlsTest, LegacyTlsFilesAloneKeepGrpcPlaintext) {
  broker::BrokerOptions o = BrokerOpts();
  o.tls_cert = certs_.server_cert_file;
  o.tls_key = certs_.server_key_file;
  broker::BrokerServer* b = StartBroker(o);
  EXPECT_TRUE(PublishTo(b, client::Config()).ok());
}

TEST_F(GrpcTlsTest, GrpcTlsFlagReusesTheLegacyTlsFilesAndClientPolicy) {
  broker::BrokerOptions o = BrokerOpts();
  o.tls_cert = certs_.server_cert_file;
  o.tls_key = certs_.server_key_file;
  o.tls_root_ca_file = certs_.ca_file;
  o.tls_client_auth_policy = "require-verify";
  o.grpc_tls = true;
  broker::BrokerServer* b = StartBroker(o);
  EXPECT_EQ(PublishTo(b, client::Config()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(PublishTo(b, TlsConfig(/*cert=*/false)).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(PublishTo(b, TlsConfig(/*cert=*/true)).ok());
}

TEST_F(GrpcTlsTest, GrpcTlsFlagWithTheRequirePolicyWantsAnyClientCertificate) {
  broker::BrokerOptions o = BrokerOpts();
  o.tls_cert = certs_.server_cert_file;
  o.tls_key = certs_.server_key_file;
  o.tls_client_auth_policy = "require";  // nsqd's: a certificate, not verified
  o.grpc_tls = true;
  broker::BrokerServer* b = StartBroker(o);
  EXPECT_EQ(PublishTo(b, TlsConfig(/*cert=*/false)).code(), absl::StatusCode::kUnavailable);
  client::Config untrusted = TlsConfig();
  untrusted.grpc_tls_cert = certs_.untrusted_cert_file;
  untrusted.grpc_tls_key = certs_.untrusted_key_file;
  EXPECT_TRUE(PublishTo(b, untrusted).ok());
}

TEST_F(GrpcTlsTest, BadTlsFilesStopEveryServiceAtStart) {
  broker::BrokerOptions o = BrokerOpts();
  o.grpc_tls_cert = "/nonexistent/cert.pem";
  o.grpc_tls_key = certs_.server_key_file;
  broker::BrokerServer b(o);
  absl::Status st = b.Start();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("/nonexistent/cert.pem"));

  broker::BrokerOptions no_cert = BrokerOpts();
  no_cert.grpc_tls = true;  // and no --tls-cert to reuse
  EXPECT_THAT(broker::BrokerServer(no_cert).Start().message(), HasSubstr("--grpc-tls-cert"));

  broker::BrokerOptions bad_client = BrokerOpts();
  bad_client.discovery_tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(broker::BrokerServer(bad_client).Start().message(), HasSubstr("/nonexistent/ca.pem"));

  discovery::DiscoveryOptions d;
  d.tcp_address = d.http_address = d.grpc_address = "127.0.0.1:0";
  d.grpc_tls_cert = certs_.server_cert_file;
  d.grpc_tls_key = certs_.client_key_file;  // not its key
  EXPECT_THAT(discovery::DiscoveryServer(d).Start().message(), HasSubstr("does not match"));

  admin::AdminOptions a;
  a.http_address = "127.0.0.1:0";
  a.nsqd_http_addresses = {"127.0.0.1:1"};
  a.grpc.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(admin::AdminServer(a).Start().message(), HasSubstr("/nonexistent/ca.pem"));
}

TEST_F(GrpcTlsTest, BrokerRegistersWithAMutualTlsDiscoveryAndConsumersFindIt) {
  discovery::DiscoveryServer* d = StartDiscovery(/*mtls=*/true);
  const std::string discovery_address = absl::StrCat("127.0.0.1:", d->grpc_port());
  broker::BrokerOptions o = TlsBrokerOpts();
  o.discovery_addresses = {discovery_address};
  o.discovery_tls.ca_file = certs_.ca_file;
  o.discovery_tls.cert_file = certs_.client_cert_file;
  o.discovery_tls.key_file = certs_.client_key_file;
  broker::BrokerServer* b = StartBroker(o);
  absl::Status published = PublishTo(b, TlsConfig());
  ASSERT_TRUE(published.ok()) << published;
  ASSERT_TRUE(WaitFor([&] { return d->registry()->Lookup("orders").has_value(); }));

  // A broker without a client certificate is not registered.
  broker::BrokerOptions no_cert = TlsBrokerOpts();
  no_cert.discovery_addresses = {discovery_address};
  no_cert.discovery_tls.ca_file = certs_.ca_file;
  broker::BrokerServer* lone = StartBroker(no_cert);
  absl::Status lonely = PublishTo(lone, TlsConfig(), "lonely");
  ASSERT_TRUE(lonely.ok()) << lonely;

  // The client library looks the topic up in discovery, then subscribes, both over mTLS.
  client::ConsumerOptions c;
  c.topic = "orders";
  c.channel = "billing";
  c.discovery_addresses = {discovery_address};
  c.config = TlsConfig(/*cert=*/true);
  EXPECT_EQ(Consume(c, 1), std::vector<std::string>{"hello"});
  EXPECT_FALSE(d->registry()->Lookup("lonely").has_value());
}

TEST_F(GrpcTlsTest, AdminReadsTlsBrokersThroughTlsDiscovery) {
  discovery::DiscoveryServer* d = StartDiscovery(/*mtls=*/false);
  const std::string discovery_address = absl::StrCat("127.0.0.1:", d->grpc_port());
  broker::BrokerOptions o = TlsBrokerOpts();
  o.discovery_addresses = {discovery_address};
  o.discovery_tls.ca_file = certs_.ca_file;
  broker::BrokerServer* b = StartBroker(o);
  ASSERT_TRUE(PublishTo(b, TlsConfig(), "clicks").ok());

  admin::AdminOptions a;
  a.http_address = "127.0.0.1:0";
  a.discovery_addresses = {discovery_address};
  a.stats_interval = absl::Milliseconds(100);
  a.grpc.ca_file = certs_.ca_file;
  admin_ = std::make_unique<admin::AdminServer>(a);
  ASSERT_TRUE(admin_->Start().ok());
  const std::string admin_address = absl::StrCat("127.0.0.1:", admin_->http_port());
  std::string last;
  EXPECT_TRUE(WaitFor([&] {
    auto r = http::HttpRequest("GET", admin_address, "/api/topics/clicks", "", {}, absl::Seconds(5));
    if (!r.ok()) return false;
    last = r->body;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    return r->status == 200 && !j.is_discarded() && j.value("message_count", int64_t{0}) == 1;
  })) << last;
}

}  // namespace
}  // namespace nsq
