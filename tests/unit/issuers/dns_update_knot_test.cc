// RFC 2136 updates signed with TSIG (src/issuers/dns_update.h) against Knot DNS on loopback,
// started once for the suite: records added and deleted among others, long values over TCP,
// every algorithm, and each way Knot refuses a key, a zone or a name.

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "common/encoding.h"
#include "issuers/dns_update.h"
#include "unit/discovery_net/peers.h"
#include "unit/testing/temp_dir.h"

namespace certward::issuers {
namespace {

using namespace std::chrono_literals;
using discovery::net::testing::free_port;
using ::testing::HasSubstr;

TsigKey make_key(const std::string& name, const std::string& alg, std::string secret) {
  return TsigKey{name, alg, crypto::SecretBytes::take(secret)};
}

std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  ::pclose(pipe);
  return out;
}

// knotd on 127.0.0.1 with the zone example.test, updatable with the keys certward-test
// (hmac-sha256) and certward-test-512; certward-readonly is known but may not update.
struct Knot {
  certward::testing::TempDir dir;
  std::uint16_t port = 0;
  std::unique_ptr<discovery::net::testing::Process> knotd;
  std::string secret = "knot-test-secret-0123456789abcdef";
  std::string failure;

  void start() {
    constexpr const char* kKnotd = "/usr/sbin/knotd";
    if (::access(kKnotd, X_OK) != 0) {
      failure = "knotd is not installed (apt-get install knot knot-dnsutils)";
      return;
    }
    port = free_port();
    const std::string d = dir.path().string();
    std::ofstream(dir.file("example.test.zone"))
        << "$ORIGIN example.test.\n$TTL 60\n"
           "@ SOA ns.example.test. admin.example.test. 1 3600 600 86400 60\n"
           "@ NS ns.example.test.\nns A 127.0.0.1\n"
           "_acme-challenge.kept TXT \"unrelated\"\n";
    const passwd* user = ::getpwuid(::getuid());
    const group* grp = ::getgrgid(::getgid());
    const std::string b64 = to_base64(as_bytes(secret));
    // knotd drops to `user` after binding: the user running the test, who owns `dir`.
    const std::string run_as =
        user != nullptr && grp != nullptr
            ? "    user: " + std::string(user->pw_name) + ":" + grp->gr_name + "\n"
            : "";
    std::ofstream(dir.file("knot.conf"))
        << "server:\n    listen: 127.0.0.1@" << port << "\n    rundir: \"" << d << "\"\n"
        << run_as << "database:\n    storage: \"" << d << "\"\n"
        << "log:\n  - target: stderr\n    any: info\n"
        << "key:\n  - id: certward-test\n    algorithm: hmac-sha256\n    secret: " << b64 << "\n"
        << "  - id: certward-test-512\n    algorithm: hmac-sha512\n    secret: " << b64 << "\n"
        << "  - id: certward-readonly\n    algorithm: hmac-sha256\n    secret: " << b64 << "\n"
        << "acl:\n  - id: update\n    key: [certward-test, certward-test-512]\n"
        << "    action: update\n"
        << "  - id: transfer\n    key: certward-readonly\n    action: transfer\n"
        << "zone:\n  - domain: example.test\n    file: \"" << d << "/example.test.zone\"\n"
        << "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n"
        << "    acl: [update, transfer]\n";
    knotd = std::make_unique<discovery::net::testing::Process>(
        std::vector<std::string>{kKnotd, "-c", dir.file("knot.conf")}, dir.file("knotd.log"));
    for (int i = 0; i < 100; ++i) {
      if (query("example.test", "SOA").find("ns.example.test.") != std::string::npos) return;
      std::this_thread::sleep_for(100ms);
    }
    failure = "knotd does not answer: " + command_output("cat " + dir.file("knotd.log"));
  }

  void stop() { knotd.reset(); }

  std::string query(const std::string& name, const std::string& type = "TXT") const {
    return command_output("kdig @127.0.0.1 -p " + std::to_string(port) +
                          " +tcp +short +timeout=2 +retry=1 " + type + " " + name + " 2>&1");
  }

  DnsUpdateServer server(const std::string& key_name = "certward-test",
                         const std::string& alg = "hmac-sha256") const {
    return {.address = "127.0.0.1",
            .port = port,
            .zone = "example.test",
            .key = make_key(key_name, alg, secret),
            .timeout = 3s};
  }
};

class KnotUpdate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    knot_ = new Knot();
    knot_->start();
  }
  static void TearDownTestSuite() {
    knot_->stop();
    delete knot_;
    knot_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(knot_->failure, ""); }

  static Knot* knot_;
};

Knot* KnotUpdate::knot_ = nullptr;

TEST_F(KnotUpdate, AddsAndDeletesOneTxtRecordAmongOthers) {
  const std::string name = "_acme-challenge.www.example.test";
  const DnsUpdateServer server = knot_->server();
  ASSERT_EQ(knot_->query(name), "");
  auto first = dns_add_txt(server, name, "token-1");
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(knot_->query(name), "\"token-1\"\n");
  auto second = dns_add_txt(server, name + ".", "token-2", 120);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  auto again = dns_add_txt(server, name, "token-2", 120);  // already there: a no-op
  ASSERT_TRUE(again.has_value()) << again.error().message;
  std::string both = knot_->query(name);
  EXPECT_THAT(both, HasSubstr("\"token-1\"\n"));
  EXPECT_THAT(both, HasSubstr("\"token-2\"\n"));
  EXPECT_EQ(both.size(), 20u);

  auto deleted = dns_delete_txt(server, name, "token-1");
  ASSERT_TRUE(deleted.has_value()) << deleted.error().message;
  EXPECT_EQ(knot_->query(name), "\"token-2\"\n");
  ASSERT_TRUE(dns_delete_txt(server, name, "token-2").has_value());
  EXPECT_EQ(knot_->query(name), "");
  auto absent = dns_delete_txt(server, name, "token-2");  // nothing to delete: still fine
  EXPECT_TRUE(absent.has_value()) << absent.error().message;
  EXPECT_EQ(knot_->query("_acme-challenge.kept.example.test"), "\"unrelated\"\n");
}

TEST_F(KnotUpdate, LongValuesGoOverTcpAsSeveralStrings) {
  const std::string name = "_acme-challenge.long.example.test";
  const std::string value = std::string(255, 'a') + std::string(255, 'b') + "ccc";
  auto added = dns_add_txt(knot_->server(), name, value);
  ASSERT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(knot_->query(name),
            "\"" + std::string(255, 'a') + "\" \"" + std::string(255, 'b') + "\" \"ccc\"\n");
  ASSERT_TRUE(dns_delete_txt(knot_->server(), name, value).has_value());
  EXPECT_EQ(knot_->query(name), "");
}

TEST_F(KnotUpdate, SignsWithHmacSha512) {
  const std::string name = "_acme-challenge.sha512.example.test";
  const DnsUpdateServer server = knot_->server("certward-test-512.", "hmac-sha512");
  auto added = dns_add_txt(server, name, "t");
  ASSERT_TRUE(added.has_value()) << added.error().message;
  EXPECT_EQ(knot_->query(name), "\"t\"\n");
  ASSERT_TRUE(dns_delete_txt(server, name, "t").has_value());
}

TEST_F(KnotUpdate, RefusesAWrongSecret) {
  DnsUpdateServer server = knot_->server();
  server.key = make_key("certward-test", "hmac-sha256", "not the secret");
  auto added = dns_add_txt(server, "_acme-challenge.www.example.test", "t");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kUnauthorized) << added.error().message;
  EXPECT_THAT(added.error().message,
              HasSubstr("DNS update to 127.0.0.1:" + std::to_string(knot_->port) + ": "));
  EXPECT_EQ(knot_->query("_acme-challenge.www.example.test"), "");
}

TEST_F(KnotUpdate, RefusesAnUnknownKeyOrAlgorithm) {
  auto unknown = dns_add_txt(knot_->server("nobody"), "_acme-challenge.www.example.test", "t");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kUnauthorized) << unknown.error().message;
  auto alg = dns_add_txt(knot_->server("certward-test", "hmac-sha384"),
                         "_acme-challenge.www.example.test", "t");
  ASSERT_FALSE(alg.has_value());
  EXPECT_EQ(alg.error().code, ErrorCode::kUnauthorized) << alg.error().message;
}

TEST_F(KnotUpdate, RefusesAKeyWithoutTheRightToUpdate) {
  auto added =
      dns_add_txt(knot_->server("certward-readonly"), "_acme-challenge.www.example.test", "t");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kUnauthorized) << added.error().message;
  EXPECT_EQ(knot_->query("_acme-challenge.www.example.test"), "");
}

TEST_F(KnotUpdate, RefusesAZoneItDoesNotServe) {
  DnsUpdateServer server = knot_->server();
  server.zone = "other.test";
  auto added = dns_add_txt(server, "_acme-challenge.other.test", "t");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kUnauthorized) << added.error().message;
}

TEST_F(KnotUpdate, RefusesANameOutsideTheZone) {
  auto added = dns_add_txt(knot_->server(), "_acme-challenge.example.org", "t");
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::issuers
