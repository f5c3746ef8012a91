// The SSH probe against a real sshd on loopback, with host keys made by ssh-keygen (Ed25519,
// ECDSA, a weak RSA-1024) and an Ed25519 host certificate signed by a CA: every key and the
// certificate must be collected, with the fingerprints ssh-keygen prints, and the certificate's
// principals and CA. Plus peers that are not SSH.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/encoding.h"
#include "discovery/net/scanner.h"
#include "unit/discovery_net/peers.h"
#include "unit/testing/temp_dir.h"

namespace certward::discovery::net {
namespace {

using testing::Process;
using testing::ScriptedPeer;

std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  ::pclose(pipe);
  return out;
}

// "256 SHA256:abc... comment (ED25519)" -> "SHA256:abc...".
std::string keygen_fingerprint(const std::string& pub) {
  std::string line = command_output("ssh-keygen -l -E sha256 -f " + pub);
  auto start = line.find("SHA256:");
  if (start == std::string::npos) return "";
  return line.substr(start, line.find(' ', start) - start);
}

Bytes pub_blob(const std::string& pub) {
  std::ifstream in(pub);
  std::string type, base64;
  in >> type >> base64;
  auto blob = from_base64(base64);
  return blob ? *blob : Bytes{};
}

struct Sshd {
  certward::testing::TempDir dir;
  std::uint16_t port = 0;
  std::uint16_t nist_port = 0;  // the same keys, key exchange over P-384 only
  std::unique_ptr<Process> process;
  std::unique_ptr<Process> nist_process;
  std::unique_ptr<ScriptedPeer> not_ssh;
  std::string failure;

  // Writes a configuration serving every host key plus `extra`, starts sshd on a free port.
  std::uint16_t launch(const std::string& name, const std::string& extra,
                       std::unique_ptr<Process>& out) {
    auto f = [&](const std::string& file) { return dir.file(file); };
    std::uint16_t p = testing::free_port();
    std::ofstream config(f(name));
    config << "Port " << p << "\nListenAddress 127.0.0.1\n"
           << "HostKey " << f("host_ed25519") << "\nHostKey " << f("host_ecdsa") << "\nHostKey "
           << f("host_rsa") << "\nHostCertificate " << f("host_ed25519-cert.pub") << "\n"
           << "PidFile " << f(name + ".pid") << "\nUsePAM no\nStrictModes no\n"
           << "AuthorizedKeysFile none\nLogLevel ERROR\n"
           << extra;
    config.close();
    out = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/sshd", "-D", "-e", "-f", f(name)}, f(name + ".log"));
    if (!testing::wait_for_port(p, std::chrono::seconds(10))) failure += name + ": no sshd; ";
    return p;
  }

  void start() {
    auto f = [&](const std::string& name) { return dir.file(name); };
    std::string keygen = "ssh-keygen -q -N '' -C scan-test ";
    bool made = testing::run(keygen + "-t ed25519 -f " + f("host_ed25519")) &&
                testing::run(keygen + "-t ecdsa -b 256 -f " + f("host_ecdsa")) &&
                testing::run(keygen + "-t rsa -b 1024 -f " + f("host_rsa")) &&
                testing::run(keygen + "-t ed25519 -f " + f("ca")) &&
                testing::run("ssh-keygen -q -s " + f("ca") +
                             " -h -I scan-host -n host.example,alias.example -V -5m:+1d " +
                             f("host_ed25519.pub"));
    if (!made) {
      failure = "ssh-keygen failed";
      return;
    }
    // sshd started as root wants its privilege separation directory, which only the packaged
    // service creates.
    ::mkdir("/run/sshd", 0755);
    port = launch("sshd_config", "", process);
    nist_port = launch("sshd_nist_config", "KexAlgorithms ecdh-sha2-nistp384\n", nist_process);
    not_ssh = std::make_unique<ScriptedPeer>([](int fd, const std::atomic<bool>&) {
      testing::write_all(fd, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });
  }
};

class SshScan : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sshd_ = new Sshd();
    sshd_->start();
  }
  static void TearDownTestSuite() {
    delete sshd_;
    sshd_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(sshd_->failure, ""); }

  static SshObservation scan_one(std::uint16_t port, ScanOptions o = {}) {
    NetworkScanner scanner(o);
    std::vector<Observation> got;
    Endpoint e{"127.0.0.1", "127.0.0.1", port, "", "ssh"};
    EXPECT_TRUE(scanner.scan({e}, [&](Observation obs) { got.push_back(std::move(obs)); }));
    EXPECT_EQ(got.size(), 1u);
    if (got.empty()) return {};
    return std::get<SshObservation>(got[0]);
  }

  static Sshd* sshd_;
};

Sshd* SshScan::sshd_ = nullptr;

TEST_F(SshScan, CollectsEveryHostKeyAndTheHostCertificate) {
  auto obs = scan_one(sshd_->port);
  ASSERT_FALSE(obs.error.has_value()) << obs.error->message;
  EXPECT_TRUE(obs.banner.starts_with("SSH-2.0-OpenSSH_")) << obs.banner;

  std::vector<std::string> types;
  for (const auto& k : obs.keys) types.push_back(k.type);
  std::sort(types.begin(), types.end());
  EXPECT_EQ(types, (std::vector<std::string>{"ecdsa-sha2-nistp256", "ssh-ed25519",
                                             "ssh-ed25519-cert-v01@openssh.com", "ssh-rsa"}));

  auto key = [&](const std::string& type) -> const SshKey* {
    for (const auto& k : obs.keys) {
      if (k.type == type) return &k;
    }
    return nullptr;
  };
  const std::string d = sshd_->dir.path().string() + "/";
  ASSERT_NE(key("ssh-ed25519"), nullptr);
  EXPECT_EQ(key("ssh-ed25519")->fingerprint, keygen_fingerprint(d + "host_ed25519.pub"));
  EXPECT_EQ(key("ecdsa-sha2-nistp256")->fingerprint, keygen_fingerprint(d + "host_ecdsa.pub"));
  EXPECT_EQ(key("ssh-rsa")->fingerprint, keygen_fingerprint(d + "host_rsa.pub"));
  EXPECT_EQ(key("ssh-rsa")->bits, 1024);

  const SshKey* cert = key("ssh-ed25519-cert-v01@openssh.com");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->blob, pub_blob(d + "host_ed25519-cert.pub"));
  ASSERT_TRUE(cert->cert.has_value());
  EXPECT_TRUE(cert->cert->host);
  EXPECT_EQ(cert->cert->key_id, "scan-host");
  EXPECT_EQ(cert->cert->principals, (std::vector<std::string>{"host.example", "alias.example"}));
  EXPECT_EQ(cert->cert->ca_fingerprint, keygen_fingerprint(d + "ca.pub"));

  // The RSA-1024 host key, and nothing else.
  ASSERT_EQ(obs.findings.size(), 1u);
  EXPECT_EQ(obs.findings[0].code, "weak_ssh_key");
  EXPECT_EQ(obs.findings[0].fingerprint, key("ssh-rsa")->fingerprint);
}

TEST_F(SshScan, NistCurveKeyExchangeWhenTheServerHasNoCurve25519) {
  auto obs = scan_one(sshd_->nist_port);
  ASSERT_FALSE(obs.error.has_value()) << obs.error->message;
  EXPECT_EQ(obs.keys.size(), 4u);
}

TEST_F(SshScan, PeersThatAreNotSsh) {
  auto closed = scan_one(testing::free_port());
  ASSERT_TRUE(closed.error.has_value());
  EXPECT_EQ(closed.error->code, ErrorCode::kUnavailable);
  EXPECT_TRUE(closed.error->message.starts_with("connection refused")) << closed.error->message;

  auto http = scan_one(sshd_->not_ssh->port());
  ASSERT_TRUE(http.error.has_value());
  EXPECT_TRUE(http.error->message.starts_with("not SSH")) << http.error->message;
  EXPECT_TRUE(http.keys.empty());

  // A server that listens and says nothing: bounded by the handshake timeout.
  ScriptedPeer silent(testing::hold);
  ScanOptions o;
  o.handshake_timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto quiet = scan_one(silent.port(), o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_TRUE(quiet.error.has_value());
  EXPECT_TRUE(quiet.error->message.starts_with("handshake timed out")) << quiet.error->message;
}

}  // namespace
}  // namespace certward::discovery::net
