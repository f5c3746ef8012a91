// Request bodies that carry keys or passwords are wiped once parsed, and the secrets taken
// from them into SecretBytes.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/api.h"
#include "api/body.h"
#include "unit/ca/fixture.h"

namespace certward::api {
namespace {

http::Request json_request(std::string method, std::string path, const nlohmann::json& body) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  r.headers = {{"content-type", "application/json"}};
  r.body = body.dump();
  return r;
}

TEST(BodyTakeSecret, MovesTheValueOutAndWipesTheParsedCopy) {
  auto req = json_request("POST", "/x", {{"key", "-----BEGIN PRIVATE KEY-----"}, {"n", 1}});
  auto b = Body::parse(req, {"key", "n", "absent"});
  ASSERT_TRUE(b.has_value());
  auto key = b->take_secret("key");
  ASSERT_TRUE(key.has_value() && key->has_value());
  EXPECT_EQ((*key)->chars(), "-----BEGIN PRIVATE KEY-----");
  auto again = b->opt_string("key");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, std::optional<std::string>(""));
  auto absent = b->take_secret("absent");
  ASSERT_TRUE(absent.has_value());
  EXPECT_FALSE(absent->has_value());
  auto wrong = b->take_secret("n");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code, ErrorCode::kMalformed);
}

TEST(BodyParse, RefusesAMemberNamedTwice) {
  // Two readers of one body (a proxy that checks it, and this server) must read one value.
  for (const char* text :
       {R"({"name": "a", "name": "b"})", R"({"spec": {"kind": "net", "kind": "file"}})"}) {
    http::Request r = json_request("POST", "/x", nlohmann::json::object());
    r.body = text;
    auto b = Body::parse(r, {"name", "spec"});
    ASSERT_FALSE(b.has_value()) << text;
    EXPECT_EQ(b.error().code, ErrorCode::kMalformed);
    EXPECT_NE(b.error().message.find("appears twice"), std::string::npos) << b.error().message;
  }
}

class SecretBodyTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    ASSERT_TRUE(auth::AuthService::migrate(*db_).has_value());
    auto admin = auth_.bootstrap_admin("local:test");
    ASSERT_TRUE(admin.has_value() && admin->has_value());
    token_ = **admin;
    // The authorities and the RA exist only once the fixture is set up.
    const lifecycle::LifecycleDeps deps{clock_, *db_, *ra_,  *authorities_, inventory_,
                                        audit_, auth_, jobs_, wrapper_,      lifecycle_settings_};
    managed_.emplace(deps);
    campaigns_.emplace(lifecycle::CampaignDeps{deps, *managed_, profiles_, *revocation_});
    services_.emplace(Services{clock_, [this] { return db_->ping(); }, audit_, inventory_,
                               profiles_, *authorities_, *ra_, *revocation_, auth_, eab_,
                               sightings_, discovery_, *managed_, *campaigns_, metrics_,
                               limiter_, nullptr});
    router_ = make_api_router(*services_);
  }

  http::Response call(http::Request& req) {
    req.headers.emplace_back("authorization", "Bearer " + token_);
    auto m = router_->match(req.method, req.path);
    CW_CHECK(m.handler != nullptr);
    req.params = m.params;
    return (*m.handler)(req);
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
  std::optional<lifecycle::ManagedService> managed_;
  std::optional<lifecycle::CampaignService> campaigns_;
  std::optional<Services> services_;
  std::shared_ptr<http::Router> router_;
  std::string token_;
};

TEST_F(SecretBodyTest, ImportAuthorityWipesTheRequestBody) {
  const crypto::PrivateKey key = certward::testing::make_key();
  const x509::Certificate ca = certward::testing::self_signed_ca(key, "CN=Imported Root");
  auto pem = key.to_pkcs8_pem("pass phrase");
  ASSERT_TRUE(pem.has_value());
  auto req = json_request("POST", "/api/v1/authorities/import",
                          {{"name", "imported"},
                           {"certificate_pem", ca.pem()},
                           {"private_key_pem", std::string(pem->chars())},
                           {"key_passphrase", "pass phrase"}});
  const auto r = call(req);
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(req.body.empty());

  // Refused requests are wiped as well.
  auto bad = json_request("POST", "/api/v1/authorities/import",
                          {{"certificate_pem", ca.pem()},
                           {"private_key_pem", std::string(pem->chars())},
                           {"key_passphrase", "pass phrase"}});
  EXPECT_EQ(call(bad).status, 400);
  EXPECT_TRUE(bad.body.empty());
}

TEST_F(SecretBodyTest, IssueWipesTheRequestBodyThatCarriesAKeyPassword) {
  auto req = json_request("POST", "/api/v1/certificates",
                          {{"profile", "tls-server"},
                           {"key_type", "ec-p256"},
                           {"common_name", "www.example.com"},
                           {"key_password", "pass phrase"}});
  const auto r = call(req);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(req.body.empty());
  const auto answer = nlohmann::json::parse(r.body);
  const std::string key_pem = answer["private_key_pem"];
  EXPECT_TRUE(key_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  EXPECT_TRUE(crypto::parse_private_key(as_bytes(key_pem), "pass phrase").has_value());
}

}  // namespace
}  // namespace certward::api
