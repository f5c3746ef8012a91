#include "auth/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypto.h"

namespace certward::auth {
namespace {

using namespace std::chrono_literals;

// 2026-01-01T00:00:00Z
const SysTime kStart = from_unix(1767225600);

Team make_team(std::string name, std::vector<std::string> profiles = {},
               std::vector<std::string> domains = {}) {
  Team t;
  t.name = std::move(name);
  t.description = "team " + t.name;
  t.allowed_profiles = std::move(profiles);
  t.allowed_domains = std::move(domains);
  return t;
}

Principal make_principal(std::string name, Role role,
                         std::optional<std::string> team = std::nullopt) {
  Principal p;
  p.name = std::move(name);
  p.role = role;
  p.team = std::move(team);
  return p;
}

TokenRequest token_for(std::string principal, std::optional<Role> role = std::nullopt,
                       std::optional<std::string> team = std::nullopt) {
  TokenRequest r;
  r.principal = std::move(principal);
  r.role = role;
  r.team = std::move(team);
  r.description = "test token";
  return r;
}

// The token with one character of its secret replaced by another valid one.
std::string flip_secret_char(std::string token, std::size_t from_end) {
  char& c = token[token.size() - 1 - from_end];
  c = c == 'A' ? 'Q' : 'A';  // both keep the last digit canonical (low 2 bits zero)
  return token;
}

// Runs on a temporary SQLite file; when CERTWARD_TEST_POSTGRES_URL is set (e.g. under
// scripts/with-postgres.sh) the same tests run on PostgreSQL, each in a fresh schema.
class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::DatabaseConfig config;
    const char* pg = std::getenv("CERTWARD_TEST_POSTGRES_URL");
    if (pg != nullptr && *pg != '\0') {
      pg_url_ = pg;
      schema_ = "cw_auth_" + std::to_string(::getpid()) + "_" + std::to_string(++schema_count_);
      run_admin("CREATE SCHEMA " + schema_);
      config.driver = store::Driver::kPostgres;
      config.postgres_url = pg_url_ + (pg_url_.find('?') == std::string::npos ? "?" : "&") +
                            "options=-c%20search_path%3D" + schema_;
    } else {
      std::string tmpl = (std::filesystem::temp_directory_path() / "certward-auth-XXXXXX").string();
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
      dir_ = tmpl;
      config.driver = store::Driver::kSqlite;
      config.sqlite_path = (dir_ / "auth.db").string();
    }
    auto db = store::Database::open(config);
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(audit::AuditLog::migrate(*db_));
    ASSERT_TRUE(AuthService::migrate(*db_));
    audit_.emplace(clock_, *db_);
    auth_ = std::make_unique<AuthService>(clock_, *db_, *audit_);
  }

  void TearDown() override {
    auth_.reset();
    audit_.reset();
    db_.reset();
    if (!schema_.empty()) run_admin("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  void run_admin(const std::string& sql) {
    store::DatabaseConfig c;
    c.driver = store::Driver::kPostgres;
    c.postgres_url = pg_url_;
    c.pool_size = 1;
    auto admin = store::Database::open(c);
    ASSERT_TRUE(admin) << admin.error().message;
    auto tx = (*admin)->begin();
    ASSERT_TRUE(tx) << tx.error().message;
    ASSERT_TRUE((*tx)->execute(sql));
    ASSERT_TRUE((*tx)->commit());
  }

  // A team "payments" (tls-server; payments.example) and principals of every role.
  void add_people() {
    ASSERT_TRUE(
        auth_->create_team(make_team("payments", {"tls-server"}, {"payments.example"}), "test"));
    ASSERT_TRUE(auth_->create_principal(make_principal("root", Role::kAdmin), "test"));
    ASSERT_TRUE(auth_->create_principal(make_principal("ops", Role::kOperator), "test"));
    ASSERT_TRUE(
        auth_->create_principal(make_principal("alice", Role::kRequester, "payments"), "test"));
    ASSERT_TRUE(auth_->create_principal(make_principal("carol", Role::kAuditor), "test"));
  }

  std::string new_token(const TokenRequest& r) {
    auto t = auth_->create_token(r, "test");
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? t->secret : std::string();
  }

  std::vector<std::string> audit_actions() {
    audit::EventFilter f;
    f.limit = 1000;
    f.newest_first = false;
    auto events = audit_->list(f);
    EXPECT_TRUE(events);
    std::vector<std::string> out;
    if (events) {
      for (const auto& e : *events) out.push_back(e.event.action);
    }
    return out;
  }

  // Every text and blob value of every row of `table`, as strings.
  std::vector<std::string> all_values(const std::string& table) {
    auto tx = db_->begin(store::TxMode::kRead);
    EXPECT_TRUE(tx);
    std::vector<std::string> out;
    if (!tx) return out;
    auto rows = (*tx)->query("SELECT * FROM " + table);
    EXPECT_TRUE(rows);
    if (!rows) return out;
    for (const auto& row : *rows) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        const store::Value& v = row.value(i);
        if (const auto* s = std::get_if<std::string>(&v)) out.push_back(*s);
        if (const auto* b = std::get_if<Bytes>(&v)) out.emplace_back(as_chars(*b));
      }
    }
    return out;
  }

  static inline int schema_count_ = 0;
  std::string pg_url_;
  std::string schema_;
  std::filesystem::path dir_;
  FakeClock clock_{kStart};
  std::optional<audit::AuditLog> audit_;  // over db_, made in SetUp
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AuthService> auth_;
};

void expect_unauthorized(const Result<Identity>& r) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthorized);
}

// ---- roles ----

TEST(RoleMatrix, GrantsExactlyTheDocumentedPermissions) {
  using P = Permission;
  const std::vector<P> all = {P::kReadCatalog,
                              P::kReadInventory,
                              P::kIssue,
                              P::kImport,
                              P::kManageAuthorities,
                              P::kReadAudit,
                              P::kReadPrincipals,
                              P::kManagePrincipals,
                              P::kEditInventory,
                              P::kRevoke,
                              P::kScan,
                              P::kReportDiscovery,
                              P::kManage,
                              P::kCampaign,
                              P::kReceiveDeployments,
                              P::kReadPolicy,
                              P::kManagePolicy,
                              P::kApproveRequests};
  // Admins have everything but receiving an agent's deployments (whose keys go to the agent
  // named and to no one else).
  std::set<P> all_but_agents(all.begin(), all.end());
  all_but_agents.erase(P::kReceiveDeployments);
  struct Row {
    Role role;
    std::set<P> allowed;
  };
  const std::vector<Row> matrix = {
      {Role::kAdmin, {all_but_agents.begin(), all_but_agents.end()}},
      {Role::kOperator,
       {P::kReadCatalog, P::kReadInventory, P::kIssue, P::kImport, P::kManageAuthorities,
        P::kReadAudit, P::kReadPrincipals, P::kEditInventory, P::kRevoke, P::kScan,
        P::kReportDiscovery, P::kManage, P::kCampaign, P::kReadPolicy}},
      {Role::kRequester,
       {P::kReadCatalog, P::kReadInventory, P::kIssue, P::kEditInventory, P::kRevoke, P::kManage}},
      {Role::kAuditor,
       {P::kReadCatalog, P::kReadInventory, P::kReadAudit, P::kReadPrincipals, P::kReadPolicy}},
      {Role::kAgent, {P::kReportDiscovery, P::kReceiveDeployments}},
      {Role::kApprover, {P::kReadCatalog, P::kReadInventory, P::kApproveRequests}},
  };
  for (const auto& row : matrix) {
    for (P p : all) {
      EXPECT_EQ(role_allows(row.role, p), row.allowed.contains(p))
          << role_name(row.role) << " permission " << static_cast<int>(p);
    }
  }
}

TEST(RoleNames, RoundTripAndRejectUnknown) {
  for (Role r : {Role::kAdmin, Role::kOperator, Role::kRequester, Role::kAuditor, Role::kAgent,
                 Role::kApprover}) {
    EXPECT_EQ(parse_role(role_name(r)).value(), r);
  }
  auto bad = parse_role("root");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parse_role("Admin"));
}

// ---- teams and principals ----

TEST_F(AuthTest, CreatesAndListsTeams) {
  auto t = auth_->create_team(
      make_team("payments", {"tls-server", "tls-client"}, {".Payments.Example", "pay.example"}),
      "local:root");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->allowed_domains, (std::vector<std::string>{"payments.example", "pay.example"}));
  EXPECT_EQ(t->created_at, kStart);
  ASSERT_TRUE(auth_->create_team(make_team("infra"), "local:root"));

  auto teams = auth_->list_teams();
  ASSERT_TRUE(teams);
  ASSERT_EQ(teams->size(), 2u);
  EXPECT_EQ((*teams)[0].name, "infra");
  EXPECT_TRUE((*teams)[0].allowed_profiles.empty());
  EXPECT_TRUE((*teams)[0].allowed_domains.empty());
  EXPECT_EQ((*teams)[1].name, "payments");
  EXPECT_EQ((*teams)[1].description, "team payments");
  EXPECT_EQ((*teams)[1].allowed_profiles, (std::vector<std::string>{"tls-server", "tls-client"}));
  EXPECT_EQ((*teams)[1].allowed_domains,
            (std::vector<std::string>{"payments.example", "pay.example"}));
  EXPECT_EQ((*teams)[1].created_at, kStart);
}

TEST_F(AuthTest, RejectsInvalidTeams) {
  for (const Team& t : {make_team("Payments"), make_team(""), make_team("-x"),
                        make_team(std::string(65, 'a')), make_team("ok", {""}),
                        make_team("ok", {"tls server"}), make_team("ok", {}, {"*.example.com"}),
                        make_team("ok", {}, {"exa mple.com"}), make_team("ok", {}, {""})}) {
    auto r = auth_->create_team(t, "test");
    ASSERT_FALSE(r) << t.name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << t.name;
  }
  EXPECT_TRUE(auth_->list_teams()->empty());
}

TEST_F(AuthTest, DuplicateTeamIsAConflict) {
  ASSERT_TRUE(auth_->create_team(make_team("payments"), "test"));
  auto again = auth_->create_team(make_team("payments"), "test");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(AuthTest, CreatesListsAndFindsPrincipals) {
  ASSERT_TRUE(auth_->create_team(make_team("payments"), "test"));
  auto alice =
      auth_->create_principal(make_principal("alice", Role::kRequester, "payments"), "test");
  ASSERT_TRUE(alice) << alice.error().message;
  EXPECT_EQ(alice->created_at, kStart);
  ASSERT_TRUE(auth_->create_principal(make_principal("ci-deployer.1", Role::kOperator), "test"));

  auto all = auth_->list_principals();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alice");
  EXPECT_EQ((*all)[0].role, Role::kRequester);
  EXPECT_EQ((*all)[0].team, "payments");
  EXPECT_FALSE((*all)[0].disabled);
  EXPECT_EQ((*all)[1].name, "ci-deployer.1");
  EXPECT_EQ((*all)[1].role, Role::kOperator);
  EXPECT_EQ((*all)[1].team, std::nullopt);

  auto found = auth_->principal("alice");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->team, "payments");
  auto missing = auth_->principal("bob");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AuthTest, PrincipalErrors) {
  for (const char* name : {"Alice", "", "_alice", "al ice", "al/ice"}) {
    auto r = auth_->create_principal(make_principal(name, Role::kOperator), "test");
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
  }
  auto no_team = auth_->create_principal(make_principal("bob", Role::kRequester, "ghosts"), "t");
  ASSERT_FALSE(no_team);
  EXPECT_EQ(no_team.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(auth_->create_principal(make_principal("bob", Role::kOperator), "test"));
  auto dup = auth_->create_principal(make_principal("bob", Role::kAdmin), "test");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(auth_->principal("bob")->role, Role::kOperator);

  auto disable_missing = auth_->set_principal_disabled("nobody", true, "test");
  ASSERT_FALSE(disable_missing);
  EXPECT_EQ(disable_missing.error().code, ErrorCode::kNotFound);
}

// ---- tokens ----

TEST_F(AuthTest, TokenAuthenticatesWithItsRoleTeamAndActor) {
  add_people();
  auto created = auth_->create_token(token_for("ops"), "local:root");
  ASSERT_TRUE(created) << created.error().message;
  const NewToken& t = *created;
  EXPECT_EQ(t.info.id.size(), 16u);
  EXPECT_EQ(t.secret.size(), 64u);
  EXPECT_TRUE(t.secret.starts_with("cwt_" + t.info.id + "_"));
  EXPECT_EQ(t.info.principal, "ops");
  EXPECT_EQ(t.info.role, Role::kOperator);
  EXPECT_EQ(t.info.created_at, kStart);
  EXPECT_EQ(t.info.expires_at, kStart + 90 * 24h);

  auto id = auth_->authenticate_token(t.secret);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->principal, "ops");
  EXPECT_EQ(id->role, Role::kOperator);
  EXPECT_EQ(id->team, std::nullopt);
  EXPECT_EQ(id->token_id, t.info.id);
  EXPECT_EQ(id->actor, "token:" + t.info.id);
  EXPECT_FALSE(id->scope.has_value());

  // A second call (served from the cache) says the same.
  auto again = auth_->authenticate_token(t.secret);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->actor, id->actor);
  EXPECT_EQ(again->role, Role::kOperator);
}

TEST_F(AuthTest, AdminMayMintALowerRoleTokenForAnyTeam) {
  add_people();
  const std::string audit_token = new_token(token_for("root", Role::kAuditor));
  auto a = auth_->authenticate_token(audit_token);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->role, Role::kAuditor);
  EXPECT_EQ(a->principal, "root");

  const std::string req = new_token(token_for("root", Role::kRequester, "payments"));
  auto r = auth_->authenticate_token(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->role, Role::kRequester);
  EXPECT_EQ(r->team, "payments");
  ASSERT_TRUE(r->scope.has_value());
  EXPECT_EQ(r->scope->profiles, std::vector<std::string>{"tls-server"});
}

TEST_F(AuthTest, TamperedTokenIsUnauthorized) {
  add_people();
  const std::string token = new_token(token_for("ops"));
  ASSERT_TRUE(auth_->authenticate_token(token));
  expect_unauthorized(auth_->authenticate_token(flip_secret_char(token, 5)));
  expect_unauthorized(auth_->authenticate_token(flip_secret_char(token, 0)));
  std::string other_id = token;
  other_id[4] = other_id[4] == 'a' ? 'b' : 'a';
  expect_unauthorized(auth_->authenticate_token(other_id));
  // The real one still works.
  EXPECT_TRUE(auth_->authenticate_token(token));
}

TEST_F(AuthTest, MalformedTokensAreUnauthorized) {
  add_people();
  const std::string token = new_token(token_for("ops"));
  const std::string secret = token.substr(21);
  for (const std::string& bad :
       {std::string(), std::string("cwt_"), "Bearer " + token, "cwu_" + token.substr(4),
        token.substr(0, 63), token + "x", token.substr(4), std::string(64, 'a'),
        "cwt_" + token.substr(4, 16) + "-" + secret, token + '\0'}) {
    expect_unauthorized(auth_->authenticate_token(bad));
  }
}

TEST_F(AuthTest, ExpiredTokenIsUnauthorizedEvenWhenCached) {
  add_people();
  TokenRequest r = token_for("ops");
  r.ttl = 1h;
  const std::string token = new_token(r);
  clock_.advance(1h - 2s);
  ASSERT_TRUE(auth_->authenticate_token(token));  // now cached
  clock_.advance(1s);
  EXPECT_TRUE(auth_->authenticate_token(token));
  clock_.advance(1s);  // expires_at == now: expired, although within the cache TTL
  expect_unauthorized(auth_->authenticate_token(token));
  clock_.advance(24h);
  expect_unauthorized(auth_->authenticate_token(token));
}

TEST_F(AuthTest, TokenLifetimeRules) {
  add_people();
  TokenRequest forever = token_for("ops");
  forever.no_expiry = true;
  auto f = auth_->create_token(forever, "test");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->info.expires_at, std::nullopt);
  clock_.advance(5 * 365 * 24h);
  EXPECT_TRUE(auth_->authenticate_token(f->secret));

  TokenRequest two_years = token_for("ops");
  two_years.ttl = 2 * 365 * 24h;
  EXPECT_TRUE(auth_->create_token(two_years, "test"));

  for (auto ttl : {std::chrono::seconds(2 * 365 * 24h + 1s), std::chrono::seconds(0s),
                   std::chrono::seconds(-5s)}) {
    TokenRequest bad = token_for("ops");
    bad.ttl = ttl;
    auto r = auth_->create_token(bad, "test");
    ASSERT_FALSE(r) << ttl.count();
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  TokenRequest both = token_for("ops");
  both.ttl = 1h;
  both.no_expiry = true;
  EXPECT_FALSE(auth_->create_token(both, "test"));
}

TEST_F(AuthTest, RevokedTokenIsUnauthorizedImmediately) {
  add_people();
  auto t = auth_->create_token(token_for("ops"), "test");
  ASSERT_TRUE(t);
  ASSERT_TRUE(auth_->authenticate_token(t->secret));  // cached for kCacheTtl
  ASSERT_TRUE(auth_->revoke_token(t->info.id, "local:root"));
  expect_unauthorized(auth_->authenticate_token(t->secret));

  auto listed = auth_->list_tokens("ops");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].revoked_at, kStart);

  EXPECT_TRUE(auth_->revoke_token(t->info.id, "local:root"));  // idempotent
  auto missing = auth_->revoke_token("0000000000000000", "local:root");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(AuthTest, DisabledPrincipalIsUnauthorized) {
  add_people();
  const std::string token = new_token(token_for("ops"));
  ASSERT_TRUE(auth_->authenticate_token(token));  // cached
  ASSERT_TRUE(auth_->set_principal_disabled("ops", true, "local:root"));
  EXPECT_TRUE(auth_->principal("ops")->disabled);
  expect_unauthorized(auth_->authenticate_token(token));

  auto mint = auth_->create_token(token_for("ops"), "test");
  ASSERT_FALSE(mint);
  EXPECT_EQ(mint.error().code, ErrorCode::kPolicyRejected);

  ASSERT_TRUE(auth_->set_principal_disabled("ops", false, "local:root"));
  EXPECT_TRUE(auth_->authenticate_token(token));
}

TEST_F(AuthTest, ARequesterStandsUntilDisabledOrItsTokenRevoked) {
  add_people();
  auto t = auth_->create_token(token_for("alice"), "test");
  ASSERT_TRUE(t);
  auto who = auth_->authenticate_token(t->secret);
  ASSERT_TRUE(who);
  const ca::Requester asker = who->requester();
  auto stands = [&](const ca::Requester& r) -> Status {
    auto tx = db_->begin(store::TxMode::kRead);
    if (!tx) return std::unexpected(tx.error());
    return auth_->requester_stands(**tx, r);
  };
  auto expect_refused = [&](const ca::Requester& r) {
    auto s = stands(r);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  };
  EXPECT_TRUE(stands(asker));
  EXPECT_TRUE(stands(ca::Requester{
      .actor = "local:root", .team = {}, .scope = {}}));  // no principal: always stands
  clock_.advance(400 * 24h);  // an expired token asked while it was valid
  EXPECT_TRUE(stands(asker));

  ASSERT_TRUE(auth_->set_principal_disabled("alice", true, "local:root"));
  expect_refused(asker);
  ASSERT_TRUE(auth_->set_principal_disabled("alice", false, "local:root"));
  EXPECT_TRUE(stands(asker));
  {
    // No API changes roles; one changed in the database is obeyed.
    auto tx = db_->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->execute("UPDATE principals SET role = 'auditor' WHERE name = 'alice'"));
    ASSERT_TRUE((*tx)->commit());
  }
  expect_refused(asker);
  {
    auto tx = db_->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->execute("UPDATE principals SET role = 'requester' WHERE name = 'alice'"));
    ASSERT_TRUE((*tx)->commit());
  }
  EXPECT_TRUE(stands(asker));
  ASSERT_TRUE(auth_->revoke_token(t->info.id, "local:root"));
  expect_refused(asker);
  expect_refused(ca::Requester{
      .actor = "cert:bob", .team = {}, .scope = {}, .principal = "bob"});  // no such principal
}

TEST_F(AuthTest, TokenRoleAbovePrincipalIsRejected) {
  add_people();
  struct Case {
    const char* principal;
    Role role;
  };
  for (const Case& c :
       {Case{"ops", Role::kAdmin}, Case{"ops", Role::kAuditor}, Case{"alice", Role::kOperator},
        Case{"alice", Role::kAuditor}, Case{"carol", Role::kOperator},
        Case{"carol", Role::kRequester}, Case{"carol", Role::kAdmin}}) {
    auto r = auth_->create_token(token_for(c.principal, c.role), "test");
    ASSERT_FALSE(r) << c.principal << " " << role_name(c.role);
    EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected) << c.principal;
  }
  EXPECT_TRUE(auth_->create_token(token_for("ops", Role::kRequester, "payments"), "test"));
  EXPECT_TRUE(auth_->create_token(token_for("carol", Role::kAuditor), "test"));
  EXPECT_TRUE(auth_->list_tokens("alice")->empty());
}

TEST_F(AuthTest, TokenErrorsForUnknownPrincipalOrTeam) {
  add_people();
  auto no_principal = auth_->create_token(token_for("nobody"), "test");
  ASSERT_FALSE(no_principal);
  EXPECT_EQ(no_principal.error().code, ErrorCode::kNotFound);
  auto no_team = auth_->create_token(token_for("root", Role::kRequester, "ghosts"), "test");
  ASSERT_FALSE(no_team);
  EXPECT_EQ(no_team.error().code, ErrorCode::kNotFound);
}

TEST_F(AuthTest, RequesterTokenWithoutTeamIsRejected) {
  add_people();
  auto from_admin = auth_->create_token(token_for("root", Role::kRequester), "test");
  ASSERT_FALSE(from_admin);
  EXPECT_EQ(from_admin.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(AuthTest, RequesterCannotMintTokensForAnotherTeam) {
  add_people();
  ASSERT_TRUE(auth_->create_team(make_team("infra", {"tls-server"}, {"example.com"}), "test"));
  auto r = auth_->create_token(token_for("alice", std::nullopt, "infra"), "test");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(AuthTest, RequesterIdentityCarriesTeamScope) {
  ASSERT_TRUE(auth_->create_team(
      make_team("payments", {"tls-server", "tls-client"}, {"payments.example", "pay.example"}),
      "test"));
  ASSERT_TRUE(
      auth_->create_principal(make_principal("alice", Role::kRequester, "payments"), "test"));
  auto t = auth_->create_token(token_for("alice"), "test");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->info.team, "payments");
  EXPECT_EQ(t->info.role, Role::kRequester);

  auto id = auth_->authenticate_token(t->secret);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->role, Role::kRequester);
  EXPECT_EQ(id->team, "payments");
  ASSERT_TRUE(id->scope.has_value());
  EXPECT_EQ(id->scope->profiles, (std::vector<std::string>{"tls-server", "tls-client"}));
  EXPECT_EQ(id->scope->domains, (std::vector<std::string>{"payments.example", "pay.example"}));
  EXPECT_TRUE(id->scope->authorities.empty());
}

TEST_F(AuthTest, TeamGrantsAuthorities) {
  Team t = make_team("payments", {"tls-server"}, {"payments.example"});
  t.allowed_authorities = {"payments-ca", "issuing", "payments-ca"};
  auto created = auth_->create_team(t, "test");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->allowed_authorities, (std::vector<std::string>{"payments-ca", "issuing"}));
  auto teams = auth_->list_teams();
  ASSERT_TRUE(teams);
  EXPECT_EQ((*teams)[0].allowed_authorities, (std::vector<std::string>{"payments-ca", "issuing"}));
  ASSERT_TRUE(
      auth_->create_principal(make_principal("alice", Role::kRequester, "payments"), "test"));
  auto token = auth_->create_token(token_for("alice"), "test");
  ASSERT_TRUE(token);
  auto id = auth_->authenticate_token(token->secret);
  ASSERT_TRUE(id && id->scope);
  EXPECT_EQ(id->scope->authorities, (std::vector<std::string>{"payments-ca", "issuing"}));

  Team bad = make_team("bad");
  bad.allowed_authorities = {"Not A Name"};
  auto refused = auth_->create_team(bad, "test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(AuthTest, DemotedPrincipalNoLongerAuthenticatesAboveItsRole) {
  add_people();
  const std::string token = new_token(token_for("root"));
  ASSERT_EQ(auth_->authenticate_token(token)->role, Role::kAdmin);
  {
    // No API changes roles yet; an operator editing the database must still be obeyed.
    auto tx = db_->begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*tx)->execute("UPDATE principals SET role = 'operator' WHERE name = 'root'"));
    ASSERT_TRUE((*tx)->commit());
  }
  clock_.advance(6s);  // past the cache TTL
  expect_unauthorized(auth_->authenticate_token(token));
}

TEST_F(AuthTest, SecretIsNeitherListedNorStored) {
  add_people();
  auto t = auth_->create_token(token_for("alice"), "local:root");
  ASSERT_TRUE(t);
  const std::string secret = t->secret;
  const std::string random_part = secret.substr(21);
  ASSERT_EQ(random_part.size(), 43u);

  auto listed = auth_->list_tokens(std::nullopt);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  const TokenInfo& info = (*listed)[0];
  EXPECT_EQ(info.id, t->info.id);
  EXPECT_EQ(info.principal, "alice");
  EXPECT_EQ(info.role, Role::kRequester);
  EXPECT_EQ(info.team, "payments");
  EXPECT_EQ(info.description, "test token");
  EXPECT_EQ(info.expires_at, t->info.expires_at);
  EXPECT_EQ(info.revoked_at, std::nullopt);
  for (const std::string& field : {info.id, info.principal, info.description}) {
    EXPECT_EQ(field.find(random_part), std::string::npos);
  }
  EXPECT_TRUE(auth_->list_tokens("ops")->empty());

  const std::string hash = to_hex(crypto::sha256(as_bytes(secret)));
  bool hash_stored = false;
  for (const std::string table : {"tokens", "audit_events", "principals", "teams"}) {
    for (const std::string& v : all_values(table)) {
      EXPECT_EQ(v.find(secret), std::string::npos) << table;
      EXPECT_EQ(v.find(random_part), std::string::npos) << table;
      if (table == "audit_events") {
        EXPECT_EQ(v.find(hash), std::string::npos);
      }
      if (table == "tokens" && v == hash) hash_stored = true;
    }
  }
  EXPECT_TRUE(hash_stored);
}

TEST_F(AuthTest, EveryMutationIsAuditedAndTheChainVerifies) {
  add_people();
  auto t = auth_->create_token(token_for("ops"), "local:root");
  ASSERT_TRUE(t);
  ASSERT_TRUE(auth_->revoke_token(t->info.id, "local:root"));
  ASSERT_TRUE(auth_->set_principal_disabled("alice", true, "local:root"));
  ASSERT_TRUE(auth_->set_principal_disabled("alice", false, "local:root"));
  const std::string fp = to_hex(crypto::sha256(as_bytes("some der")));
  ASSERT_TRUE(auth_->map_certificate(fp, "ops", "local:root"));

  EXPECT_EQ(audit_actions(),
            (std::vector<std::string>{"team.create", "principal.create", "principal.create",
                                      "principal.create", "principal.create", "token.create",
                                      "token.revoke", "principal.disable", "principal.enable",
                                      "certificate_mapping.create"}));

  audit::EventFilter f;
  f.action = "token.create";
  auto created = audit_->list(f);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->size(), 1u);
  const audit::Event& e = (*created)[0].event;
  EXPECT_EQ(e.actor, "local:root");
  EXPECT_EQ(e.target_type, "token");
  EXPECT_EQ(e.target_id, t->info.id);
  EXPECT_EQ(e.details["id"], t->info.id);
  EXPECT_EQ(e.details["principal"], "ops");
  EXPECT_EQ(e.details["role"], "operator");
  EXPECT_TRUE(e.details["team"].is_null());
  EXPECT_EQ(e.details["expires_at"], format_time(*t->info.expires_at));

  // Failed mutations leave no event behind.
  EXPECT_FALSE(auth_->create_team(make_team("payments"), "local:root"));
  EXPECT_FALSE(auth_->create_token(token_for("ops", Role::kAdmin), "local:root"));
  EXPECT_EQ(audit_actions().size(), 10u);

  auto report = audit_->verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->events_checked, 10);
}

// ---- certificates ----

TEST_F(AuthTest, CertificateMappingAuthenticatesByDer) {
  add_people();
  const std::string der = "not really DER, but hashed all the same";
  const Bytes fp = crypto::sha256(as_bytes(der));
  // Upper-case, colon-separated fingerprints are accepted and normalised.
  ASSERT_TRUE(auth_->map_certificate(to_hex_colon(fp), "alice", "local:root"));

  auto id = auth_->authenticate_certificate(as_bytes(der));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(id->principal, "alice");
  EXPECT_EQ(id->actor, "cert:alice");
  EXPECT_EQ(id->role, Role::kRequester);
  EXPECT_EQ(id->team, "payments");
  EXPECT_EQ(id->token_id, std::nullopt);
  ASSERT_TRUE(id->scope.has_value());
  EXPECT_EQ(id->scope->profiles, std::vector<std::string>{"tls-server"});
  EXPECT_EQ(id->scope->domains, std::vector<std::string>{"payments.example"});

  expect_unauthorized(auth_->authenticate_certificate(as_bytes("some other certificate")));
  expect_unauthorized(auth_->authenticate_certificate({}));

  ASSERT_TRUE(auth_->set_principal_disabled("alice", true, "local:root"));
  expect_unauthorized(auth_->authenticate_certificate(as_bytes(der)));
}

TEST_F(AuthTest, OperatorCertificateHasNoScopeLimits) {
  add_people();
  const std::string der = "operator cert";
  ASSERT_TRUE(auth_->map_certificate(to_hex(crypto::sha256(as_bytes(der))), "ops", "t"));
  auto id = auth_->authenticate_certificate(as_bytes(der));
  ASSERT_TRUE(id);
  EXPECT_EQ(id->role, Role::kOperator);
  EXPECT_FALSE(id->scope.has_value());
}

TEST_F(AuthTest, CertificateMappingErrors) {
  add_people();
  const std::string fp = to_hex(crypto::sha256(as_bytes("cert")));
  auto missing = auth_->map_certificate(fp, "nobody", "t");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  for (const char* bad : {"", "abcd", "zz", "0123"}) {
    auto r = auth_->map_certificate(bad, "alice", "t");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }

  ASSERT_TRUE(auth_->map_certificate(fp, "alice", "t"));
  auto dup = auth_->map_certificate(fp, "ops", "t");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
}

TEST_F(AuthTest, UnmappedCertificateStopsAuthenticatingAndIsAudited) {
  add_people();
  const std::string der = "a client certificate";
  const std::string fp = to_hex(crypto::sha256(as_bytes(der)));
  ASSERT_TRUE(auth_->map_certificate(fp, "alice", "local:root"));
  ASSERT_TRUE(auth_->authenticate_certificate(as_bytes(der)));

  auto wrong_principal = auth_->unmap_certificate(fp, "ops", "local:root");
  ASSERT_FALSE(wrong_principal);
  EXPECT_EQ(wrong_principal.error().code, ErrorCode::kNotFound);
  auto bad = auth_->unmap_certificate("zz", "alice", "local:root");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(auth_->authenticate_certificate(as_bytes(der)));

  ASSERT_TRUE(
      auth_->unmap_certificate(to_hex_colon(crypto::sha256(as_bytes(der))), "alice", "local:root"));
  expect_unauthorized(auth_->authenticate_certificate(as_bytes(der)));
  auto again = auth_->unmap_certificate(fp, "alice", "local:root");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

  audit::EventFilter f;
  f.action = "certificate_mapping.delete";
  auto events = audit_->list(f);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().event.target_id, fp);
  EXPECT_EQ(events->front().event.details["principal"], "alice");
  // The fingerprint can be mapped again, to anyone.
  EXPECT_TRUE(auth_->map_certificate(fp, "ops", "local:root"));
}

TEST_F(AuthTest, RequesterPrincipalNeedsATeam) {
  const auto before = auth_->list_principals()->size();
  auto loner = auth_->create_principal(make_principal("loner", Role::kRequester), "test");
  ASSERT_FALSE(loner);
  EXPECT_EQ(loner.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(auth_->list_principals()->size(), before);
}

TEST_F(AuthTest, ApproverNeedsATeamAndIsScopedToIt) {
  auto loner = auth_->create_principal(make_principal("loner", Role::kApprover), "test");
  ASSERT_FALSE(loner);
  EXPECT_EQ(loner.error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(
      auth_->create_team(make_team("payments", {"tls-server"}, {"payments.example"}), "test"));
  ASSERT_TRUE(auth_->create_principal(make_principal("vera", Role::kApprover, "payments"), "test"));
  auto t = auth_->create_token(token_for("vera"), "test");
  ASSERT_TRUE(t) << t.error().message;
  auto id = auth_->authenticate_token(t->secret);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->role, Role::kApprover);
  EXPECT_EQ(id->team, "payments");
  // Scoped: what it reads and decides is its team's.
  EXPECT_TRUE(id->scope.has_value());
  EXPECT_EQ(id->requester().principal, "vera");
  EXPECT_FALSE(role_allows(Role::kApprover, Permission::kIssue));
  EXPECT_FALSE(role_allows(Role::kOperator, Permission::kApproveRequests));
}

// ---- bootstrap ----

TEST_F(AuthTest, BootstrapAdminOnlyOnce) {
  auto first = auth_->bootstrap_admin("system");
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->has_value());
  const std::string secret = **first;

  auto id = auth_->authenticate_token(secret);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->principal, "admin");
  EXPECT_EQ(id->role, Role::kAdmin);
  EXPECT_EQ(id->team, std::nullopt);

  auto tokens = auth_->list_tokens("admin");
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ((*tokens)[0].description, "bootstrap admin token");
  EXPECT_EQ((*tokens)[0].expires_at, std::nullopt);
  EXPECT_EQ(audit_actions(), (std::vector<std::string>{"principal.create", "token.create"}));

  auto second = auth_->bootstrap_admin("system");
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(auth_->list_principals()->size(), 1u);
}

TEST_F(AuthTest, BootstrapSkipsWhenPrincipalsExist) {
  ASSERT_TRUE(auth_->create_principal(make_principal("ops", Role::kOperator), "test"));
  auto r = auth_->bootstrap_admin("system");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(auth_->principal("admin"));
}

TEST_F(AuthTest, ConcurrentBootstrapsCreateOneAdmin) {
  AuthService other(clock_, *db_, *audit_);
  Result<std::optional<std::string>> a = std::optional<std::string>();
  Result<std::optional<std::string>> b = std::optional<std::string>();
  std::thread ta([&] { a = auth_->bootstrap_admin("system"); });
  std::thread tb([&] { b = other.bootstrap_admin("system"); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->has_value() + b->has_value(), 1);
  EXPECT_EQ(auth_->list_tokens(std::nullopt)->size(), 1u);
}

}  // namespace
}  // namespace certward::auth
