// The files target on this host: contents, modes, owners, atomic replacement, refusals, and
// the rollback that puts back exactly the previous bytes, owner and mode (or removes what did
// not exist) after a failed reload or verification. Reload commands are real programs
// (/bin/sh, /bin/false, /bin/sleep); the verification failures dial a closed loopback port.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/file.h"
#include "crypto/crypto.h"
#include "lifecycle/deploy/target.h"
#include "unit/discovery_net/peers.h"
#include "unit/lifecycle/deploy_support.h"
#include "x509/bundle.h"

namespace certward::lifecycle::deploy {
namespace {

using namespace testing;  // NOLINT: the deployment test helpers
using std::chrono::seconds;

class DeployFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(tls_);
    policy_.allowed_paths = {tls_};
    issued_ = pki_.leaf("www.example.com");
  }

  std::string at(const std::string& name) const { return tls_ + "/" + name; }

  TargetSpec spec() const {
    TargetSpec s;
    s.name = "web";
    s.files.key = at("web.key");
    s.files.certificate = at("web.crt");
    s.files.chain = at("chain.pem");
    s.files.fullchain = at("fullchain.pem");
    return s;
  }

  Outcome deploy(const TargetSpec& s) const {
    Deployer deployer(clock_, policy_);
    return deployer.deploy(s, issued_->material());
  }

  // No temporary file left beside the outputs.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(tls_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  TempDir dir_;
  const std::string tls_ = dir_.file("tls");
  SystemClock clock_;
  Policy policy_;
  TestPki pki_;
  std::unique_ptr<Issued> issued_;
};

TEST_F(DeployFiles, WritesEveryFileWithItsContentAndDefaultModes) {
  const Outcome o = deploy(spec());
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_FALSE(o.rolled_back);
  EXPECT_FALSE(o.error.has_value());
  EXPECT_EQ(step_names(o), std::vector<std::string>{"write"});

  const std::string key_pem = slurp(at("web.key"));
  EXPECT_NE(key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto key = crypto::parse_private_key(
      std::span(reinterpret_cast<const std::uint8_t*>(key_pem.data()), key_pem.size()));
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(crypto::same_public_key(key->get(), issued_->certificate.public_key()));
  EXPECT_EQ(slurp(at("web.crt")), issued_->certificate.pem());
  // The chain leaves the self-signed root out; the full chain is the leaf and that chain.
  EXPECT_EQ(slurp(at("chain.pem")), pki_.intermediate().pem());
  EXPECT_EQ(slurp(at("fullchain.pem")), issued_->certificate.pem() + pki_.intermediate().pem());

  EXPECT_EQ(stat_of(at("web.key")).st_mode & 07777, 0600u);
  for (const char* f : {"web.crt", "chain.pem", "fullchain.pem"}) {
    EXPECT_EQ(stat_of(at(f)).st_mode & 07777, 0644u) << f;
  }
  EXPECT_EQ(stat_of(at("web.key")).st_uid, ::geteuid());
  EXPECT_EQ(listing(),
            (std::vector<std::string>{"chain.pem", "fullchain.pem", "web.crt", "web.key"}));
}

TEST_F(DeployFiles, AppliesTheGivenModesWhateverTheUmask) {
  TargetSpec s = spec();
  s.files.key_mode = 0640;
  s.files.cert_mode = 0664;
  const mode_t old_umask = ::umask(077);
  const Outcome o = deploy(s);
  ::umask(old_umask);
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_EQ(stat_of(at("web.key")).st_mode & 07777, 0640u);
  EXPECT_EQ(stat_of(at("web.crt")).st_mode & 07777, 0664u);
}

TEST_F(DeployFiles, SetsOwnerAndGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing owners needs root";
  TargetSpec s = spec();
  s.files.owner = "nobody";
  const Outcome o = deploy(s);
  ASSERT_TRUE(o.deployed) << describe(o);
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(stat_of(at("web.key")).st_uid, nobody->pw_uid);
  EXPECT_EQ(stat_of(at("web.key")).st_gid, nobody->pw_gid);  // the owner's group by default

  s.files.group = "daemon";
  const group* daemon = ::getgrnam("daemon");
  ASSERT_NE(daemon, nullptr);
  ASSERT_TRUE(deploy(s).deployed);
  EXPECT_EQ(stat_of(at("web.crt")).st_uid, nobody->pw_uid);
  EXPECT_EQ(stat_of(at("web.crt")).st_gid, daemon->gr_gid);
}

TEST_F(DeployFiles, AnUnknownOwnerOrGroupChangesNothing) {
  spit(at("web.key"), "old key", 0600);
  for (int which = 0; which < 2; ++which) {
    TargetSpec s = spec();
    (which == 0 ? s.files.owner : s.files.group) = "no-such-account-here";
    const Outcome o = deploy(s);
    EXPECT_FALSE(o.deployed);
    ASSERT_TRUE(o.error.has_value());
    EXPECT_EQ(o.error->code, ErrorCode::kNotFound);
    EXPECT_EQ(step_names(o), std::vector<std::string>{"write"});
    EXPECT_EQ(slurp(at("web.key")), "old key");
    EXPECT_EQ(listing(), std::vector<std::string>{"web.key"});
  }
}

TEST_F(DeployFiles, ReplacesAnExistingFileByRename) {
  spit(at("web.crt"), "old certificate");
  const ino_t before = stat_of(at("web.crt")).st_ino;
  ASSERT_TRUE(deploy(spec()).deployed);
  EXPECT_EQ(slurp(at("web.crt")), issued_->certificate.pem());
  // A new inode: readers holding the old file see it whole, new readers the new one whole.
  EXPECT_NE(stat_of(at("web.crt")).st_ino, before);
}

TEST_F(DeployFiles, RefusesToWriteThroughASymlinkOrOntoASpecialFile) {
  const std::string victim = dir_.file("victim");
  spit(victim, "precious");
  ASSERT_EQ(::symlink(victim.c_str(), at("web.crt").c_str()), 0);
  Outcome o = deploy(spec());
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_FALSE(exists(at("web.key")));  // refused before the first file was written
  ASSERT_EQ(::unlink(at("web.crt").c_str()), 0);

  ASSERT_EQ(::mkfifo(at("web.crt").c_str(), 0600), 0);
  o = deploy(spec());
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(exists(at("web.key")));
}

TEST_F(DeployFiles, AMissingDirectoryFailsBeforeAnythingIsWritten) {
  TargetSpec s = spec();
  s.files.fullchain = at("missing/fullchain.pem");
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(step_names(o), std::vector<std::string>{"write"});
  EXPECT_FALSE(o.rolled_back);
  EXPECT_TRUE(listing().empty());
}

TEST_F(DeployFiles, APolicyRefusalRunsNoStep) {
  TargetSpec s = spec();
  s.files.chain = dir_.file("outside.pem");
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kPolicyRejected);
  EXPECT_TRUE(o.steps.empty());
  EXPECT_TRUE(listing().empty());
  EXPECT_FALSE(exists(dir_.file("outside.pem")));
}

TEST_F(DeployFiles, ASpecThatWouldNotParseIsRefused) {
  TargetSpec s = spec();
  s.files.key = "relative.key";
  const Outcome o = deploy(s);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(o.steps.empty());
}

TEST_F(DeployFiles, AFailedReloadPutsBackExactlyThePreviousFiles) {
  spit(at("web.key"), "old key bytes", 0640);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(at("web.key").c_str(), 65534, 65534), 0);
  }
  const struct stat before = stat_of(at("web.key"));
  // Fails the first time, succeeds the second: the reload after the restore.
  const std::string flag = dir_.file("reloaded-once");
  TargetSpec s = spec();
  s.reload = Reload{{"/bin/sh", "-c",
                     "if [ -e " + flag + " ]; then exit 0; fi; : > " + flag +
                         "; echo nginx: bad config >&2; exit 1"},
                    seconds(10)};
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back) << describe(o);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(step_names(o),
            (std::vector<std::string>{"write", "reload", "restore", "reload-after-restore"}));
  EXPECT_FALSE(o.steps[1].ok);
  EXPECT_NE(o.steps[1].detail.find("nginx: bad config"), std::string::npos) << o.steps[1].detail;
  EXPECT_TRUE(o.steps[2].ok);
  EXPECT_TRUE(o.steps[3].ok);

  EXPECT_EQ(slurp(at("web.key")), "old key bytes");
  const struct stat after = stat_of(at("web.key"));
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  // What did not exist before does not exist after.
  EXPECT_EQ(listing(), std::vector<std::string>{"web.key"});
}

TEST_F(DeployFiles, AFailedVerificationPutsBackThePreviousFiles) {
  spit(at("web.crt"), "old certificate", 0644);
  spit(at("fullchain.pem"), "old chain", 0600);
  const std::uint16_t closed = discovery::net::testing::free_port();
  TargetSpec s = spec();
  s.reload = Reload{{"/bin/true"}, seconds(5)};
  s.verify = Verify{"127.0.0.1:" + std::to_string(closed), std::nullopt, seconds(1)};
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = deploy(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(step_names(o), (std::vector<std::string>{"write", "reload", "verify", "restore",
                                                     "reload-after-restore"}));
  EXPECT_NE(o.steps[2].detail.find("connection refused"), std::string::npos) << o.steps[2].detail;
  EXPECT_EQ(slurp(at("web.crt")), "old certificate");
  EXPECT_EQ(slurp(at("fullchain.pem")), "old chain");
  EXPECT_EQ(stat_of(at("fullchain.pem")).st_mode & 07777, 0600u);
  EXPECT_EQ(listing(), (std::vector<std::string>{"fullchain.pem", "web.crt"}));
}

TEST_F(DeployFiles, AReloadThatHangsIsKilledAtItsTimeout) {
  TargetSpec s = spec();
  s.reload = Reload{{"/bin/sh", "-c", "sleep 30 & sleep 30"}, seconds(1)};
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = deploy(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back);
  ASSERT_GE(o.steps.size(), 2u);
  EXPECT_NE(o.steps[1].detail.find("timed out"), std::string::npos) << o.steps[1].detail;
  EXPECT_TRUE(listing().empty());
}

TEST_F(DeployFiles, ReloadOutputIsBoundedAndTheEnvironmentIsNotInherited) {
  ::setenv("CERTWARD_TEST_SECRET", "hunter2", 1);
  TargetSpec s = spec();
  s.reload = Reload{{"/bin/sh", "-c",
                     "[ -z \"${CERTWARD_TEST_SECRET:-}\" ] || exit 9; "
                     "head -c 100000 /dev/zero | tr '\\0' x; exit 3"},
                    seconds(10)};
  const Outcome o = deploy(s);
  ::unsetenv("CERTWARD_TEST_SECRET");
  ASSERT_GE(o.steps.size(), 2u);
  EXPECT_NE(o.steps[1].detail.find("exit status 3"), std::string::npos) << o.steps[1].detail;
  EXPECT_LT(o.steps[1].detail.size(), 2048u);
}

TEST_F(DeployFiles, AReloadProgramThatDoesNotExistIsAFailedReload) {
  TargetSpec s = spec();
  s.reload = Reload{{"/nonexistent/reload"}, seconds(5)};
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_TRUE(listing().empty());
}

TEST_F(DeployFiles, WritesAPkcs12WithThePasswordFromAPrivateFile) {
  const std::string password_file = dir_.file("p12.pass");
  spit(password_file, "s3cret\n", 0600);
  TargetSpec s;
  s.name = "java";
  s.files.pkcs12 = at("web.p12");
  s.files.pkcs12_password_file = password_file;
  const Outcome o = deploy(s);
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_EQ(stat_of(at("web.p12")).st_mode & 07777, 0600u);
  const std::string p12 = slurp(at("web.p12"));
  auto contents = x509::parse_pkcs12(
      std::span(reinterpret_cast<const std::uint8_t*>(p12.data()), p12.size()), "s3cret");
  ASSERT_TRUE(contents.has_value()) << contents.error().message;
  ASSERT_TRUE(contents->key.has_value());
  ASSERT_TRUE(contents->leaf.has_value());
  EXPECT_EQ(contents->leaf->info().sha256_hex, issued_->sha256());
  ASSERT_EQ(contents->chain.size(), 1u);
  EXPECT_EQ(contents->chain[0].info().sha256_hex, pki_.intermediate().info().sha256_hex);
}

TEST_F(DeployFiles, RefusesAPasswordFileOthersCanRead) {
  const std::string password_file = dir_.file("p12.pass");
  spit(password_file, "s3cret", 0644);
  TargetSpec s = spec();
  s.files.pkcs12 = at("web.p12");
  s.files.pkcs12_password_file = password_file;
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kPolicyRejected);
  EXPECT_TRUE(listing().empty());
}

// A local user who can write in the allowed directory swaps a subdirectory for a link to
// another directory (/etc, say) while the deployment runs — here the reload does it, then
// fails. The rollback must not follow the link: it neither removes the file of the same name
// there nor writes the previous (the swapper's) bytes there.
TEST_F(DeployFiles, TheRollbackDoesNotFollowADirectorySwappedForASymlink) {
  const std::string sub = at("sub");
  const std::string elsewhere = dir_.file("etc");
  std::filesystem::create_directories(sub);
  std::filesystem::create_directories(elsewhere);
  spit(elsewhere + "/passwd", "root:x:0:0");
  spit(elsewhere + "/profile.sh", "precious");
  spit(sub + "/profile.sh", "echo owned");  // the swapper's file, put back by a rollback
  TargetSpec s;
  s.name = "web";
  s.files.key = sub + "/passwd";  // nothing there before: removed by a rollback
  s.files.fullchain = sub + "/profile.sh";
  s.reload = Reload{
      {"/bin/sh", "-c",
       "mv '" + sub + "' '" + sub + ".real' && ln -s '" + elsewhere + "' '" + sub + "' && exit 1"},
      seconds(5)};
  const Outcome o = deploy(s);
  EXPECT_FALSE(o.deployed);
  EXPECT_FALSE(o.rolled_back) << describe(o);
  EXPECT_EQ(slurp(elsewhere + "/passwd"), "root:x:0:0");
  EXPECT_EQ(slurp(elsewhere + "/profile.sh"), "precious");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(elsewhere),
                          std::filesystem::directory_iterator()),
            2);
}

// The same swap before a deployment: the path judged is the path written, or nothing is.
TEST_F(DeployFiles, WritesNothingThroughADirectorySwappedAfterTheCheck) {
  const std::string sub = at("sub");
  const std::string elsewhere = dir_.file("etc");
  std::filesystem::create_directories(elsewhere);
  std::filesystem::create_directory_symlink(elsewhere, sub);
  EXPECT_FALSE(replace_file_atomic(sub + "/passwd", "x", 0644, {::geteuid(), ::getegid()}));
  spit(elsewhere + "/passwd", "root:x:0:0");
  EXPECT_FALSE(remove_file_strict(sub + "/passwd"));
  EXPECT_EQ(slurp(elsewhere + "/passwd"), "root:x:0:0");
  auto opened = open_file_strict(sub + "/passwd", O_RDONLY);
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
}

// At deployment a name is dialled only at the addresses it resolves to inside
// verify_networks: "localhost" outside them is not dialled at all, and the step fails at once.
TEST_F(DeployFiles, VerificationDialsNoAddressOutsideTheVerifyNetworks) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  policy_.verify_networks = {"10.0.0.0/8"};
  TargetSpec s = spec();
  s.verify = Verify{"localhost:" + std::to_string(ntohs(addr.sin_port)), std::nullopt, seconds(10)};
  const auto start = std::chrono::steady_clock::now();
  const Outcome o = deploy(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back);
  ASSERT_GE(o.steps.size(), 2u);
  EXPECT_NE(o.steps[1].detail.find("verify_networks"), std::string::npos) << o.steps[1].detail;
  EXPECT_LT(::accept(listener, nullptr, nullptr), 0);  // nobody called
  ::close(listener);
}

}  // namespace
}  // namespace certward::lifecycle::deploy
