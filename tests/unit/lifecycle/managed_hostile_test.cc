// Managed certificates against a hostile requester: what a team-scoped caller may put in a
// deployment target. It may not have certward run a command of its choosing (reload argv), nor
// read a file of its choosing as certward (an SSH identity or known_hosts file, a PKCS#12
// password file): those are bound by [lifecycle] team_reload_commands and team_secrets_dir,
// and a refusal stores nothing. Admins and operators are not bound by them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "unit/lifecycle/managed_fixture.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class ManagedHostileTest : public testing::ManagedFixture {
 protected:
  json with_reload(std::vector<std::string> argv, const std::string& name = "web") const {
    json t = file_target(name);
    t["reload"] = {{"argv", std::move(argv)}};
    return t;
  }

  json with_pkcs12(const std::string& password_file) const {
    json t = file_target();
    t["files"]["pkcs12"] = (files_.path() / "web.p12").string();
    t["files"]["pkcs12_password_file"] = password_file;
    return t;
  }

  json ssh_target(const std::string& identity, const std::string& known_hosts) const {
    return {{"name", "edge"},
            {"kind", "ssh"},
            {"ssh",
             {{"host", "127.0.0.1"},
              {"user", "deploy"},
              {"identity_file", identity},
              {"known_hosts", known_hosts}}},
            {"files", {{"fullchain", "/etc/nginx/tls/edge.crt"}}}};
  }

  static std::string write_private(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
    return p.string();
  }

  // Creating as the requester is refused by the deployment policy and stores nothing.
  void expect_refused(const json& target) {
    const auto rows = managed_rows();
    auto m = managed_->create(spec("hostile", {"www.example.com"}, {{"targets", {target}}}), web());
    ASSERT_FALSE(m.has_value()) << target.dump();
    EXPECT_EQ(m.error().code, ErrorCode::kPolicyRejected) << m.error().message;
    EXPECT_EQ(managed_rows(), rows);
  }

  certward::testing::TempDir secrets_;
};

TEST_F(ManagedHostileTest, RequesterCannotNameAReloadCommandOfItsOwn) {
  expect_refused(with_reload({"/bin/sh", "-c", "id > /tmp/certward-pwned"}));
  expect_refused(with_reload({"/usr/bin/env", "sh"}));
  settings_.team_reload_commands = {"/bin/true", "/usr/sbin/nginx -s reload"};
  // Listed commands only, exactly: another argument makes another command.
  expect_refused(with_reload({"/usr/sbin/nginx", "-s", "reload", "-g", "load_module x;"}));
  expect_refused(with_reload({"/usr/sbin/nginx", "-s"}));
  auto listed =
      managed_->create(spec("listed", {"www.example.com"},
                            {{"targets", {with_reload({"/usr/sbin/nginx", "-s", "reload"})}}}),
                       web());
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  // Nor can it change its target to run another one.
  auto changed = managed_->update(listed->id,
                                  {{"targets", {with_reload({"/bin/sh", "-c", "reboot"})}}}, web());
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code, ErrorCode::kPolicyRejected);
  EXPECT_EQ(get(listed->id).spec.targets[0].reload->argv,
            (std::vector<std::string>{"/usr/sbin/nginx", "-s", "reload"}));
}

TEST_F(ManagedHostileTest, OperatorsChoiceOfReloadStaysUsableByTheTeam) {
  settings_.team_reload_commands = {};
  auto m = managed_->create(spec("ops", {"www.example.com"},
                                 {{"team", "web"}, {"targets", {with_reload({"/bin/true"})}}}),
                            admin());
  ASSERT_TRUE(m.has_value()) << m.error().message;
  // The team may renew it and change what is not the target...
  EXPECT_TRUE(managed_->renew(m->id, false, web()).has_value());
  auto tagged = managed_->update(m->id, {{"tags", {"prod"}}}, web());
  ASSERT_TRUE(tagged.has_value()) << tagged.error().message;
  // ...but not give it a command of its own.
  auto changed =
      managed_->update(m->id, {{"targets", {with_reload({"/bin/sh", "-c", "true"})}}}, web());
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(ManagedHostileTest, RequesterCannotHaveCertwardReadAFileOfItsChoosing) {
  // The server's own secrets, private to certward's user as a password file must be.
  const std::string master = write_private(files_.path() / "data" / "master.key", "secret\n");
  expect_refused(with_pkcs12(master));
  expect_refused(ssh_target(master, master));
  settings_.allowed_ssh_hosts = {"127.0.0.1"};
  expect_refused(ssh_target(master, master));

  settings_.team_secrets_dir = secrets_.path().string();
  const std::string mine = write_private(secrets_.path() / "web" / "p12.pass", "pw\n");
  const std::string theirs = write_private(secrets_.path() / "mail" / "p12.pass", "pw\n");
  expect_refused(with_pkcs12(master));
  expect_refused(with_pkcs12(theirs));
  expect_refused(with_pkcs12(secrets_.path().string() + "/webx/p12.pass"));
  // A link inside its directory to a file outside is judged by where it leads.
  fs::create_symlink(master, secrets_.path() / "web" / "link.pass");
  expect_refused(with_pkcs12((secrets_.path() / "web" / "link.pass").string()));
  fs::create_directory_symlink(files_.path() / "data", secrets_.path() / "web" / "data");
  expect_refused(with_pkcs12((secrets_.path() / "web" / "data" / "master.key").string()));
  expect_refused(ssh_target(theirs, mine));
  expect_refused(ssh_target(mine, theirs));

  auto p12 =
      managed_->create(spec("p12", {"www.example.com"}, {{"targets", {with_pkcs12(mine)}}}), web());
  EXPECT_TRUE(p12.has_value()) << p12.error().message;
  const std::string key = write_private(secrets_.path() / "web" / "id_ed25519", "k\n");
  auto ssh = managed_->create(
      spec("edge", {"edge.example.com"}, {{"targets", {ssh_target(key, mine)}}}), web());
  EXPECT_TRUE(ssh.has_value()) << ssh.error().message;
}

TEST_F(ManagedHostileTest, AdminsAreNotBoundByTheTeamLimits) {
  const std::string file = write_private(files_.path() / "p12.pass", "pw\n");
  auto m = managed_->create(
      spec("admin", {"www.example.com"}, {{"targets", {with_pkcs12(file)}}, {"team", "web"}}),
      admin());
  EXPECT_TRUE(m.has_value()) << m.error().message;
}

// Names almost in the team's domains are not in them; nothing is stored for them. (A
// wildcard under the team's own domain is the profile's to allow or refuse, as at issuance.)
TEST_F(ManagedHostileTest, NamesAlmostInTheTeamsDomainsAreRefused) {
  for (const char* name : {"evil-example.com", "example.com.evil.net", "www.example.com.evil",
                           "xn--exmple-cua.com", "*.example.org", "example.org", "ip:10.0.0.1",
                           "email:a@evil.net", "uri:https://evil.net/"}) {
    const auto rows = managed_rows();
    auto s = parse_managed_spec({{"name", "near"}, {"sans", {name}}});
    if (!s) continue;  // refused by the syntax check already
    auto m = managed_->create(*s, web());
    EXPECT_FALSE(m.has_value()) << name;
    EXPECT_EQ(managed_rows(), rows) << name;
  }
  // Nor can a name be changed to one of them.
  auto mine = managed_->create(spec("mine", {"www.example.com"}), web());
  ASSERT_TRUE(mine.has_value()) << mine.error().message;
  EXPECT_FALSE(managed_->update(mine->id, {{"sans", {"evil-example.com"}}}, web()).has_value());
  EXPECT_FALSE(managed_->update(mine->id, {{"common_name", "evil.net"}}, web()).has_value());
  EXPECT_EQ(get(mine->id).spec.sans.size(), 1u);
}

// A renew_before longer than the lifetime (the profile's validity applies) does not make
// every run issue another certificate: one requester could otherwise have the RA sign a
// certificate a second for ever.
TEST_F(ManagedHostileTest, ARenewBeforeLongerThanTheLifetimeDoesNotRenewAtEveryRun) {
  auto m = managed_->create(spec("loop", {"loop.example.com"}, {{"renew_before", "3650d"}}), web());
  ASSERT_TRUE(m.has_value()) << m.error().message;
  reconcile(m->id);
  const auto first = get(m->id).fingerprint;
  ASSERT_TRUE(first.has_value());
  const auto rows = certward::testing::count_rows(*db_, "certificates");
  for (int i = 0; i < 3; ++i) {
    clock_.set(clock_.now() + std::chrono::seconds(2));
    reconcile(m->id);
  }
  EXPECT_EQ(get(m->id).fingerprint, first);
  EXPECT_EQ(certward::testing::count_rows(*db_, "certificates"), rows);
}

// Ids and names share one namespace in the API: a requester's managed certificate named like
// another team's id is found by that name, and says nothing of the other one.
TEST_F(ManagedHostileTest, ANameThatIsAnotherTeamsIdFindsTheCallersOwn) {
  auto theirs = create(spec("theirs", {"mail.example.com"}, {{"team", "mail"}}));
  auto mine = managed_->create(spec(theirs.id, {"www.example.com"}), web());
  ASSERT_TRUE(mine.has_value()) << mine.error().message;
  auto found = managed_->get(theirs.id, web());
  ASSERT_TRUE(found.has_value()) << found.error().message;
  EXPECT_EQ(found->id, mine->id);
  auto renewed = managed_->renew(theirs.id, false, web());
  ASSERT_TRUE(renewed.has_value());
  EXPECT_EQ(renewed->id, mine->id);
  EXPECT_EQ(get(theirs.id).renew_request, RenewRequest::kNone);  // the admin sees theirs by id
}

// A target's timeouts go up to an hour each, a reconciliation's lease is minutes: one that
// could outlast it would be taken by another replica and deployed twice at once (and would
// hold a reconciler thread, every other team's renewals waiting). Refused when stored.
TEST_F(ManagedHostileTest, DeploymentsThatCouldOutlastTheLeaseAreRefused) {
  settings_.lease = std::chrono::minutes(10);
  json slow = with_reload({"/bin/true"});
  slow["reload"]["timeout"] = "1h";
  for (const auto& who : {admin(), web()}) {
    settings_.team_reload_commands = {"/bin/true"};
    const auto rows = managed_rows();
    auto m = managed_->create(spec("slow", {"www.example.com"}, {{"targets", {slow}}}), who);
    ASSERT_FALSE(m.has_value());
    EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument) << m.error().message;
    EXPECT_EQ(managed_rows(), rows);
  }
  json verify = file_target();
  verify["verify"] = {{"endpoint", "127.0.0.1:443"}, {"timeout", "10m"}};
  EXPECT_FALSE(
      managed_->create(spec("slow", {"www.example.com"}, {{"targets", {verify}}}), admin()));
  // Many targets add up.
  json targets = json::array();
  for (int i = 0; i < 8; ++i) {
    json t = file_target("t" + std::to_string(i));
    t["verify"] = {{"endpoint", "127.0.0.1:443"}, {"timeout", "45s"}};
    targets.push_back(t);
  }
  EXPECT_FALSE(
      managed_->create(spec("many", {"www.example.com"}, {{"targets", targets}}), admin()));
  targets.erase(targets.begin() + 4, targets.end());
  auto fits = managed_->create(spec("many", {"www.example.com"}, {{"targets", targets}}), admin());
  EXPECT_TRUE(fits.has_value()) << fits.error().message;
}

}  // namespace
}  // namespace certward::lifecycle
