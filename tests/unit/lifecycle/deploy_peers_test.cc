// Deployments against real peers on 127.0.0.1: an nginx (started once for the suite, with a
// throwaway prefix) whose certificates the files target and the SSH target replace, and an
// sshd (throwaway host key; the test's own user key and known_hosts) through which the SSH
// target writes into a directory that the same nginx serves from. What nginx serves is read
// with `openssl s_client`, not with the code under test.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lifecycle/deploy/target.h"
#include "unit/discovery_net/peers.h"
#include "unit/lifecycle/deploy_support.h"

namespace certward::lifecycle::deploy {
namespace {

using namespace testing;  // NOLINT: the deployment test helpers
namespace peers = discovery::net::testing;
using std::chrono::seconds;

std::string command_output(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct Peers {
  TempDir dir;
  TestPki pki;
  std::uint16_t nginx_port = 0;
  std::uint16_t sshd_port = 0;
  std::unique_ptr<peers::Process> nginx;
  std::unique_ptr<peers::Process> sshd;
  std::string failure;

  std::string f(const std::string& name) const { return dir.file(name); }
  std::string conf() const { return f("nginx.conf"); }

  // The key and full chain of a fresh certificate for `dns`, written as nginx reads them.
  void install(const std::string& sub, const std::string& dns) {
    auto leaf = pki.leaf(dns);
    auto pem = leaf->key.to_pkcs8_pem();
    spit(f(sub + "/key.pem"), std::string(reinterpret_cast<const char*>(pem->data()), pem->size()),
         0600);
    spit(f(sub + "/fullchain.pem"), leaf->certificate.pem() + pki.intermediate().pem());
  }

  void start_nginx() {
    for (const char* sub : {"www", "ssh", "other"}) std::filesystem::create_directories(f(sub));
    install("www", "www.example.com");
    install("ssh", "ssh.example.com");
    install("other", "other.example");
    nginx_port = peers::free_port();
    std::ofstream c(conf());
    c << "daemon off;\npid " << f("nginx.pid") << ";\nerror_log " << f("nginx-error.log")
      << ";\nworker_processes 1;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n";
    for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      c << "  " << t << "_temp_path " << f(std::string("tmp-") + t) << ";\n";
    }
    const std::pair<const char*, const char*> servers[] = {
        {"www.example.com", "www"}, {"ssh.example.com", "ssh"}, {"other.example", "other"}};
    for (const auto& [name, sub] : servers) {
      c << "  server {\n    listen 127.0.0.1:" << nginx_port << " ssl"
        << (std::string(sub) == "other" ? " default_server" : "") << ";\n    server_name " << name
        << ";\n    ssl_certificate " << f(std::string(sub) + "/fullchain.pem")
        << ";\n    ssl_certificate_key " << f(std::string(sub) + "/key.pem")
        << ";\n    return 204;\n  }\n";
    }
    c << "}\n";
    c.close();
    nginx = std::make_unique<peers::Process>(
        std::vector<std::string>{"/usr/sbin/nginx", "-p", dir.path().string(), "-c", conf()},
        f("nginx.out"));
    if (!peers::wait_for_port(nginx_port, seconds(10))) failure += "nginx did not start; ";
  }

  void start_sshd() {
    std::filesystem::create_directories(f("client"));
    const std::string keygen = "ssh-keygen -q -N '' -C deploy-test -t ed25519 -f ";
    if (!peers::run(keygen + f("host_ed25519")) || !peers::run(keygen + f("other_host")) ||
        !peers::run(keygen + f("client/id_ed25519"))) {
      failure += "ssh-keygen failed; ";
      return;
    }
    std::filesystem::copy_file(f("client/id_ed25519.pub"), f("authorized_keys"));
    sshd_port = peers::free_port();
    const std::string where = "[127.0.0.1]:" + std::to_string(sshd_port) + " ";
    std::ofstream(f("client/known_hosts")) << where << slurp(f("host_ed25519.pub"));
    std::ofstream(f("client/wrong_known_hosts")) << where << slurp(f("other_host.pub"));
    std::ofstream c(f("sshd_config"));
    c << "Port " << sshd_port << "\nListenAddress 127.0.0.1\nHostKey " << f("host_ed25519")
      << "\nPidFile " << f("sshd.pid") << "\nUsePAM no\nStrictModes no\n"
      << "AuthorizedKeysFile " << f("authorized_keys") << "\nPermitRootLogin prohibit-password\n"
      << "PasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel ERROR\n"
      << "Subsystem sftp internal-sftp\n";
    c.close();
    // sshd started as root wants its privilege separation directory, which only the packaged
    // service creates.
    ::mkdir("/run/sshd", 0755);
    sshd = std::make_unique<peers::Process>(
        std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", f("sshd_config")},
        f("sshd.log"));
    if (!peers::wait_for_port(sshd_port, seconds(10))) failure += "sshd did not start; ";
  }

  // The SHA-256 (lower-case hex) of the leaf nginx serves for `sni`, by openssl s_client.
  std::string served(const std::string& sni) const {
    const std::string fp = command_output(
        "openssl s_client -connect 127.0.0.1:" + std::to_string(nginx_port) + " -servername " +
        sni + " </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null");
    std::string hex;
    const auto eq = fp.find('=');
    if (eq == std::string::npos) return hex;
    for (char ch : fp.substr(eq + 1)) {
      if (std::isxdigit(static_cast<unsigned char>(ch))) {
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
    }
    return hex;
  }

  // nginx applies a reload in its own time: waits until it serves `sha256` for `sni`.
  bool serves(const std::string& sni, const std::string& sha256) const {
    for (int i = 0; i < 50; ++i) {
      if (served(sni) == sha256) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  std::vector<std::string> nginx_reload() const {
    return {"/usr/sbin/nginx", "-p", dir.path().string(), "-c", conf(), "-s", "reload"};
  }
};

class DeployPeers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    peers_ = new Peers();
    peers_->start_nginx();
    if (peers_->failure.empty()) peers_->start_sshd();
  }
  static void TearDownTestSuite() {
    delete peers_;
    peers_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(peers_->failure, "");
    policy_.allowed_paths = {peers_->f("www")};
    policy_.allowed_ssh_hosts = {"127.0.0.1"};
  }

  static std::string sha256_of_file_leaf(const std::string& sub) {
    return command_output("openssl x509 -in " + peers_->f(sub + "/fullchain.pem") +
                          " -noout -fingerprint -sha256 | tr -d : | cut -d= -f2 | tr A-F a-f | "
                          "tr -d '\\n'");
  }

  TargetSpec files_target(const std::string& sni) const {
    TargetSpec s;
    s.name = "www";
    s.files.key = peers_->f("www/key.pem");
    s.files.fullchain = peers_->f("www/fullchain.pem");
    s.reload = Reload{peers_->nginx_reload(), seconds(20)};
    s.verify = Verify{"127.0.0.1:" + std::to_string(peers_->nginx_port), sni, seconds(10)};
    return s;
  }

  TargetSpec ssh_target(const std::string& sni, std::uint16_t port = 0,
                        const std::string& known_hosts = "client/known_hosts") const {
    TargetSpec s;
    s.name = "edge";
    s.kind = TargetKind::kSsh;
    s.ssh = SshHost{"127.0.0.1",
                    port != 0 ? port : peers_->sshd_port,
                    "root",
                    peers_->f("client/id_ed25519"),
                    peers_->f(known_hosts),
                    seconds(5)};
    s.files.key = peers_->f("ssh/key.pem");
    s.files.fullchain = peers_->f("ssh/fullchain.pem");
    s.files.key_mode = 0640;
    s.files.group = "nogroup";
    s.reload = Reload{peers_->nginx_reload(), seconds(20)};
    s.verify = Verify{"127.0.0.1:" + std::to_string(peers_->nginx_port), sni, seconds(10)};
    return s;
  }

  Outcome deploy(const TargetSpec& s, const Issued& issued) const {
    Deployer deployer(clock_, policy_);
    return deployer.deploy(s, issued.material());
  }

  // A deployment that failed with kUnavailable at one of its steps and was rolled back, with
  // these steps, the reload after the restore having succeeded.
  static void expect_rolled_back(const Outcome& o, const std::vector<std::string>& steps) {
    EXPECT_FALSE(o.deployed);
    EXPECT_TRUE(o.rolled_back) << describe(o);
    ASSERT_TRUE(o.error.has_value());
    EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
    EXPECT_EQ(step_names(o), steps);
    ASSERT_FALSE(o.steps.empty());
    EXPECT_TRUE(o.steps.back().ok) << o.steps.back().detail;
  }

  static std::vector<std::string> listing(const std::string& sub) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(peers_->f(sub))) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  SystemClock clock_;
  Policy policy_;
  static Peers* peers_;
};

Peers* DeployPeers::peers_ = nullptr;

const std::vector<std::string> kBothFiles = {"fullchain.pem", "key.pem"};

TEST_F(DeployPeers, FilesTargetReloadsNginxAndVerifiesTheNewCertificate) {
  auto leaf = peers_->pki.leaf("www.example.com");
  ASSERT_NE(peers_->served("www.example.com"), leaf->sha256());
  const Outcome o = deploy(files_target("www.example.com"), *leaf);
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_EQ(step_names(o), (std::vector<std::string>{"write", "reload", "verify"}));
  EXPECT_EQ(o.steps[2].detail, "served SHA256:" + leaf->sha256());
  // Old workers may still take a connection or two while they wind down.
  EXPECT_TRUE(peers_->serves("www.example.com", leaf->sha256()));
  EXPECT_EQ(listing("www"), kBothFiles);
}

TEST_F(DeployPeers, FilesTargetWhoseVerificationFailsLeavesNginxServingTheOldCertificate) {
  const std::string before = sha256_of_file_leaf("www");
  ASSERT_TRUE(peers_->serves("www.example.com", before));
  const std::string old_key = slurp(peers_->f("www/key.pem"));
  auto leaf = peers_->pki.leaf("www.example.com");
  // other.example is another server block with its own certificate: never the new one.
  TargetSpec s = files_target("other.example");
  s.verify->timeout = seconds(2);
  const Outcome o = deploy(s, *leaf);
  expect_rolled_back(o, {"write", "reload", "verify", "restore", "reload-after-restore"});
  EXPECT_NE(o.steps[2].detail.find("served SHA256:" + peers_->served("other.example")),
            std::string::npos)
      << o.steps[2].detail;
  EXPECT_EQ(slurp(peers_->f("www/key.pem")), old_key);
  EXPECT_EQ(sha256_of_file_leaf("www"), before);
  EXPECT_TRUE(peers_->serves("www.example.com", before));
  EXPECT_EQ(listing("www"), kBothFiles);
}

TEST_F(DeployPeers, FilesTargetWhoseReloadFailsLeavesNginxServingTheOldCertificate) {
  const std::string before = sha256_of_file_leaf("www");
  auto leaf = peers_->pki.leaf("www.example.com");
  TargetSpec s = files_target("www.example.com");
  s.reload->argv[4] = peers_->f("missing.conf");  // nginx -s reload fails to read it
  const Outcome o = deploy(s, *leaf);
  EXPECT_FALSE(o.deployed);
  EXPECT_TRUE(o.rolled_back);
  EXPECT_EQ(step_names(o),
            (std::vector<std::string>{"write", "reload", "restore", "reload-after-restore"}));
  EXPECT_EQ(sha256_of_file_leaf("www"), before);
  EXPECT_TRUE(peers_->serves("www.example.com", before));
}

TEST_F(DeployPeers, SshTargetCopiesReloadsRemotelyAndVerifies) {
  auto leaf = peers_->pki.leaf("ssh.example.com");
  const Outcome o = deploy(ssh_target("ssh.example.com"), *leaf);
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_EQ(step_names(o), (std::vector<std::string>{"copy", "write", "reload", "verify"}));
  EXPECT_TRUE(peers_->serves("ssh.example.com", leaf->sha256()));
  EXPECT_EQ(slurp(peers_->f("ssh/fullchain.pem")),
            leaf->certificate.pem() + peers_->pki.intermediate().pem());
  const struct stat key = stat_of(peers_->f("ssh/key.pem"));
  EXPECT_EQ(key.st_mode & 07777, 0640u);
  EXPECT_EQ(key.st_gid, 65534u);  // nogroup
  EXPECT_EQ(stat_of(peers_->f("ssh/fullchain.pem")).st_mode & 07777, 0644u);
  // No temporary copy or backup is left behind.
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetWhoseVerificationFailsRestoresRemotely) {
  const std::string before = sha256_of_file_leaf("ssh");
  ASSERT_TRUE(peers_->serves("ssh.example.com", before));
  const std::string old_key = slurp(peers_->f("ssh/key.pem"));
  const struct stat old_stat = stat_of(peers_->f("ssh/key.pem"));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  TargetSpec s = ssh_target("other.example");
  s.verify->timeout = seconds(2);
  const Outcome o = deploy(s, *leaf);
  expect_rolled_back(o, {"copy", "write", "reload", "verify", "restore", "reload-after-restore"});
  EXPECT_EQ(slurp(peers_->f("ssh/key.pem")), old_key);
  const struct stat now = stat_of(peers_->f("ssh/key.pem"));
  EXPECT_EQ(now.st_ino, old_stat.st_ino);  // the very file that was there
  EXPECT_EQ(now.st_mode, old_stat.st_mode);
  EXPECT_TRUE(peers_->serves("ssh.example.com", before));
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetWhoseReloadFailsRestoresRemotely) {
  const std::string before = sha256_of_file_leaf("ssh");
  const std::string old_key = slurp(peers_->f("ssh/key.pem"));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  // Fails the first time, succeeds the second: the reload after the restore.
  const std::string flag = peers_->f("ssh-reloaded-once");
  std::filesystem::remove(flag);
  TargetSpec s = ssh_target("ssh.example.com");
  s.reload =
      Reload{{"/bin/sh", "-c", "[ -e \"$0\" ] && exit 0; : > \"$0\"; echo broken; exit 7", flag},
             seconds(10)};
  const Outcome o = deploy(s, *leaf);
  expect_rolled_back(o, {"copy", "write", "reload", "restore", "reload-after-restore"});
  EXPECT_NE(o.steps[2].detail.find("exit status 7: broken"), std::string::npos)
      << o.steps[2].detail;
  EXPECT_EQ(slurp(peers_->f("ssh/key.pem")), old_key);
  EXPECT_EQ(sha256_of_file_leaf("ssh"), before);
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetThatIsUnreachableChangesNothing) {
  const std::string old_key = slurp(peers_->f("ssh/key.pem"));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  const Outcome o = deploy(ssh_target("ssh.example.com", peers::free_port()), *leaf);
  EXPECT_FALSE(o.deployed);
  EXPECT_FALSE(o.rolled_back);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_EQ(step_names(o), std::vector<std::string>{"copy"});
  EXPECT_NE(o.error->message.find("refused"), std::string::npos) << o.error->message;
  EXPECT_EQ(slurp(peers_->f("ssh/key.pem")), old_key);
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetWithAnotherHostKeyIsRefused) {
  const std::string old_key = slurp(peers_->f("ssh/key.pem"));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  const Outcome o = deploy(ssh_target("ssh.example.com", 0, "client/wrong_known_hosts"), *leaf);
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kUnavailable);
  EXPECT_NE(o.error->message.find("Host key verification failed"), std::string::npos)
      << o.error->message;
  EXPECT_EQ(slurp(peers_->f("ssh/key.pem")), old_key);
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetRefusesARemoteSymlinkAndLeavesNoTrace) {
  const std::string victim = peers_->f("victim");
  spit(victim, "precious");
  TargetSpec s = ssh_target("ssh.example.com");
  s.files.chain = peers_->f("ssh/chain.pem");
  ASSERT_EQ(::symlink(victim.c_str(), s.files.chain->c_str()), 0);
  const std::string old_key = slurp(peers_->f("ssh/key.pem"));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  const Outcome o = deploy(s, *leaf);
  ::unlink(s.files.chain->c_str());
  EXPECT_FALSE(o.deployed);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kInvalidArgument) << o.error->message;
  EXPECT_EQ(slurp(victim), "precious");
  EXPECT_EQ(slurp(peers_->f("ssh/key.pem")), old_key);
  EXPECT_EQ(listing("ssh"), kBothFiles);
}

TEST_F(DeployPeers, SshTargetQuotesEveryRemoteValue) {
  // Quotes, spaces and shell syntax in remote paths and reload arguments are data.
  const std::string odd = "odd/it's a $(touch pwned) `touch pwned2`; dir";
  std::filesystem::create_directories(peers_->f(odd));
  auto leaf = peers_->pki.leaf("ssh.example.com");
  TargetSpec s = ssh_target("ssh.example.com");
  s.files.key = peers_->f(odd + "/k'ey $HOME.pem");
  s.files.fullchain = peers_->f(odd + "/full chain.pem");
  s.reload =
      Reload{{"/bin/sh", "-c", "test \"$1\" = \"it's \\$HOME\"", "sh", "it's $HOME"}, seconds(10)};
  s.verify.reset();
  s.files.owner = "nobody";
  const Outcome o = deploy(s, *leaf);
  ASSERT_TRUE(o.deployed) << describe(o);
  EXPECT_EQ(stat_of(peers_->f(odd + "/full chain.pem")).st_uid, 65534u);
  EXPECT_EQ(stat_of(peers_->f(odd + "/full chain.pem")).st_gid, 65534u);  // nogroup by name
  EXPECT_EQ(slurp(peers_->f(odd + "/full chain.pem")),
            leaf->certificate.pem() + peers_->pki.intermediate().pem());
  EXPECT_TRUE(exists(peers_->f(odd + "/k'ey $HOME.pem")));
  EXPECT_EQ(listing(odd), (std::vector<std::string>{"full chain.pem", "k'ey $HOME.pem"}));
  EXPECT_FALSE(exists("/root/pwned"));
  EXPECT_FALSE(exists("/root/pwned2"));
}

TEST_F(DeployPeers, SshTargetOnAHostThePolicyDoesNotAllowRunsNoStep) {
  policy_.allowed_ssh_hosts = {"edge.example.com"};
  auto leaf = peers_->pki.leaf("ssh.example.com");
  const Outcome o = deploy(ssh_target("ssh.example.com"), *leaf);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(o.error->code, ErrorCode::kPolicyRejected);
  EXPECT_TRUE(o.steps.empty());
}

}  // namespace
}  // namespace certward::lifecycle::deploy
