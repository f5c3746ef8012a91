// [issuers.<name>] and a profile's issuers list: what the configuration accepts and what it
// refuses, with the table named.
#include "common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace certward {
namespace {

// Through load_config, as the server reads it: parsed, then validated.
Result<Config> parse(const std::string& text) {
  char path[] = "/tmp/certward-issuer-config-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  auto c = load_config(std::string(path), {{"CERTWARD_DATA_DIR", "/tmp/certward-none"}});
  ::unlink(path);
  return c;
}

void refused(const std::string& text, const std::string& says) {
  auto c = parse(text);
  ASSERT_FALSE(c.has_value()) << text;
  EXPECT_EQ(c.error().code, ErrorCode::kMalformed);
  EXPECT_NE(c.error().message.find(says), std::string::npos) << c.error().message;
}

TEST(IssuerConfig, AcmeAndCfsslTables) {
  auto c = parse(R"(
[issuers.le]
type = "acme"
directory = "https://acme.example/dir"
contact = ["mailto:pki@example.com"]
eab_kid = "k"
eab_hmac_key_env = "LE_EAB"
challenge = "dns-01"
dns_server = "192.0.2.53:53"
dns_zone = "example.com"
tsig_key_name = "certward"
tsig_secret_file = "/etc/certward/tsig"
tsig_algorithm = "hmac-sha512"
timeout = "20s"
[issuers.cf]
type = "cfssl"
url = "http://127.0.0.1:8888"
auth_key_env = "CF_KEY"
profile = "server"
[profiles.web]
issuers = ["le", "cf", "issuing"]
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->issuers.size(), 2u);
  const auto& le = c->issuers[0].name == "le" ? c->issuers[0] : c->issuers[1];
  EXPECT_EQ(le.challenge, "dns-01");
  EXPECT_EQ(le.timeout, std::chrono::seconds(20));
  EXPECT_EQ(*le.tsig_secret_file, "/etc/certward/tsig");
  ASSERT_EQ(c->profiles.size(), 1u);
  EXPECT_EQ(*c->profiles[0].issuers, (std::vector<std::string>{"le", "cf", "issuing"}));
}

TEST(IssuerConfig, RefusesWhatCouldNeverWork) {
  refused("[issuers.x]\ntype = \"smtp\"\n", "issuers.x: type is");
  refused("[issuers.X]\ntype = \"acme\"\ndirectory = \"https://a/d\"\n", "an issuer name is");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"http://a/d\"\n", "https:// URL");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\neab_kid = \"k\"\n",
          "eab_kid goes with");
  refused(
      "[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\ncontact = "
      "[\"pki@example.com\"]\n",
      "mailto:");
  refused(
      "[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\nchallenge = \"tls-alpn-01\"\n",
      "challenge is");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\nchallenge = \"dns-01\"\n",
          "dns_server (RFC 2136) or dns_hook");
  refused(
      "[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\nchallenge = \"dns-01\"\n"
      "dns_server = \"127.0.0.1:53\"\n",
      "needs dns_zone");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\ndns_hook = \"/bin/true\"\n",
          "are for challenge = \"dns-01\"");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\ntimeout = \"1h\"\n",
          "timeout is 1s to 5m");
  refused("[issuers.x]\ntype = \"cfssl\"\nurl = \"http://a:8888\"\n", "authenticated endpoint");
  refused("[issuers.x]\ntype = \"cfssl\"\nurl = \"ftp://a\"\nauth_key_env = \"K\"\n", "base URL");
  refused(
      "[issuers.x]\ntype = \"cfssl\"\nurl = \"http://a\"\nauth_key_env = \"K\"\n"
      "auth_key_file = \"/k\"\n",
      "not both");
  refused(
      "[issuers.x]\ntype = \"cfssl\"\nurl = \"http://a\"\nauth_key_env = \"K\"\n"
      "directory = \"https://a/d\"\n",
      "are for type = \"acme\"");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://a/d\"\nsecret = \"x\"\n", "secret");
  refused("[profiles.p]\nissuers = [\"Bad Name\"]\n", "not an issuer name");
  refused("[issuers.x]\ntype = \"cfssl\"\nurl = \"http://admin:pw@a:8888\"\nauth_key_env = \"K\"\n",
          "credentials");
  refused("[issuers.x]\ntype = \"acme\"\ndirectory = \"https://u@a/dir\"\n", "credentials");
}

}  // namespace
}  // namespace certward
