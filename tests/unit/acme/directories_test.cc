// The ACME directories made through the API: stored, audited, refused when they would shadow
// a route or the configuration file, and seen by another replica within the refresh interval.

#include "protocols/acme/directories.h"

#include <gtest/gtest.h>

#include "protocols/acme/store.h"
#include "unit/ca/fixture.h"

namespace certward::protocols::acme {
namespace {

class DirectoriesTest : public ca::testing::CaFixture {
 protected:
  void SetUp() override {
    CaFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(acme::migrate(*db_).has_value());
    settings_.directory.profiles = {"tls-server"};
    AcmeDirectorySettings fixed = settings_.directory;
    fixed.name = "fixed";
    fixed.profiles = {"tls-client"};
    settings_.directories["fixed"] = fixed;
  }

  Directories::Check check() {
    return [this](const AcmeDirectorySettings& d) {
      return check_usable(d, profiles_, *authorities_);
    };
  }

  std::unique_ptr<Directories> replica() {
    auto d = std::make_unique<Directories>(clock_, *db_, settings_, audit_, check());
    EXPECT_TRUE(d->start().has_value());
    return d;
  }

  static AcmeDirectorySettings named(std::string name, std::vector<std::string> profiles) {
    AcmeDirectorySettings s;
    s.name = std::move(name);
    s.profiles = std::move(profiles);
    return s;
  }

  std::int64_t stored_count() { return certward::testing::count_rows(*db_, "acme_directories"); }

  AcmeSettings settings_;
};

TEST_F(DirectoriesTest, MadeChangedAndDeletedWithAnAuditEventEach) {
  auto dirs = replica();
  EXPECT_NE(dirs->find(""), nullptr);
  EXPECT_EQ(dirs->find("")->prefix, "/acme");
  EXPECT_EQ(dirs->find("fixed")->prefix, "/acme/fixed");
  EXPECT_EQ(dirs->find("partners"), nullptr);
  const auto events = audit_count();

  auto s = named("partners", {"tls-server", "tls-client"});
  s.external_account_required = true;
  s.terms_of_service = "https://pki.example.com/tos";
  s.caa_identities = {"pki.example.com"};
  auto made = dirs->put(s, "token:admin");
  ASSERT_TRUE(made.has_value()) << made.error().message;
  EXPECT_TRUE(made->created);
  auto served = dirs->find("partners");
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->prefix, "/acme/partners");
  EXPECT_EQ(served->default_profile, "tls-server");
  EXPECT_TRUE(served->settings.external_account_required);
  EXPECT_EQ(served->settings.caa_identities, std::vector<std::string>{"pki.example.com"});

  s.profiles = {"tls-client"};
  s.external_account_required = false;
  auto changed = dirs->put(s, "token:other");
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  EXPECT_FALSE(changed->created);
  EXPECT_EQ(changed->record.created_by, "token:admin");
  EXPECT_EQ(changed->record.updated_by, "token:other");
  EXPECT_EQ(dirs->find("partners")->default_profile, "tls-client");
  // A request that started before the change keeps the directory it began with.
  EXPECT_TRUE(served->settings.external_account_required);

  auto all = dirs->list();
  ASSERT_TRUE(all.has_value());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].settings.name, "");
  EXPECT_TRUE((*all)[0].configured);
  EXPECT_EQ((*all)[1].settings.name, "fixed");
  EXPECT_EQ((*all)[2].settings.name, "partners");
  EXPECT_FALSE((*all)[2].configured);

  ASSERT_TRUE(dirs->remove("partners", "token:admin").has_value());
  EXPECT_EQ(dirs->find("partners"), nullptr);
  auto gone = dirs->get("partners");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
  auto twice = dirs->remove("partners", "token:admin");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, ErrorCode::kNotFound);

  EXPECT_EQ(audit_count(), events + 3);
  auto tx = db_->begin(store::TxMode::kRead);
  ASSERT_TRUE(tx.has_value());
  auto rows = (*tx)->query(
      "SELECT action, actor, target_id FROM audit_events WHERE target_type = 'acme_directory' "
      "ORDER BY seq");
  ASSERT_TRUE(rows.has_value());
  std::vector<std::string> actions;
  for (const auto& r : *rows) {
    actions.push_back(r.text(0));
    EXPECT_EQ(r.text(2), "partners");
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"acme.directory.create", "acme.directory.update",
                                               "acme.directory.delete"}));
  tx->reset();
  expect_audit_ok(events + 3);
}

TEST_F(DirectoriesTest, RefusalsChangeNothing) {
  auto dirs = replica();
  const auto events = audit_count();
  struct Case {
    const char* what;
    AcmeDirectorySettings settings;
    ErrorCode code;
  };
  std::vector<Case> cases;
  for (const char* bad : {"", "Partners", "order", "new-nonce", "renewal-info", "a/b", "a b", "a.b",
                          "caf\xc3\xa9", "..", "%2e"}) {
    // "" is the default directory's name: not one the API may make.
    cases.push_back({bad, named(bad, {"tls-server"}), ErrorCode::kInvalidArgument});
  }
  cases.push_back(
      {"65 characters", named(std::string(65, 'a'), {"tls-server"}), ErrorCode::kInvalidArgument});
  cases.push_back({"a configured name", named("fixed", {"tls-server"}), ErrorCode::kConflict});
  cases.push_back({"no profile", named("x", {}), ErrorCode::kInvalidArgument});
  cases.push_back({"unknown profile", named("x", {"nope"}), ErrorCode::kInvalidArgument});
  cases.push_back({"a CA profile", named("x", {"intermediate-ca"}), ErrorCode::kInvalidArgument});
  cases.push_back(
      {"an internal profile", named("x", {"ocsp-responder"}), ErrorCode::kInvalidArgument});
  cases.push_back(
      {"a profile twice", named("x", {"tls-server", "tls-server"}), ErrorCode::kInvalidArgument});
  auto with = [](AcmeDirectorySettings s, auto change) {
    change(s);
    return s;
  };
  const auto base = named("x", {"tls-server"});
  cases.push_back({"default not offered",
                   with(base, [](auto& s) { s.default_profile = "tls-client"; }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"unknown authority", with(base, [](auto& s) { s.authority = "nobody"; }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"javascript: terms",
                   with(base, [](auto& s) { s.terms_of_service = "javascript:alert(1)"; }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"a newline in the website",
                   with(base, [](auto& s) { s.website = "https://a.example/\r\nX: y"; }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"a root authority", with(base, [](auto& s) { s.authority = "root"; }),
                   ErrorCode::kInvalidArgument});
  for (const char* url :
       {"https://", "https://user:pw@a.example/", "https://a.example/\"><x>",
        "https://a.example/\xe2\x80\xa8", "HTTPS://a.example/", "https:///path"}) {
    cases.push_back(
        {url, with(base, [url](auto& s) { s.website = url; }), ErrorCode::kInvalidArgument});
  }
  cases.push_back(
      {"a CAA label of 64 characters",
       with(base, [](auto& s) { s.caa_identities = {std::string(64, 'a') + ".example"}; }),
       ErrorCode::kInvalidArgument});
  cases.push_back({"a CAA identity twice",
                   with(base,
                        [](auto& s) {
                          s.caa_identities = {"pki.example", "pki.example"};
                        }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"an upper-case CAA identity",
                   with(base, [](auto& s) { s.caa_identities = {"PKI.example.com"}; }),
                   ErrorCode::kInvalidArgument});
  cases.push_back({"a CAA identity with a dot at the end",
                   with(base, [](auto& s) { s.caa_identities = {"pki.example.com."}; }),
                   ErrorCode::kInvalidArgument});
  for (const auto& c : cases) {
    auto r = dirs->put(c.settings, "token:admin");
    ASSERT_FALSE(r.has_value()) << c.what;
    EXPECT_EQ(r.error().code, c.code) << c.what << ": " << r.error().message;
  }
  for (const char* name : {"", "fixed"}) {
    auto r = dirs->remove(name, "token:admin");
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kConflict) << name;
  }
  EXPECT_EQ(stored_count(), 0);
  EXPECT_EQ(audit_count(), events);
  EXPECT_EQ(dirs->find("x"), nullptr);
}

TEST_F(DirectoriesTest, AnotherReplicaSeesAChangeWithinTheRefreshInterval) {
  auto a = replica();
  auto b = replica();
  ASSERT_TRUE(a->put(named("shared", {"tls-server"}), "token:admin").has_value());
  EXPECT_NE(a->find("shared"), nullptr);
  EXPECT_EQ(b->find("shared"), nullptr);  // b read the store before the change
  clock_.advance(Directories::kRefreshInterval);
  ASSERT_NE(b->find("shared"), nullptr);

  ASSERT_TRUE(a->remove("shared", "token:admin").has_value());
  EXPECT_EQ(a->find("shared"), nullptr);
  EXPECT_NE(b->find("shared"), nullptr);
  clock_.advance(Directories::kRefreshInterval);
  EXPECT_EQ(b->find("shared"), nullptr);

  // A restart reads what the store holds.
  ASSERT_TRUE(a->put(named("kept", {"tls-client"}), "token:admin").has_value());
  EXPECT_EQ(replica()->find("kept")->default_profile, "tls-client");
}

TEST_F(DirectoriesTest, TheConfigurationFileWinsOverAStoredDirectoryOfItsName) {
  // Stored while the file had no directory "later" ...
  ASSERT_TRUE(replica()->put(named("later", {"tls-client"}), "token:admin").has_value());
  // ... which the file then names: the file's is served and listed, the stored one is not.
  AcmeDirectorySettings later = settings_.directory;
  later.name = "later";
  settings_.directories["later"] = later;
  auto dirs = replica();
  EXPECT_EQ(dirs->find("later")->default_profile, "tls-server");
  auto all = dirs->list();
  ASSERT_TRUE(all.has_value());
  int seen = 0;
  for (const auto& r : *all) {
    if (r.settings.name != "later") continue;
    ++seen;
    EXPECT_TRUE(r.configured);
  }
  EXPECT_EQ(seen, 1);
  auto changed = dirs->put(named("later", {"tls-server"}), "token:admin");
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code, ErrorCode::kConflict);
}

TEST_F(DirectoriesTest, AStoredRowThatDoesNotParseIsNotServed) {
  auto dirs = replica();
  ASSERT_TRUE(dirs->put(named("good", {"tls-server"}), "token:admin").has_value());
  {
    auto tx = db_->begin();
    ASSERT_TRUE(tx.has_value());
    ASSERT_TRUE((*tx)
                    ->execute("INSERT INTO acme_directories (name, settings, created_at, "
                              "created_by, updated_at, updated_by) VALUES "
                              "('broken', '{\"profiles\": []}', 0, 'x', 0, 'x')")
                    .has_value());
    ASSERT_TRUE((*tx)->commit().has_value());
  }
  auto fresh = replica();
  EXPECT_NE(fresh->find("good"), nullptr);
  EXPECT_EQ(fresh->find("broken"), nullptr);
}

}  // namespace
}  // namespace certward::protocols::acme
