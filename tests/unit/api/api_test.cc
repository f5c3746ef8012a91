// The REST layer's own contracts: the OpenAPI document matches the router exactly, rate
// limiting, and the metrics exposition. (Errors map to statuses in http/problem.h, tested
// under tests/unit/http.)

#include "api/api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "unit/ca/fixture.h"

namespace certward::api {
namespace {

class ApiTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    ASSERT_TRUE(auth::AuthService::migrate(*db_).has_value());
  }
  auth::AuthService auth_{clock_, *db_, audit_};
  auth::EabKeys eab_{clock_, *db_, audit_, wrapper_};
  Metrics metrics_{clock_};
  RateLimiter limiter_{0, 0};
  inventory::Sightings sightings_{clock_, *db_};
  lifecycle::JobQueue jobs_{clock_, *db_};
  DiscoverySettings discovery_settings_;
  discovery::Discovery discovery_{discovery::DiscoveryDeps{
      clock_, *db_, inventory_, sightings_, audit_, jobs_, discovery_settings_, {}}};
  LifecycleSettings lifecycle_settings_;
  std::optional<lifecycle::ManagedService> managed_;  // the RA exists once set up
  std::optional<lifecycle::CampaignService> campaigns_;
};

std::set<std::string> documented_operations() {
  const auto doc = nlohmann::json::parse(openapi_document());
  std::set<std::string> ops;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      // Served by a front-end's own router (the ACME directories, the OCSP responder's
      // status): server_test lists them among the server's routes, and the authorization matrix
      // (tests/integration) checks those against the real server.
      if (op.contains("x-certward-router")) continue;
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      ops.insert(m + " " + path);
    }
  }
  return ops;
}

TEST_F(ApiTest, OpenApiDocumentsEveryRouteAndRoutesEveryDocumentedOperation) {
  const lifecycle::LifecycleDeps deps{clock_, *db_, *ra_,     *authorities_, inventory_,
                                      audit_, auth_, jobs_,    wrapper_,      lifecycle_settings_};
  managed_.emplace(deps);
  campaigns_.emplace(lifecycle::CampaignDeps{deps, *managed_, profiles_, *revocation_});
  Services s{clock_,     [this] { return db_->ping(); },
             audit_,     inventory_,
             profiles_,  *authorities_,
             *ra_,       *revocation_,
             auth_,      eab_,
             sightings_, discovery_,
             *managed_,  *campaigns_, metrics_,
             limiter_,   nullptr};
  auto router = make_api_router(s);
  std::set<std::string> routed;
  for (const auto& r : router->routes()) routed.insert(r.method + " " + r.pattern);
  const auto documented = documented_operations();
  for (const auto& op : routed) EXPECT_TRUE(documented.contains(op)) << "not documented: " << op;
  for (const auto& op : documented)
    EXPECT_TRUE(routed.contains(op)) << "documented, not routed: " << op;
  EXPECT_GE(routed.size(), 25u);
}

TEST(OpenApi, IsOpenApi31WithProblemSchemaAndSecurity) {
  const auto doc = nlohmann::json::parse(openapi_document());
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_TRUE(doc["components"]["schemas"].contains("Problem"));
  EXPECT_TRUE(doc["components"]["securitySchemes"].contains("bearer"));
  // Every $ref points at something that exists.
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        const std::string ref = j["$ref"];
        ASSERT_TRUE(ref.starts_with("#/"));
        const nlohmann::json* node = &doc;
        std::string path = ref.substr(2);
        std::size_t start = 0;
        while (start <= path.size()) {
          const auto slash = path.find('/', start);
          const std::string part = path.substr(start, slash - start);
          ASSERT_TRUE(node->contains(part)) << "dangling $ref " << ref;
          node = &(*node)[part];
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
}

TEST(RateLimiter, AllowsTheBurstThenRefillsAtTheRate) {
  RateLimiter limiter(2, 3);
  const auto t0 = RateLimiter::SteadyClock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(limiter.allow("a", t0).allowed);
  EXPECT_TRUE(limiter.allow("a", t0).allowed);
  EXPECT_TRUE(limiter.allow("a", t0).allowed);
  const auto refused = limiter.allow("a", t0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after.count(), 1);
  EXPECT_TRUE(limiter.allow("b", t0).allowed) << "buckets are per key";
  EXPECT_TRUE(limiter.allow("a", t0 + std::chrono::milliseconds(600)).allowed);
  EXPECT_FALSE(limiter.allow("a", t0 + std::chrono::milliseconds(600)).allowed);
}

TEST(RateLimiter, ZeroRateDisablesLimiting) {
  RateLimiter limiter(0, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.allow("a").allowed);
}

TEST_F(ApiTest, MetricsExposeRequestsIssuanceAndInventory) {
  metrics_.observe({.listener = "https",
                    .method = "POST",
                    .route = "/api/v1/certificates",
                    .status = 201,
                    .duration = std::chrono::milliseconds(3),
                    .remote_address = "127.0.0.1:1"});
  metrics_.count_issued("tls-server", "issuing");
  auto issued = ra_->enroll(request({"m.example.com"}));
  ASSERT_TRUE(issued.has_value());
  const std::string text = metrics_.render(inventory_);
  EXPECT_NE(text.find("certward_http_requests_total{listener=\"https\",method=\"POST\",route=\"/"
                      "api/v1/certificates\",status=\"201\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("certward_http_request_duration_seconds_bucket{listener=\"https\",method="
                      "\"POST\",route=\"/api/v1/certificates\",le=\"0.005\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find(
          "certward_certificates_issued_total{profile=\"tls-server\",authority=\"issuing\"} 1"),
      std::string::npos);
  // root, issuing and the leaf are valid and far from expiry.
  EXPECT_NE(text.find("certward_certificates{status=\"valid\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("certward_certificate_days_to_expiry_bucket{le=\"365\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace certward::api
