#pragma once
// The managed-certificate tests' fixture: the whole CA stack (unit/ca/fixture.h: fake clock,
// SQLite or PostgreSQL under scripts/with-postgres.sh, the RA), auth with a team "web" that
// may issue tls-server certificates in example.com, the job queue, the managed-certificate
// service, and the reconciler with the real Deployer writing file targets under a temporary
// directory (the only allowed path).

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include "auth/auth.h"
#include "lifecycle/reconciler.h"
#include "lifecycle/service.h"
#include "unit/ca/fixture.h"

namespace certward::lifecycle::testing {

class ManagedFixture : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    ASSERT_TRUE(auth::AuthService::migrate(*db_).has_value());
    ASSERT_TRUE(JobQueue::migrate(*db_).has_value());
    ASSERT_TRUE(ManagedService::migrate(*db_).has_value());
    settings_.allowed_paths = {files_.path().string()};
    settings_.jitter_percent = 10;
    const LifecycleDeps deps{clock_, *db_,  *ra_,  *authorities_, inventory_,
                             audit_, auth_, jobs_, wrapper_,      settings_};
    deployer_.emplace(clock_, deploy_policy(settings_));
    managed_.emplace(deps);
    reconciler_.emplace(deps, *deployer_);
    auth::Team team;
    team.name = "web";
    team.allowed_profiles = {"tls-server"};
    team.allowed_domains = {"example.com"};
    ASSERT_TRUE(auth_.create_team(team, "local:test").has_value());
  }

  // A requester of team "web", as the REST API translates one.
  ca::Requester web() const {
    return {.actor = "token:web",
            .team = "web",
            .scope = ca::Scope{
                .profiles = {"tls-server"}, .domains = {"example.com"}, .authorities = {}}};
  }
  const ca::Requester& admin() const { return admin_; }

  // A self-signed certificate valid for `lifetime` from now, of `team` and `origin`, recorded
  // in the inventory; returns its fingerprint.
  std::string record_leaf(std::chrono::days lifetime, std::optional<std::string> team,
                          inventory::Origin origin = inventory::Origin::kImported) {
    auto key = certward::testing::make_key();
    auto t = certward::testing::leaf_template(key.get());
    t.not_before = clock_.now();
    t.not_after = clock_.now() + lifetime;
    x509::LintRules rules;
    rules.max_validity = std::chrono::days(3650);
    auto cert = certward::testing::issue(t, nullptr, key, rules);
    auto tx = db_->begin(store::TxMode::kWrite);
    EXPECT_TRUE(tx.has_value());
    inventory::RecordMeta meta;
    meta.team = std::move(team);
    meta.origin = origin;
    EXPECT_TRUE(inventory_.record(**tx, cert, meta).has_value());
    EXPECT_TRUE((*tx)->commit().has_value());
    return cert.info().sha256_hex;
  }

  // A files target writing key and full chain under the temporary directory.
  nlohmann::json file_target(const std::string& name = "web") const {
    return {{"name", name},
            {"kind", "files"},
            {"files",
             {{"key", (files_.path() / (name + ".key")).string()},
              {"fullchain", (files_.path() / (name + ".crt")).string()}}}};
  }

  ManagedSpec spec(const std::string& name, std::vector<std::string> sans,
                   nlohmann::json extra = nlohmann::json::object()) const {
    nlohmann::json j = {{"name", name}, {"sans", std::move(sans)}};
    for (const auto& [k, v] : extra.items()) j[k] = v;
    auto s = parse_managed_spec(j);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s.value_or(ManagedSpec{});
  }

  ManagedCertificate create(const ManagedSpec& s) {
    auto m = managed_->create(s, admin_);
    EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
    return m.value_or(ManagedCertificate{});
  }

  // Runs the reconciliation of `id` as the scheduler would, and returns its next run.
  std::optional<NewJob> reconcile(const std::string& id) {
    auto next = reconciler_->reconcile(id);
    EXPECT_TRUE(next.has_value()) << (next ? "" : next.error().message);
    return next ? *next : std::nullopt;
  }

  ManagedCertificate get(const std::string& id) {
    auto m = managed_->get(id, admin_);
    CW_CHECK(m.has_value());
    return *m;
  }

  std::vector<std::string> timeline_kinds(const std::string& id) {
    auto events = managed_->timeline(id, 1000, admin_);
    CW_CHECK(events.has_value());
    std::vector<std::string> out;
    for (const auto& e : *events) out.push_back(e.kind);
    return out;
  }

  std::int64_t managed_rows() {
    return certward::testing::count_rows(*db_, "managed_certificates");
  }

  certward::testing::TempDir files_;
  LifecycleSettings settings_;
  auth::AuthService auth_{clock_, *db_, audit_};
  JobQueue jobs_{clock_, *db_};
  std::optional<deploy::Deployer> deployer_;
  std::optional<ManagedService> managed_;
  std::optional<Reconciler> reconciler_;
};

}  // namespace certward::lifecycle::testing
