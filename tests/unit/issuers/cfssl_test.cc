// The CFSSL issuer against a real `cfssl serve` (Debian's golang-cfssl) on loopback, started once
// for the suite with a P-256 CA made by openssl and a config whose "server" profile needs the
// HMAC auth key and whose default profile needs none. Plus what must fail without a CFSSL (a
// closed port, a foreign trust anchor, a bare public key) and, from a canned peer, answers no
// real CFSSL gives (garbage, wrong types, a certificate for other names, a server error).
//
// cfssl runs as a child process stopped by PID, and the canned peer is plain sockets: the
// peers share no code with what they test (processes and free ports come from the scanner
// tests' helpers).

#include "issuers/cfssl.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "unit/discovery_net/peers.h"
#include "unit/testing/pki.h"
#include "unit/testing/temp_dir.h"
#include "x509/bundle.h"
#include "x509/csr.h"
#include "x509/names.h"

namespace certward::issuers {
namespace {

using std::chrono::seconds;
using x509::SanType;
using x509::SubjectAltName;

using discovery::net::testing::free_port;
using discovery::net::testing::run;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

x509::Certificate certificate_file(const std::string& path) {
  auto certs = x509::parse_certificates(as_bytes(read_file(path)));
  CW_CHECK(certs.has_value() && certs->size() == 1);
  return certs->front();
}

// A self-signed P-256 CA made by openssl in `dir` (ca.pem, ca-key.pem).
bool make_ca(const std::string& dir, const std::string& cn) {
  return run("openssl ecparam -name prime256v1 -genkey -noout -out " + dir + "/ca-key.pem") &&
         run("openssl req -new -x509 -key " + dir + "/ca-key.pem -subj '/CN=" + cn +
             "' -days 3650 -addext basicConstraints=critical,CA:TRUE"
             " -addext keyUsage=critical,keyCertSign,cRLSign -out " +
             dir + "/ca.pem 2>/dev/null");
}

using CfsslProcess = std::unique_ptr<discovery::net::testing::Process>;

// `cfssl serve` for the CA in `ca_dir` on 127.0.0.1:port, logging to `log`; null if it never
// answered (the log says why). Stopped by PID when the pointer goes.
CfsslProcess start_cfssl(const std::string& ca_dir, const std::string& config, std::uint16_t port,
                         const std::string& log) {
  auto process = std::make_unique<discovery::net::testing::Process>(
      std::vector<std::string>{"cfssl", "serve", "-address", "127.0.0.1", "-port",
                               std::to_string(port), "-ca", ca_dir + "/ca.pem", "-ca-key",
                               ca_dir + "/ca-key.pem", "-config", config},
      log);
  if (!discovery::net::testing::wait_for_port(port, seconds(15))) return nullptr;
  return process;
}

struct Cfssl {
  certward::testing::TempDir dir;
  std::string key_hex;  // the "server" profile's auth key
  std::string config;
  std::uint16_t port = 0;
  CfsslProcess process;
  std::optional<x509::Certificate> ca;
  std::optional<x509::Certificate> other_ca;  // trusted by nobody here
  std::string failure;

  void start() {
    key_hex = to_hex(crypto::random_bytes(32));
    const std::string ca_dir = dir.file("ca");
    const std::string other_dir = dir.file("other");
    std::filesystem::create_directories(ca_dir);
    std::filesystem::create_directories(other_dir);
    if (!make_ca(ca_dir, "CFSSL Test CA") || !make_ca(other_dir, "Other Test CA")) {
      failure = "openssl could not make the test CAs";
      return;
    }
    ca = certificate_file(ca_dir + "/ca.pem");
    other_ca = certificate_file(other_dir + "/ca.pem");
    config = dir.file("cfg.json");
    std::ofstream(config) << R"({"signing": {
        "default": {"expiry": "168h", "usages": ["signing", "key encipherment", "server auth"]},
        "profiles": {"server": {"expiry": "720h", "auth_key": "k",
                                "usages": ["signing", "key encipherment", "server auth"]}}},
      "auth_keys": {"k": {"type": "standard", "key": ")"
                          << key_hex << R"("}}})";
    port = free_port();
    process = start_cfssl(ca_dir, config, port, dir.file("cfssl.log"));
    if (!process) failure = "cfssl serve did not start: " + read_file(dir.file("cfssl.log"));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Answers each API path with a canned HTTP response ("" for any other path): what no real
// CFSSL sends. Each connection is closed after its answer.
class CannedCfssl {
 public:
  struct Answer {
    int status = 200;
    std::string body;
  };
  explicit CannedCfssl(std::map<std::string, Answer> answers)
      : answers_(std::move(answers)),
        peer_([this](int fd, const std::atomic<bool>& stop) { answer(fd, stop); }) {}
  CannedCfssl(const CannedCfssl&) = delete;
  CannedCfssl& operator=(const CannedCfssl&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(peer_.port()); }

 private:
  static bool readable(int fd, const std::atomic<bool>& stop) {
    for (int i = 0; i < 40 && !stop; ++i) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  void answer(int fd, const std::atomic<bool>& stop) {
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos && readable(fd, stop)) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<std::size_t>(n));
    }
    const std::size_t end = in.find("\r\n\r\n");
    std::string head = in.substr(0, end);
    std::ranges::transform(head, head.begin(), [](unsigned char c) { return std::tolower(c); });
    // Read the body unless the client waits for a go-ahead (Expect: 100-continue), so that
    // closing does not reset the connection under an answer not yet read.
    if (end != std::string::npos && head.find("expect: 100-continue") == std::string::npos) {
      const std::size_t at = head.find("content-length:");
      const std::size_t want = at == std::string::npos ? 0 : std::stoul(head.substr(at + 15));
      while (in.size() - end - 4 < want && readable(fd, stop)) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
      }
    }
    const std::size_t path_at = head.find(' ') + 1;
    const std::string path = head.substr(path_at, head.find(' ', path_at) - path_at);
    const auto it = answers_.find(path);
    const Answer a = it == answers_.end() ? Answer{404, "404 page not found\n"} : it->second;
    const std::string out = "HTTP/1.1 " + std::to_string(a.status) +
                            " Canned\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" +
                            a.body;
    ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    while (readable(fd, stop) && ::recv(fd, buf, sizeof buf, 0) > 0) {
    }
  }

  std::map<std::string, Answer> answers_;
  discovery::net::testing::ScriptedPeer peer_;  // last: stops before answers_ goes
};

std::string success_with_certificate(const std::string& pem) {
  return R"({"success":true,"result":{"certificate":)" + nlohmann::json(pem).dump() +
         R"(},"errors":[],"messages":[]})";
}

// What an Order points to, kept alive with it.
struct Request {
  std::optional<crypto::PrivateKey> key;
  crypto::X509NamePtr subject;
  std::optional<x509::Csr> csr;
  ca::Order order;
};

enum class KeySource { kGenerated, kCsr, kPublicKeyOnly };

// An order for `sans` as the RA would make it; a kCsr order's CSR asks for `csr_sans`.
std::unique_ptr<Request> make_request(std::vector<SubjectAltName> sans, KeySource source,
                                      crypto::KeyType type = crypto::KeyType::kEcP256,
                                      std::vector<SubjectAltName> csr_sans = {}) {
  auto r = std::make_unique<Request>();
  r->key = certward::testing::make_key(type);
  r->subject = certward::testing::name("CN=" + sans.front().value + ",O=Certward Tests");
  ca::Order& o = r->order;
  o.profile = "tls-server";
  o.subject = r->subject.get();
  o.sans = std::move(sans);
  o.public_key = r->key->get();
  if (source == KeySource::kCsr) {
    auto der = x509::make_csr_der(*r->key, "CN=requester.example", csr_sans);
    CW_CHECK(der.has_value());
    auto csr = x509::parse_csr(*der);
    CW_CHECK(csr.has_value());
    r->csr = std::move(*csr);
    o.csr = &*r->csr;
    o.public_key_info = X509_REQ_get_X509_PUBKEY(r->csr->get());
  } else if (source == KeySource::kGenerated) {
    o.private_key = &*r->key;
  }
  o.now = SystemClock().now();
  o.validity = std::chrono::days(30);
  o.max_validity = std::chrono::days(90);
  o.key_usage = {"digitalSignature", "keyEncipherment"};
  o.extended_key_usage = {"serverAuth"};
  return r;
}

std::vector<SubjectAltName> sorted(std::vector<SubjectAltName> sans) {
  std::ranges::sort(sans, [](const auto& a, const auto& b) {
    return std::tie(a.type, a.value) < std::tie(b.type, b.value);
  });
  return sans;
}

class CfsslIssuerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cfssl_ = new Cfssl();
    cfssl_->start();
  }
  static void TearDownTestSuite() {
    delete cfssl_;
    cfssl_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(cfssl_->failure, ""); }

  static CfsslOptions options(std::string key_hex = cfssl_->key_hex) {
    CfsslOptions o;
    o.name = "cfssl-test";
    o.url = cfssl_->url();
    auto key = from_hex(key_hex);
    CW_CHECK(key.has_value());
    o.auth_key = crypto::SecretBytes(std::move(*key));
    o.profile = "server";
    o.http.timeout = seconds(10);
    o.trust_anchors = {*cfssl_->ca};
    return o;
  }

  static Cfssl* cfssl_;
};

Cfssl* CfsslIssuerTest::cfssl_ = nullptr;

const std::vector<SubjectAltName> kNames = {{SanType::kDns, "www.example.com"},
                                            {SanType::kDns, "api.example.com"},
                                            {SanType::kIp, "192.0.2.7"},
                                            {SanType::kIp, "2001:db8::1"}};

TEST_F(CfsslIssuerTest, IssuesForAKeyCertwardGenerated) {
  auto issuer = make_cfssl_issuer(options());
  auto r = make_request(kNames, KeySource::kGenerated);
  auto issued = issuer->issue(r->order);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;

  const auto& info = issued->certificate.info();
  EXPECT_EQ(sorted(info.sans), sorted(kNames));
  // CFSSL takes the subject from the CSR, which certward made from the RA's.
  EXPECT_EQ(info.subject, "CN=www.example.com,O=Certward Tests");
  EXPECT_TRUE(crypto::same_public_key(issued->certificate.public_key(), r->key->get()));
  EXPECT_FALSE(info.is_ca());
  ASSERT_EQ(issued->chain.size(), 1u);
  EXPECT_EQ(issued->chain[0].der(), cfssl_->ca->der());
  EXPECT_TRUE(issued->upstream);
  EXPECT_EQ(issued->issued_by, "");
  // The "server" profile's expiry, not the order's validity.
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(info.not_after - r->order.now).count(),
              720, 1);
}

TEST_F(CfsslIssuerTest, IssuesForTheRequestersCsrWithTheRasNamesOnly) {
  auto issuer = make_cfssl_issuer(options());
  const std::vector<SubjectAltName> names = {{SanType::kDns, "csr.example.com"}};
  auto r = make_request(names, KeySource::kCsr, crypto::KeyType::kRsa2048,
                        {{SanType::kDns, "csr.example.com"},
                         {SanType::kDns, "not-approved.example.com"},
                         {SanType::kIp, "198.51.100.1"}});
  auto issued = issuer->issue(r->order);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(issued->certificate.info().sans, names);
  EXPECT_TRUE(crypto::same_public_key(issued->certificate.public_key(), r->key->get()));
  EXPECT_EQ(issued->certificate.info().key.bits, 2048);
}

TEST_F(CfsslIssuerTest, AWrongAuthKeyIsRefusedInCfsslsWords) {
  auto issuer = make_cfssl_issuer(options(to_hex(crypto::random_bytes(32))));
  auto r = make_request(kNames, KeySource::kGenerated);
  auto issued = issuer->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_TRUE(issued.error().code == ErrorCode::kPolicyRejected ||
              issued.error().code == ErrorCode::kUnauthorized)
      << issued.error().message;
  EXPECT_NE(issued.error().message.find("cfssl issuer 'cfssl-test'"), std::string::npos)
      << issued.error().message;
  EXPECT_NE(issued.error().message.find("invalid token"), std::string::npos)
      << issued.error().message;
}

TEST_F(CfsslIssuerTest, AProfileWithoutAnAuthKeyIsRefusedOnAuthsign) {
  CfsslOptions o = options();
  o.profile = "";  // the default profile: no auth key in CFSSL's config
  auto r = make_request(kNames, KeySource::kGenerated);
  auto issued = make_cfssl_issuer(std::move(o))->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected);
  EXPECT_NE(issued.error().message.find("no authentication provider (code 400)"), std::string::npos)
      << issued.error().message;
}

TEST_F(CfsslIssuerTest, UnauthenticatedSigningOnlyWhenAllowed) {
  auto unauthenticated = [] {
    CfsslOptions o = options("");
    o.profile = "";  // the default profile, which CFSSL signs for without a token
    return o;
  };
  auto r = make_request(kNames, KeySource::kGenerated);
  auto refused = make_cfssl_issuer(unauthenticated())->issue(r->order);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyRejected);

  CfsslOptions allowed = unauthenticated();
  allowed.allow_unauthenticated = true;
  auto issued = make_cfssl_issuer(std::move(allowed))->issue(r->order);
  ASSERT_TRUE(issued.has_value()) << issued.error().message;
  EXPECT_EQ(sorted(issued->certificate.info().sans), sorted(kNames));
  // The default profile's expiry.
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::hours>(issued->certificate.info().not_after -
                                                             r->order.now)
                  .count(),
              168, 1);
}

TEST_F(CfsslIssuerTest, AClosedPortIsUnavailableAtOnce) {
  CfsslOptions o = options();
  o.url = "http://127.0.0.1:" + std::to_string(free_port());
  auto issuer = make_cfssl_issuer(std::move(o));
  auto r = make_request(kNames, KeySource::kGenerated);
  const auto start = std::chrono::steady_clock::now();
  auto issued = issuer->issue(r->order);
  auto probed = issuer->probe();
  // Refused connections, not the 10 s timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable) << issued.error().message;
  ASSERT_FALSE(probed.has_value());
  EXPECT_EQ(probed.error().code, ErrorCode::kUnavailable) << probed.error().message;
}

TEST_F(CfsslIssuerTest, AChainToAnotherTrustAnchorIsRefused) {
  CfsslOptions o = options();
  o.trust_anchors = {*cfssl_->other_ca};
  auto r = make_request(kNames, KeySource::kGenerated);
  auto issued = make_cfssl_issuer(std::move(o))->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected) << issued.error().message;
}

TEST_F(CfsslIssuerTest, ABarePublicKeyIsRefused) {
  auto r = make_request(kNames, KeySource::kPublicKeyOnly);
  auto issued = make_cfssl_issuer(options())->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected);
  EXPECT_NE(issued.error().message.find("CSR"), std::string::npos) << issued.error().message;
}

TEST_F(CfsslIssuerTest, NamesCfsslCannotCarryAreRefused) {
  auto r = make_request({{SanType::kDns, "www.example.com"}, {SanType::kEmail, "a@example.com"}},
                        KeySource::kGenerated);
  auto issued = make_cfssl_issuer(options())->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(CfsslIssuerTest, ACertificateOutlivingTheProfileMaximumIsRefused) {
  auto r = make_request(kNames, KeySource::kGenerated);
  r->order.validity = std::chrono::days(7);
  r->order.max_validity = std::chrono::days(7);  // CFSSL's "server" profile gives 30 days
  auto issued = make_cfssl_issuer(options())->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected);
  EXPECT_NE(issued.error().message.find("maximum of 7d"), std::string::npos)
      << issued.error().message;
}

TEST_F(CfsslIssuerTest, ProbeAsksInfo) {
  EXPECT_TRUE(make_cfssl_issuer(options())->probe().has_value());
}

TEST_F(CfsslIssuerTest, DescribesItselfAndDoesNotRevoke) {
  auto issuer = make_cfssl_issuer(options());
  EXPECT_EQ(issuer->type(), "cfssl");
  EXPECT_EQ(issuer->endpoint(), cfssl_->url());
  EXPECT_EQ(issuer->name(), "cfssl-test");
  const IssuerSupport s = issuer->support();
  EXPECT_EQ(s.name_types, (std::vector<std::string>{"dns", "ip"}));
  EXPECT_NE(std::ranges::find(s.key_types, "ec-p256"), s.key_types.end());
  EXPECT_EQ(std::ranges::find(s.key_types, "ed25519"), s.key_types.end());
  EXPECT_FALSE(s.revocation);
  auto revoked = issuer->revoke(*cfssl_->ca, 1);
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code, ErrorCode::kPolicyRejected);
}

// The CA certificate is kept between issuances; a CFSSL that now signs with another CA (a
// rotation) is asked again, and the chain follows.
TEST_F(CfsslIssuerTest, FollowsACaRotation) {
  const std::string first = cfssl_->dir.file("rot1");
  const std::string second = cfssl_->dir.file("rot2");
  std::filesystem::create_directories(first);
  std::filesystem::create_directories(second);
  ASSERT_TRUE(make_ca(first, "Before Rotation CA") && make_ca(second, "After Rotation CA"));
  const std::uint16_t port = free_port();
  CfsslProcess cfssl = start_cfssl(first, cfssl_->config, port, cfssl_->dir.file("rot1.log"));
  ASSERT_TRUE(cfssl) << read_file(cfssl_->dir.file("rot1.log"));

  CfsslOptions o = options();
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.trust_anchors = {certificate_file(first + "/ca.pem"), certificate_file(second + "/ca.pem")};
  auto issuer = make_cfssl_issuer(std::move(o));
  auto r = make_request(kNames, KeySource::kGenerated);
  auto before = issuer->issue(r->order);
  cfssl.reset();
  ASSERT_TRUE(before.has_value()) << before.error().message;
  ASSERT_EQ(before->chain.size(), 1u);
  EXPECT_EQ(before->chain[0].info().subject, "CN=Before Rotation CA");

  cfssl = start_cfssl(second, cfssl_->config, port, cfssl_->dir.file("rot2.log"));
  ASSERT_TRUE(cfssl) << read_file(cfssl_->dir.file("rot2.log"));
  auto after = issuer->issue(r->order);
  cfssl.reset();
  ASSERT_TRUE(after.has_value()) << after.error().message;
  ASSERT_EQ(after->chain.size(), 1u);
  EXPECT_EQ(after->chain[0].info().subject, "CN=After Rotation CA");
}

// A CFSSL that ignores "hosts" (or any signer sending back a valid certificate for other
// names) is caught: only the names the RA decided are accepted.
TEST_F(CfsslIssuerTest, ACertificateForOtherNamesIsRefused) {
  auto r = make_request(kNames, KeySource::kGenerated);
  auto real = make_cfssl_issuer(options())->issue(r->order);
  ASSERT_TRUE(real.has_value()) << real.error().message;
  CannedCfssl canned(
      {{"/api/v1/cfssl/authsign", {200, success_with_certificate(real->certificate.pem())}},
       {"/api/v1/cfssl/info", {200, success_with_certificate(cfssl_->ca->pem())}}});
  CfsslOptions o = options();
  o.url = canned.url();
  r->order.sans = {{SanType::kDns, "www.example.com"}};
  auto issued = make_cfssl_issuer(std::move(o))->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kPolicyRejected) << issued.error().message;
}

TEST_F(CfsslIssuerTest, AnswersThatAreNotCfsslsAreUnavailable) {
  const std::map<std::string, std::string> bodies = {
      {"html behind a 200", "<html>hello</html>"},
      {"no success member", R"({"result":{"certificate":"x"}})"},
      {"a certificate of the wrong type", R"({"success":true,"result":{"certificate":42}})"},
      {"a certificate that is not one", success_with_certificate("-----BEGIN CERTIFICATE-----\n")},
      {"a repeated member", R"({"success":true,"success":false,"result":{}})"},
  };
  auto r = make_request(kNames, KeySource::kGenerated);
  for (const auto& [what, body] : bodies) {
    CannedCfssl canned(
        {{"/api/v1/cfssl/authsign", {200, body}}, {"/api/v1/cfssl/info", {200, body}}});
    CfsslOptions o = options();
    o.url = canned.url();
    auto issuer = make_cfssl_issuer(std::move(o));
    auto issued = issuer->issue(r->order);
    ASSERT_FALSE(issued.has_value()) << what;
    EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable)
        << what << ": " << issued.error().message;
    auto probed = issuer->probe();
    ASSERT_FALSE(probed.has_value()) << what;
    EXPECT_EQ(probed.error().code, ErrorCode::kUnavailable)
        << what << ": " << probed.error().message;
  }
}

TEST_F(CfsslIssuerTest, AServerErrorIsUnavailableInCfsslsWords) {
  CannedCfssl canned(
      {{"/api/v1/cfssl/authsign",
        {500,
         R"({"success":false,"result":null,"errors":[{"code":0,"message":"database is locked\u001b[2J"}],"messages":[]})"}}});
  CfsslOptions o = options();
  o.url = canned.url();
  auto r = make_request(kNames, KeySource::kGenerated);
  auto issued = make_cfssl_issuer(std::move(o))->issue(r->order);
  ASSERT_FALSE(issued.has_value());
  EXPECT_EQ(issued.error().code, ErrorCode::kUnavailable);
  // CFSSL's words, with the terminal escape it slipped in defused.
  EXPECT_NE(issued.error().message.find("database is locked\\x1b[2J (code 0)"), std::string::npos)
      << issued.error().message;
}

}  // namespace
}  // namespace certward::issuers
