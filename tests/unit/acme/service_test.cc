// The ACME server's own pieces below the HTTP layer: replay nonces, its time and domain
// helpers, the [acme] configuration, and the EAB keys it verifies bindings with.

#include "protocols/acme/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "auth/auth.h"
#include "auth/eab.h"
#include "common/config.h"
#include "protocols/acme/acme.h"
#include "protocols/acme/nonces.h"
#include "protocols/acme/store.h"
#include "unit/ca/fixture.h"

namespace certward::protocols::acme {
namespace {

TEST(NonceStore, EachNonceIsAcceptedOnceWithinItsLifetime) {
  FakeClock clock(from_unix(1'800'000'000));
  NonceStore nonces(clock, std::chrono::seconds(60), 1000);
  const std::string a = nonces.issue();
  const std::string b = nonces.issue();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 22u) << "128 bits of base64url";
  EXPECT_TRUE(nonces.redeem(a));
  EXPECT_FALSE(nonces.redeem(a)) << "a replay";
  EXPECT_FALSE(nonces.redeem("never-issued"));
  EXPECT_FALSE(nonces.redeem(""));
  clock.advance(std::chrono::seconds(61));
  EXPECT_FALSE(nonces.redeem(b)) << "expired";
  EXPECT_EQ(nonces.outstanding(), 0u);
}

TEST(NonceStore, IsBoundedAndForgetsTheOldestFirst) {
  FakeClock clock(from_unix(1'800'000'000));
  NonceStore nonces(clock, std::chrono::hours(1), 1600);  // 100 per shard
  std::vector<std::string> issued;
  for (int i = 0; i < 5000; ++i) issued.push_back(nonces.issue());
  EXPECT_LE(nonces.outstanding(), 1600u);
  EXPECT_TRUE(nonces.redeem(issued.back())) << "the newest are kept";
  int oldest_kept = 0;
  for (int i = 0; i < 100; ++i) oldest_kept += nonces.redeem(issued[i]) ? 1 : 0;
  EXPECT_EQ(oldest_kept, 0);
}

TEST(AcmeTime, ParsesWhatClientsSendAndRefusesTheRest) {
  EXPECT_EQ(to_unix(*parse_rfc3339("2026-12-01T10:00:00Z")), 1'796'119'200);
  EXPECT_EQ(to_unix(*parse_rfc3339("2026-12-01T10:00:00.123456Z")), 1'796'119'200);
  EXPECT_EQ(to_unix(*parse_rfc3339("2026-12-01T12:00:00+02:00")), 1'796'119'200);
  EXPECT_EQ(to_unix(*parse_rfc3339("2026-12-01T08:30:00-01:30")), 1'796'119'200);
  for (const char* bad : {"", "2026-12-01", "2026-12-01T10:00:00", "2026-13-01T10:00:00Z",
                          "2026-12-01T10:00:00+0200", "2026-12-01T10:00:00Zjunk", "yesterday"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(AcmeRateLimits, CountByTheRegisteredDomain) {
  EXPECT_EQ(registered_domain({"dns", "a.b.example.com"}), "example.com");
  EXPECT_EQ(registered_domain({"dns", "*.w.example.com"}), "example.com");
  EXPECT_EQ(registered_domain({"dns", "example.com"}), "example.com");
  EXPECT_EQ(registered_domain({"dns", "localhost"}), "localhost");
  EXPECT_EQ(registered_domain({"ip", "192.0.2.1"}), "192.0.2.1");
}

// The configuration as `certward serve` loads it: parsed, then checked.
Result<Config> load(std::string_view text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("certward-acme-config-" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << text;
  }
  auto c = load_config(path.string(), {});
  std::filesystem::remove(path);
  return c;
}

TEST(AcmeConfig, DirectoriesInheritFromTheDefaultAndAreChecked) {
  auto c = load(R"(
[acme]
profiles = ["tls-server", "tls-client"]
terms_of_service = "https://pki.example.com/tos"
http01_port = 5002
resolver = "127.0.0.1:5353"
[acme.directories.partners]
external_account_required = true
[acme.directories.short]
profiles = ["tls-client"]
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->acme.http01_port, 5002);
  EXPECT_EQ(c->acme.resolver, "127.0.0.1:5353");
  const auto& partners = c->acme.directories.at("partners");
  EXPECT_TRUE(partners.external_account_required);
  EXPECT_EQ(partners.profiles, (std::vector<std::string>{"tls-server", "tls-client"}));
  EXPECT_EQ(partners.terms_of_service, "https://pki.example.com/tos");
  EXPECT_FALSE(c->acme.directory.external_account_required);
  EXPECT_EQ(c->acme.directories.at("short").profiles, std::vector<std::string>{"tls-client"});
  const auto served = Directory::of(c->acme.directory);
  EXPECT_EQ(served.prefix, "/acme");
  EXPECT_EQ(served.default_profile, "tls-server");
  EXPECT_EQ(Directory::of(c->acme.directories.at("short")).prefix, "/acme/short");
  EXPECT_EQ(Directory::of(c->acme.directories.at("short")).default_profile, "tls-client");

  for (const char* bad : {
           "[acme]\nprofiles = []",
           "[acme]\ndefault_profile = \"other\"",
           "[acme]\nhttp01_port = 0",
           "[acme]\nhttp01_port = 70000",
           "[acme]\nvalidation_retries = 11",
           "[acme]\nunknown_key = 1",
           "[acme]\norders_per_account_per_hour = -1",
           "[acme]\nterms_of_service = \"ftp://x\"",
           "[acme.directories.order]\nprofiles = [\"tls-server\"]",
           "[acme.directories.\"Bad Name\"]\nprofiles = [\"tls-server\"]",
           "[acme.directories.x]\nnonsense = true",
       }) {
    auto r = load(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << bad;
    }
  }
}

class EabKeysTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(auth::AuthService::migrate(*db_).has_value());
    ASSERT_TRUE(auth::EabKeys::migrate(*db_).has_value());
    auth::Team team;
    team.name = "web";
    team.allowed_profiles = {"tls-server"};
    team.allowed_domains = {"example.com"};
    ASSERT_TRUE(auth_.create_team(team, "local:test").has_value());
  }
  auth::AuthService auth_{clock_, *db_, audit_};
  auth::EabKeys eab_{clock_, *db_, audit_, wrapper_};
};

TEST_F(EabKeysTest, AKeyIsShownOnceSealedAtRestAndBindsOneAccount) {
  auto created = eab_.create({"web", "partners", "ingress"}, "local:test");
  ASSERT_TRUE(created.has_value()) << created.error().message;
  auto key = from_base64url(created->hmac_key);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->size(), 32u);
  auto secret = eab_.secret(created->info.kid);
  ASSERT_TRUE(secret.has_value() && secret->has_value());
  EXPECT_EQ(Bytes((*secret)->key.span().begin(), (*secret)->key.span().end()), *key);
  EXPECT_EQ((*secret)->info.team, "web");
  EXPECT_EQ((*secret)->info.directory, "partners");

  // The HMAC key is nowhere in the database in the clear.
  auto tx = db_->begin(store::TxMode::kRead);
  auto row = (*tx)->query_one("SELECT sealed_key FROM acme_eab_keys WHERE kid = ?",
                              store::params(created->info.kid));
  ASSERT_TRUE(row.has_value() && row->has_value());
  const Bytes& sealed = (*row)->blob(0);
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), key->begin(), key->end()), sealed.end());
  tx->reset();

  auto bind = [&](const char* account) -> Status {
    CW_ASSIGN_OR_RETURN(auto w, db_->begin());
    CW_RETURN_IF_ERROR(eab_.bind(*w, created->info.kid, account));
    return w->commit();
  };
  EXPECT_TRUE(bind("acct-1").has_value());
  auto second = bind("acct-2");
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  auto listed = eab_.list(std::string("web"));
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().account, "acct-1");
}

// A key names its directory by the directories' own rule: any name a directory may have, and
// none it may not.
TEST_F(EabKeysTest, DirectoryNamesFollowTheDirectoriesRule) {
  for (const char* name : {"_p", "-p", "partners", "a_b-c"}) {
    EXPECT_TRUE(eab_.create({"web", std::string(name), ""}, "local:test").has_value()) << name;
  }
  for (const char* name : {"a.b", "order", "Partners", "", "a b"}) {
    auto r = eab_.create({"web", std::string(name), ""}, "local:test");
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
  }
}

TEST_F(EabKeysTest, RevokedKeysBindNothingAndUnknownTeamsAreRefused) {
  auto created = eab_.create({"web", std::nullopt, ""}, "local:test");
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(eab_.revoke(created->info.kid, "local:test").has_value());
  auto twice = eab_.revoke(created->info.kid, "local:test");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  auto w = db_->begin();
  auto bound = eab_.bind(**w, created->info.kid, "acct-1");
  ASSERT_FALSE(bound.has_value());
  EXPECT_EQ(bound.error().code, ErrorCode::kConflict);
  w->reset();

  auto nobody = eab_.create({"nobody", std::nullopt, ""}, "local:test");
  ASSERT_FALSE(nobody.has_value());
  EXPECT_EQ(nobody.error().code, ErrorCode::kNotFound);
  auto bad = eab_.create({"Bad Team!", std::nullopt, ""}, "local:test");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  auto missing = eab_.secret("eab-none");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
}

class AcmeStoreTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(acme::migrate(*db_).has_value());
  }
  template <typename F>
  auto in_tx(F f) {
    auto tx = db_->begin();
    CW_CHECK(tx.has_value());
    auto r = f(**tx);
    CW_CHECK((*tx)->commit().has_value());
    return r;
  }
};

TEST_F(AcmeStoreTest, AnAbandonedFinalizeOrValidationCanBeStartedAgainButNotARunningOne) {
  const SysTime t0 = clock_.now();
  Order o;
  o.id = new_id();
  o.account = "acct";
  o.status = "pending";
  o.identifiers = {{"dns", "a.example.com"}};
  o.profile = "tls-server";
  o.expires = t0 + std::chrono::hours(24);
  o.created_at = t0;
  ASSERT_TRUE(in_tx([&](store::Transaction& tx) { return insert_order(tx, o); }).has_value());
  auto claim = [&](SysTime at) {
    return *in_tx([&](store::Transaction& tx) { return claim_order(tx, o.id, at); });
  };
  EXPECT_TRUE(claim(t0));
  EXPECT_FALSE(claim(t0 + std::chrono::minutes(1))) << "a finalize is running";
  EXPECT_TRUE(claim(t0 + kStaleProcessing + std::chrono::minutes(1))) << "abandoned: again";

  Authorization a;
  a.id = new_id();
  a.account = "acct";
  a.identifier = {"dns", "a.example.com"};
  a.status = "pending";
  a.expires = t0 + std::chrono::hours(24);
  Challenge c;
  c.id = new_id();
  c.type = "http-01";
  c.token = "token";
  c.status = "pending";
  a.challenges = {c};
  ASSERT_TRUE(
      in_tx([&](store::Transaction& tx) { return insert_authorization(tx, a); }).has_value());
  auto start = [&](SysTime at) {
    return *in_tx([&](store::Transaction& tx) { return start_challenge(tx, c.id, at); });
  };
  EXPECT_TRUE(start(t0));
  EXPECT_FALSE(start(t0 + std::chrono::minutes(1))) << "one validation at a time";
  EXPECT_TRUE(start(t0 + kStaleProcessing + std::chrono::minutes(1)));
  auto stored = in_tx([&](store::Transaction& tx) { return find_challenge(tx, c.id); });
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->status, "processing");
  EXPECT_EQ((*stored)->started_at, t0 + kStaleProcessing + std::chrono::minutes(1));
}

}  // namespace
}  // namespace certward::protocols::acme
