#include "common/metrics/metrics.h"

#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "common/http/client.h"
#include "common/http/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace nsq::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Parses sample lines ("name{labels} value") of the text format into series -> value.
std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == std::string::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
      ADD_FAILURE() << "unparseable sample line: " << line;
      continue;
    }
    samples[line.substr(0, space)] = value;
  }
  return samples;
}

std::shared_ptr<prometheus::Registry> RegistryWithCounter(double increments) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("nsq_test_messages_total")
                     .Help("Messages seen by the test.")
                     .Register(*registry);
  family.Add({{"topic", "orders"}}).Increment(increments);
  family.Add({{"topic", "emails"}});
  return registry;
}

TEST(SerializeTextTest, RendersHelpTypeAndSamples) {
  const std::string text = SerializeText(
      std::vector<std::shared_ptr<prometheus::Collectable>>{RegistryWithCounter(3)});
  EXPECT_THAT(text, HasSubstr("# HELP nsq_test_messages_total Messages seen by the test.\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE nsq_test_messages_total counter\n"));
  EXPECT_THAT(ParseSamples(text),
              UnorderedElementsAre(Pair("nsq_test_messages_total{topic=\"orders\"}", 3),
                                   Pair("nsq_test_messages_total{topic=\"emails\"}", 0)));
}

TEST(SerializeTextTest, ConcatenatesCollectablesAndSkipsExpiredWeakOnes) {
  auto counters = RegistryWithCounter(1);
  auto gauges = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge().Name("nsq_test_depth").Help("Depth.").Register(*gauges).Add({}).Set(7);
  std::vector<std::weak_ptr<prometheus::Collectable>> weak = {counters, gauges};
  {
    auto gone = std::make_shared<prometheus::Registry>();
    weak.push_back(gone);
  }
  std::map<std::string, double> samples = ParseSamples(SerializeText(weak));
  EXPECT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples["nsq_test_depth"], 7);
  EXPECT_EQ(samples["nsq_test_messages_total{topic=\"orders\"}"], 1);
}

TEST(MetricsEndpointTest, ServesRegistryAndReflectsUpdates) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& counter = prometheus::BuildCounter()
                      .Name("nsq_test_requests_total")
                      .Help("Requests.")
                      .Register(*registry)
                      .Add({{"code", "200"}});
  counter.Increment(5);

  http::Server server({});
  RegisterMetricsEndpoint(&server, {registry});
  ASSERT_TRUE(server.Start().ok());

  absl::StatusOr<http::ClientResponse> r = http::HttpRequest("GET", server.address(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(ParseSamples(r->body)["nsq_test_requests_total{code=\"200\"}"], 5);

  counter.Increment();
  r = http::HttpRequest("GET", server.address(), "/metrics");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ParseSamples(r->body)["nsq_test_requests_total{code=\"200\"}"], 6);
}

TEST(MetricsEndpointTest, RejectsWritesWith405) {
  http::Server server({});
  RegisterMetricsEndpoint(&server, {RegistryWithCounter(1)});
  ASSERT_TRUE(server.Start().ok());
  absl::StatusOr<http::ClientResponse> r =
      http::HttpRequest("POST", server.address(), "/metrics", "x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("Allow"), "GET, HEAD");
}

}  // namespace
}  // namespace nsq::metrics
