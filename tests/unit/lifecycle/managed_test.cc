// Managed certificates as the API and the configuration change them: strict specs, the checks
// made before anything is stored (the caller's scope by the RA's own rules, profile, authority,
// deployment policy) with nothing stored when they refuse, team visibility, keyset pages, and
// declarations of the configuration. On SQLite, and on PostgreSQL under with-postgres.sh.
#include <gtest/gtest.h>

#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

class ManagedTest : public testing::ManagedFixture {};

TEST(ManagedSpec, IsParsedStrictly) {
  auto ok = parse_managed_spec({{"name", "web"}, {"sans", {"www.example.com", "dns:example.com"}}});
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ(ok->common_name, "www.example.com");
  EXPECT_EQ(ok->profile, "tls-server");
  EXPECT_EQ(ok->key.type, crypto::KeyType::kEcP256);
  EXPECT_TRUE(ok->key.rotate);
  EXPECT_FALSE(ok->renew_before.has_value());
  for (const json& bad : std::vector<json>{
           json::array(),
           {{"name", "web"}},                                             // no names
           {{"name", "Web"}, {"sans", {"a.example.com"}}},                // upper case
           {{"name", "-web"}, {"sans", {"a.example.com"}}},               // leading dash
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"color", 1}},  // unknown member
           {{"name", "web"}, {"sans", {"not a name!"}}},                  // bad SAN
           {{"name", "web"}, {"sans", "a.example.com"}},                  // not a list
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"key", {{"type", "rsa-12"}}}},
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"key", {{"size", 1}}}},
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"renew_before", "soon"}},
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"renew_before", "0s"}},
           {{"name", "web"},
            {"sans", {"a.example.com"}},
            {"renew_before", "90d"},
            {"validity", "30d"}},
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"targets", {{{"name", "x"}}}}},
           {{"name", "web"}, {"sans", {"a.example.com"}}, {"tags", {"Bad Tag"}}},
       }) {
    auto r = parse_managed_spec(bad);
    ASSERT_FALSE(r.has_value()) << bad.dump();
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad.dump();
  }
}

TEST(ManagedSpec, CommonNameIsOneOfTheNamesAndPatchesKeepTheName) {
  auto s = parse_managed_spec(
      {{"name", "web"}, {"common_name", "api.example.com"}, {"sans", {"www.example.com"}}});
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->sans.size(), 2u);
  EXPECT_EQ(s->sans.front().value, "api.example.com");
  EXPECT_FALSE(patch_managed_spec(*s, {{"name", "other"}}).has_value());
  EXPECT_FALSE(patch_managed_spec(*s, {{"adopt", "00"}}).has_value());
  auto changed = patch_managed_spec(*s, {{"sans", {"new.example.com"}}});
  ASSERT_TRUE(changed.has_value());
  EXPECT_EQ(changed->common_name, "new.example.com");
  EXPECT_NE(desired_hash(*changed), desired_hash(*s));
  auto relabelled = patch_managed_spec(*s, {{"tags", {"prod"}}, {"renew_before", "10d"}});
  ASSERT_TRUE(relabelled.has_value());
  EXPECT_EQ(desired_hash(*relabelled), desired_hash(*s));
}

TEST(ManagedSpec, WhatIsStoredReadsBackTheSame) {
  for (const json& j : std::vector<json>{
           {{"name", "web"},
            {"sans", {"www.example.com", "dns:example.com"}},
            {"key", {{"type", "rsa-2048"}, {"rotate", false}}},
            {"renew_before", "30d"},
            {"validity", "90d"},
            {"tags", {"Prod"}},
            {"alerts", {{"notify_on_failure", false}, {"channels", {"ops"}}}}},
           {{"name", "api"},
            {"common_name", "api.example.com"},
            {"sans", {"ip:192.0.2.1", "email:ops@example.com", "uri:https://api.example.com/x"}},
            {"authority", "issuing"},
            {"owner", "alice"},
            {"team", "web"},
            {"targets",
             {{{"name", "web"},
               {"kind", "files"},
               {"files", {{"key", "/etc/tls/web.key"}, {"fullchain", "/etc/tls/web.crt"}}}}}}},
           {{"name", "mail"}, {"sans", {"email:postmaster@example.com"}}},
       }) {
    auto spec = parse_managed_spec(j);
    ASSERT_TRUE(spec.has_value()) << j.dump() << ": " << spec.error().message;
    const json once = managed_spec_json(*spec);
    auto again = parse_managed_spec(once);
    ASSERT_TRUE(again.has_value()) << once.dump() << ": " << again.error().message;
    EXPECT_EQ(managed_spec_json(*again), once);
    EXPECT_EQ(desired_hash(*again), desired_hash(*spec));
    EXPECT_EQ(targets_hash(*again), targets_hash(*spec));
  }
}

TEST(ManagedSchedule, RenewsWhenAThirdOfTheLifetimeRemainsWithJitterWithinTenPercent) {
  const SysTime nb = certward::testing::kT0;
  const SysTime na = nb + std::chrono::days(90);
  EXPECT_EQ(renewal_due(nb, na, std::nullopt), na - std::chrono::days(30));
  EXPECT_EQ(renewal_due(nb, na, std::chrono::days(10)), na - std::chrono::days(10));
  // A renew-before as long as the lifetime or longer renews after a tenth of it, not at once
  // (and so not again at every run).
  EXPECT_EQ(renewal_due(nb, na, std::chrono::days(400)), nb + std::chrono::days(9));
  EXPECT_EQ(renewal_due(nb, na, std::chrono::days(90)), nb + std::chrono::days(9));
  EXPECT_EQ(renewal_due(nb, na, std::chrono::days(85)), nb + std::chrono::days(9));
  // Minutes-long certificates work the same way.
  EXPECT_EQ(renewal_due(nb, nb + std::chrono::minutes(6), std::nullopt),
            nb + std::chrono::minutes(4));
  std::set<std::int64_t> spread;
  for (int i = 0; i < 50; ++i) {
    const auto j = renewal_jitter("id" + std::to_string(i), nb, na, std::nullopt, 10);
    EXPECT_GE(j.count(), 0);
    EXPECT_LE(j, std::chrono::days(3));
    EXPECT_EQ(j, renewal_jitter("id" + std::to_string(i), nb, na, std::nullopt, 10));
    spread.insert(j.count());
  }
  EXPECT_GT(spread.size(), 40u);
  EXPECT_EQ(renewal_jitter("x", nb, na, std::nullopt, 0).count(), 0);
}

TEST_F(ManagedTest, CreateStoresItWithItsTimelineAuditAndJob) {
  const auto audit_before = audit_count();
  auto m = create(spec("web", {"www.example.com"}, {{"targets", {file_target()}}}));
  EXPECT_EQ(m.state, ManagedState::kPending);
  EXPECT_EQ(timeline_kinds(m.id), std::vector<std::string>{"created"});
  EXPECT_EQ(audit_count(), audit_before + 1);
  auto jobs = jobs_.lease("test", {std::string(kReconcileJob)}, 10, std::chrono::seconds(60));
  ASSERT_TRUE(jobs.has_value());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].dedupe_key, reconcile_key(m.id));
  EXPECT_EQ((*jobs)[0].payload.value("id", ""), m.id);
  // The name is unique among live managed certificates.
  auto again = managed_->create(spec("web", {"www.example.com"}), admin());
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(ManagedTest, BadInputIsRefusedAndNothingIsStored) {
  const auto rows = managed_rows();
  const auto audit_before = audit_count();
  const auto jobs_before = certward::testing::count_rows(*db_, "jobs");
  struct Case {
    ManagedSpec spec;
    ca::Requester who;
    ErrorCode code;
  };
  json outside = file_target();
  outside["files"]["key"] = "/etc/certward-test.key";
  const std::vector<Case> cases = {
      // Names the team may not have, by the RA's own rule.
      {spec("a", {"www.other.org"}), web(), ErrorCode::kUnauthorized},
      // Another team's.
      {spec("b", {"www.example.com"}, {{"team", "mail"}}), web(), ErrorCode::kUnauthorized},
      // A profile outside the team's grant, and one that does not exist.
      {spec("c", {"www.example.com"}, {{"profile", "tls-client"}}), web(),
       ErrorCode::kUnauthorized},
      {spec("d", {"www.example.com"}, {{"profile", "nope"}}), admin(), ErrorCode::kNotFound},
      {spec("e", {"www.example.com"}, {{"authority", "nope"}}), admin(), ErrorCode::kNotFound},
      // The profile's own name rules (internal: example.com only).
      {spec("f", {"www.other.org"}, {{"profile", "internal"}}), admin(),
       ErrorCode::kPolicyRejected},
      // A target outside [lifecycle] allowed_paths.
      {spec("g", {"www.example.com"}, {{"targets", {outside}}}), admin(),
       ErrorCode::kPolicyRejected},
      // A validity above the profile's maximum.
      {spec("h", {"www.example.com"}, {{"validity", "5000d"}}), admin(),
       ErrorCode::kPolicyRejected},
      // Adopting what is not in the inventory.
      {spec("i", {"www.example.com"}, {{"adopt", std::string(64, 'a')}}), admin(),
       ErrorCode::kNotFound},
  };
  for (const auto& c : cases) {
    auto r = managed_->create(c.spec, c.who);
    ASSERT_FALSE(r.has_value()) << c.spec.name;
    EXPECT_EQ(r.error().code, c.code) << c.spec.name << ": " << r.error().message;
  }
  EXPECT_EQ(managed_rows(), rows);
  EXPECT_EQ(audit_count(), audit_before);
  EXPECT_EQ(certward::testing::count_rows(*db_, "jobs"), jobs_before);
}

TEST_F(ManagedTest, TwoManagedCertificatesNeverWriteTheSameFile) {
  auto first = create(spec("first", {"a.example.com"}, {{"targets", {file_target("shared")}}}));
  const auto rows = managed_rows();
  const auto audit_before = audit_count();
  // Another team's requester cannot make certward overwrite it either.
  for (const auto& who : {admin(), web()}) {
    auto r = managed_->create(
        spec("second", {"b.example.com"}, {{"targets", {file_target("shared")}}}), who);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kConflict) << r.error().message;
  }
  EXPECT_EQ(managed_rows(), rows);
  EXPECT_EQ(audit_count(), audit_before);
  auto other = create(spec("other", {"c.example.com"}, {{"targets", {file_target("other")}}}));
  auto moved = managed_->update(other.id, {{"targets", {file_target("shared")}}}, admin());
  ASSERT_FALSE(moved.has_value());
  EXPECT_EQ(moved.error().code, ErrorCode::kConflict);
  // Released when the first stops writing it.
  ASSERT_TRUE(managed_->remove(first.id, admin()).has_value());
  EXPECT_TRUE(managed_->update(other.id, {{"targets", {file_target("shared")}}}, admin()));
}

TEST_F(ManagedTest, TeamScopedCallersSeeAndChangeOnlyTheirTeams) {
  auto mine = managed_->create(spec("mine", {"www.example.com"}), web());
  ASSERT_TRUE(mine.has_value()) << mine.error().message;
  EXPECT_EQ(mine->spec.team, std::optional<std::string>("web"));
  EXPECT_TRUE(mine->creator_scoped);
  auto theirs = create(spec("theirs", {"mail.example.com"}, {{"team", "mail"}}));
  EXPECT_TRUE(managed_->get("mine", web()).has_value());
  auto hidden = managed_->get(theirs.id, web());
  ASSERT_FALSE(hidden.has_value());
  EXPECT_EQ(hidden.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(managed_->renew(theirs.id, false, web()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(managed_->remove(theirs.id, web()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(managed_->update(theirs.id, {{"tags", {"x"}}}, web()).error().code,
            ErrorCode::kNotFound);
  auto page = managed_->list({}, web());
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].spec.name, "mine");
  ManagedFilter other;
  other.team = "mail";
  EXPECT_EQ(managed_->list(other, web()).error().code, ErrorCode::kUnauthorized);
  // Moving its own to another team is refused, and changes nothing.
  auto moved = managed_->update(mine->id, {{"team", "mail"}}, web());
  ASSERT_FALSE(moved.has_value());
  EXPECT_EQ(moved.error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(get(mine->id).spec.team, std::optional<std::string>("web"));
}

TEST_F(ManagedTest, ListsInKeysetPagesByName) {
  for (const char* n : {"e", "c", "a", "d", "b"}) {
    create(spec(n, {std::string(n) + ".example.com"}));
  }
  ManagedFilter f;
  f.limit = 2;
  std::vector<std::string> names;
  for (int pages = 0; pages < 5; ++pages) {
    auto page = managed_->list(f, admin());
    ASSERT_TRUE(page.has_value());
    for (const auto& m : page->items) names.push_back(m.spec.name);
    if (!page->next_cursor) break;
    f.cursor = page->next_cursor;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  f.cursor = "garbage";
  EXPECT_EQ(managed_->list(f, admin()).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ManagedTest, DeletedOnesKeepTheirTimelineAndFreeTheName) {
  auto m = create(spec("web", {"www.example.com"}));
  ASSERT_TRUE(managed_->remove(m.id, admin()).has_value());
  EXPECT_EQ(get(m.id).state, ManagedState::kDeleted);
  EXPECT_EQ(timeline_kinds(m.id), (std::vector<std::string>{"created", "deleted"}));
  EXPECT_EQ(managed_->remove(m.id, admin()).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(managed_->create(spec("web", {"www.example.com"}), admin()).has_value());
}

TEST_F(ManagedTest, DeclarationsAreSyncedByNameAndNotDeletedWhileDeclared) {
  std::vector<ManagedDeclaration> decls = {
      {{{"name", "site"}, {"sans", {"site.example.com"}}, {"tags", {"declared"}}}, "t.toml:1"}};
  ASSERT_TRUE(managed_->sync_declared(decls).has_value());
  auto m = get("site");
  EXPECT_TRUE(m.declared);
  EXPECT_EQ(managed_->remove(m.id, admin()).error().code, ErrorCode::kConflict);
  // Nor changed there: the next start would undo it. Renewing it is fine.
  EXPECT_EQ(managed_->update(m.id, {{"tags", {"x"}}}, admin()).error().code, ErrorCode::kConflict);
  EXPECT_EQ(get("site").spec.tags, std::vector<std::string>{"declared"});
  EXPECT_TRUE(managed_->renew(m.id, false, admin()).has_value());
  // Syncing the same again changes nothing; a changed declaration updates it in place.
  ASSERT_TRUE(managed_->sync_declared(decls).has_value());
  EXPECT_EQ(get("site").generation, get("site").generation);
  decls[0].spec["sans"] = {"site.example.com", "www.site.example.com"};
  ASSERT_TRUE(managed_->sync_declared(decls).has_value());
  auto changed = get("site");
  EXPECT_EQ(changed.id, m.id);
  EXPECT_EQ(changed.spec.sans.size(), 2u);
  // A bad declaration names where it is.
  auto bad = managed_->sync_declared({{{{"name", "x"}}, "t.toml:9"}});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("t.toml:9"), std::string::npos);
  // No longer declared: kept, and the API may delete it now.
  ASSERT_TRUE(managed_->sync_declared({}).has_value());
  EXPECT_FALSE(get("site").declared);
  EXPECT_TRUE(managed_->remove(m.id, admin()).has_value());
}

}  // namespace
}  // namespace certward::lifecycle
