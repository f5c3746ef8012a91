#include "common/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "unit/testing/temp_dir.h"

namespace certward {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;

constexpr std::string_view kFull = R"toml(
data_dir = "/var/lib/certward"
log_level = "debug"

[database]
driver = "postgres"
path = "/tmp/unused.db"
url = "postgresql://certward@db/certward"
pool_size = 16

[ca]
master_key_file = "/etc/certward/master.key"
default_authority = "web"
crl_base_url = "http://pki.example.com/crl"
ocsp_url = "http://pki.example.com/ocsp"
ca_issuers_base_url = "http://pki.example.com/ca"

[server]
listen = "0.0.0.0:9443"
http_listen = "0.0.0.0:9080"
hostnames = ["pki.example.com", "10.0.0.1"]
tls_cert_file = "/etc/certward/tls.crt"
tls_key_file = "/etc/certward/tls.key"
client_ca_file = "/etc/certward/clients.pem"
io_threads = 2
worker_threads = 32
max_body_bytes = 2097152
read_timeout_seconds = 10
idle_timeout_seconds = 20
shutdown_timeout_seconds = 5
certificate_check_interval = "10m"
serving_renew_before = "14d"

[server.rate_limit]
requests_per_second = 2.5
burst = 10

[profiles.web]
description = "Web servers"
key_types = ["ec-p256", "rsa-2048"]
default_validity = "30d"
max_validity = "90d"
key_usage = ["digitalSignature"]
extended_key_usage = ["serverAuth", "1.3.6.1.4.1.99999.1"]
allowed_domains = ["example.com"]
allowed_ip_ranges = ["10.0.0.0/8"]
allow_wildcards = false
allow_ip_sans = true
allow_email_sans = true
allow_uri_sans = true
require_san = true
subject_template = "CN={cn},O=Example"
requires_approval = true
ca = false
path_length = 1
policy_oids = ["2.23.140.1.2.1"]
)toml";

ErrorCode parse_error(std::string_view toml) {
  auto c = parse_config(toml, "test.toml");
  EXPECT_FALSE(c.has_value()) << toml;
  return c ? ErrorCode::kInternal : c.error().code;
}

TEST(ParseConfig, EmptyTextGivesDefaults) {
  auto c = parse_config("", "test.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->data_dir, "certward-data");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->database.driver, "sqlite");
  EXPECT_EQ(c->database.pool_size, 4);
  EXPECT_TRUE(c->database.path.empty());
  EXPECT_EQ(c->ca.default_authority, "issuing");
  EXPECT_EQ(c->server.listen, "127.0.0.1:8443");
  EXPECT_EQ(c->server.http_listen, "127.0.0.1:8080");
  EXPECT_EQ(c->server.hostnames, (std::vector<std::string>{"localhost", "127.0.0.1"}));
  EXPECT_EQ(c->server.worker_threads, 64);
  EXPECT_EQ(c->server.certificate_check_interval, std::chrono::hours(1));
  EXPECT_EQ(c->server.serving_renew_before, std::chrono::days(30));
  EXPECT_EQ(c->server.max_body_bytes, 1 << 20);
  EXPECT_DOUBLE_EQ(c->server.rate_limit.requests_per_second, 100);
  EXPECT_DOUBLE_EQ(c->server.rate_limit.burst, 200);
  EXPECT_TRUE(c->profiles.empty());
}

TEST(ParseConfig, ReadsEveryKey) {
  auto c = parse_config(kFull, "full.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->data_dir, "/var/lib/certward");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->database.driver, "postgres");
  EXPECT_EQ(c->database.path, "/tmp/unused.db");
  EXPECT_EQ(c->database.url, "postgresql://certward@db/certward");
  EXPECT_EQ(c->database.pool_size, 16);
  EXPECT_EQ(c->ca.master_key_file, "/etc/certward/master.key");
  EXPECT_EQ(c->ca.default_authority, "web");
  EXPECT_EQ(c->ca.crl_base_url, "http://pki.example.com/crl");
  EXPECT_EQ(c->ca.ocsp_url, "http://pki.example.com/ocsp");
  EXPECT_EQ(c->ca.ca_issuers_base_url, "http://pki.example.com/ca");
  const ServerSettings& s = c->server;
  EXPECT_EQ(s.listen, "0.0.0.0:9443");
  EXPECT_EQ(s.http_listen, "0.0.0.0:9080");
  EXPECT_EQ(s.hostnames, (std::vector<std::string>{"pki.example.com", "10.0.0.1"}));
  EXPECT_EQ(s.tls_cert_file, "/etc/certward/tls.crt");
  EXPECT_EQ(s.tls_key_file, "/etc/certward/tls.key");
  EXPECT_EQ(s.client_ca_file, "/etc/certward/clients.pem");
  EXPECT_EQ(s.io_threads, 2);
  EXPECT_EQ(s.worker_threads, 32);
  EXPECT_EQ(s.max_body_bytes, 2097152);
  EXPECT_EQ(s.read_timeout_seconds, 10);
  EXPECT_EQ(s.idle_timeout_seconds, 20);
  EXPECT_EQ(s.shutdown_timeout_seconds, 5);
  EXPECT_EQ(s.certificate_check_interval, std::chrono::minutes(10));
  EXPECT_EQ(s.serving_renew_before, std::chrono::days(14));
  EXPECT_DOUBLE_EQ(s.rate_limit.requests_per_second, 2.5);
  EXPECT_DOUBLE_EQ(s.rate_limit.burst, 10);

  ASSERT_EQ(c->profiles.size(), 1u);
  const ProfileSettings& p = c->profiles[0];
  EXPECT_EQ(p.name, "web");
  EXPECT_EQ(p.description, "Web servers");
  EXPECT_EQ(p.key_types, (std::vector<std::string>{"ec-p256", "rsa-2048"}));
  EXPECT_EQ(p.default_validity, seconds(days(30)));
  EXPECT_EQ(p.max_validity, seconds(days(90)));
  EXPECT_EQ(p.key_usage, (std::vector<std::string>{"digitalSignature"}));
  EXPECT_EQ(p.extended_key_usage, (std::vector<std::string>{"serverAuth", "1.3.6.1.4.1.99999.1"}));
  EXPECT_EQ(p.allowed_domains, (std::vector<std::string>{"example.com"}));
  EXPECT_EQ(p.allowed_ip_ranges, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(p.allow_wildcards, false);
  EXPECT_EQ(p.allow_ip_sans, true);
  EXPECT_EQ(p.allow_email_sans, true);
  EXPECT_EQ(p.allow_uri_sans, true);
  EXPECT_EQ(p.require_san, true);
  EXPECT_EQ(p.subject_template, "CN={cn},O=Example");
  EXPECT_EQ(p.requires_approval, true);
  EXPECT_EQ(p.ca, false);
  EXPECT_EQ(p.path_length, 1);
  EXPECT_EQ(p.policy_oids, (std::vector<std::string>{"2.23.140.1.2.1"}));
}

TEST(ParseConfig, UnsetProfileFieldsStayUnset) {
  auto c = parse_config("[profiles.mini]\nallow_wildcards = true\n", "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->profiles.size(), 1u);
  const ProfileSettings& p = c->profiles[0];
  EXPECT_EQ(p.name, "mini");
  EXPECT_EQ(p.allow_wildcards, true);
  EXPECT_FALSE(p.description);
  EXPECT_FALSE(p.key_types);
  EXPECT_FALSE(p.default_validity);
  EXPECT_FALSE(p.ca);
  EXPECT_FALSE(p.path_length);
}

TEST(ParseConfig, SeveralProfilesKeepTheirNames) {
  auto c = parse_config("[profiles.a]\nca = true\n[profiles.b]\nca = false\n", "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  ASSERT_EQ(c->profiles.size(), 2u);
  std::map<std::string, bool> ca;
  for (const auto& p : c->profiles) ca[p.name] = p.ca.value_or(false);
  EXPECT_EQ(ca, (std::map<std::string, bool>{{"a", true}, {"b", false}}));
}

TEST(ParseConfig, RejectsUnknownKeysInEveryTable) {
  EXPECT_EQ(parse_error("data_dirr = \"x\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[database]\npoolsize = 4\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[ca]\nmaster_key = \"x\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nlisten_addr = \"x\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server.rate_limit]\nrps = 1\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.web]\nallow_wildcard = true\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[unknown]\nx = 1\n"), ErrorCode::kMalformed);
}

TEST(ParseConfig, RejectsTablesGivenAsScalars) {
  EXPECT_EQ(parse_error("database = \"sqlite\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nrate_limit = 5\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles]\nweb = \"x\"\n"), ErrorCode::kMalformed);
}

TEST(ParseConfig, RejectsWrongTypes) {
  EXPECT_EQ(parse_error("data_dir = 5\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("log_level = true\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[database]\npool_size = \"4\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[database]\npool_size = 4.5\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[database]\nurl = 1\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[ca]\nocsp_url = [\"a\"]\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nhostnames = \"a\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nhostnames = [\"a\", 1]\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nworker_threads = \"8\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server.rate_limit]\nburst = \"10\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.p]\nallow_wildcards = \"yes\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.p]\nkey_types = \"ec-p256\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.p]\npath_length = \"1\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.p]\ndefault_validity = 90\n"), ErrorCode::kMalformed);
}

TEST(ParseConfig, RejectsIntegersThatDoNotFitTheField) {
  EXPECT_EQ(parse_error("[database]\npool_size = 4294967297\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[server]\nworker_threads = 4294967304\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[profiles.p]\npath_length = 4294967296\n"), ErrorCode::kMalformed);
}

TEST(ParseConfig, RejectsBadDurations) {
  for (const char* d : {"90", "d", "0d", "-5d", "5w", "1.5d", "101y", "ninety days", ""}) {
    const std::string toml = std::string("[profiles.p]\nmax_validity = \"") + d + "\"\n";
    EXPECT_EQ(parse_error(toml), ErrorCode::kMalformed) << d;
  }
}

TEST(ParseConfig, RejectsTomlSyntaxErrors) {
  EXPECT_EQ(parse_error("data_dir = \n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("[database\n"), ErrorCode::kMalformed);
  EXPECT_EQ(parse_error("a = 1\na = 2\n"), ErrorCode::kMalformed);
}

class LoadConfig : public ::testing::Test {
 protected:
  std::string write(std::string_view text) {
    const std::string path = dir_.file("certward.toml");
    std::ofstream(path) << text;
    return path;
  }
  Result<Config> load_text(std::string_view text,
                           const std::map<std::string, std::string>& env = {}) {
    return load_config(write(text), env);
  }
  ErrorCode load_error(std::string_view text) {
    auto c = load_text(text);
    EXPECT_FALSE(c.has_value()) << text;
    return c ? ErrorCode::kInternal : c.error().code;
  }

  testing::TempDir dir_;
};

TEST_F(LoadConfig, NoFileGivesDefaultsWithDerivedPaths) {
  auto c = load_config(std::nullopt, {});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->data_dir, "certward-data");
  EXPECT_EQ(c->database.path, "certward-data/certward.db");
  EXPECT_EQ(c->ca.master_key_file, "certward-data/master.key");
}

TEST_F(LoadConfig, DistributionUrlsAreUrlsWhereverTheyComeFrom) {
  for (std::string_view bad : {"ftp://x.example/crl", "http://x y.example", "crl.example.test",
                               "http://x.example/\"q\"", "http://x.example/\n"}) {
    const std::string toml = "[ca]\ncrl_base_url = \"" + std::string(bad) + "\"\n";
    EXPECT_EQ(load_error(toml), ErrorCode::kMalformed) << bad;
    auto from_env = load_config(std::nullopt, {{"CERTWARD_OCSP_URL", std::string(bad)}});
    ASSERT_FALSE(from_env.has_value()) << bad;
    EXPECT_EQ(from_env.error().code, ErrorCode::kMalformed);
  }
  auto good = load_text(
      "[ca]\ncrl_base_url = \"http://pki.example.test/crl\"\n"
      "ocsp_url = \"https://pki.example.test/ocsp\"\n");
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_EQ(load_error("[ca]\nauthority_recheck = \"0s\"\n"), ErrorCode::kMalformed);
}

TEST_F(LoadConfig, Pkcs11ModuleAndTokenPins) {
  auto c = load_text(
      "[ca.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
      "[ca.pkcs11.tokens.\"CA token 1\"]\npin_env = \"HSM_PIN\"\n"
      "[ca.pkcs11.tokens.backup]\npin_file = \"/etc/certward/backup.pin\"\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->ca.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
  ASSERT_EQ(c->ca.pkcs11_pins.size(), 2u);
  EXPECT_EQ(c->ca.pkcs11_pins.at("CA token 1"), "env:HSM_PIN");
  EXPECT_EQ(c->ca.pkcs11_pins.at("backup"), "file:/etc/certward/backup.pin");
  for (std::string_view bad : {
           "[ca.pkcs11]\nmodule = \"libsofthsm2.so\"\n",  // relative: found through LD paths
           "[ca.pkcs11]\nlibrary = \"/x.so\"\n",
           "[ca.pkcs11.tokens.t]\n",
           "[ca.pkcs11.tokens.t]\npin = \"1234\"\n",  // the PIN itself never goes in the file
           "[ca.pkcs11.tokens.t]\npin_env = \"A\"\npin_file = \"/p\"\n",
           "[ca.pkcs11.tokens.t]\npin_file = \"relative.pin\"\n",
           "[ca.pkcs11.tokens.t]\npin_env = \"\"\n",
           "[ca.pkcs11]\ntokens = 1\n",
           "[ca.pkcs11.tokens]\nt = \"env:A\"\n",
           "[ca.pkcs11.tokens.\"a-label-that-is-longer-than-32-bytes\"]\npin_env = \"A\"\n",
           "[ca.pkcs11.tokens.\"trailing \"]\npin_env = \"A\"\n",
           "[ca.pkcs11.tokens.\"nul\\u0000\"]\npin_env = \"A\"\n",
       }) {
    EXPECT_EQ(load_error(std::string(bad)), ErrorCode::kMalformed) << bad;
  }
}

TEST_F(LoadConfig, MissingFileIsNotFound) {
  auto c = load_config(dir_.file("absent.toml"), {});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
}

TEST_F(LoadConfig, DerivedPathsFollowDataDirButNotExplicitPaths) {
  auto c = load_text("data_dir = \"/srv/cw\"\n[database]\npath = \"/db/x.db\"\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->database.path, "/db/x.db");
  EXPECT_EQ(c->ca.master_key_file, "/srv/cw/master.key");
}

TEST_F(LoadConfig, EnvironmentOverridesFileAndDerivesFromNewDataDir) {
  const std::map<std::string, std::string> env = {
      {"CERTWARD_DATA_DIR", "/env/data"},          {"CERTWARD_LOG_LEVEL", "warn"},
      {"CERTWARD_CRL_BASE_URL", "http://env/crl"}, {"CERTWARD_OCSP_URL", "http://env/ocsp"},
      {"CERTWARD_LISTEN", "127.0.0.1:1"},          {"CERTWARD_HTTP_LISTEN", "127.0.0.1:2"},
  };
  auto c =
      load_text("data_dir = \"/file/data\"\nlog_level = \"error\"\n[ca]\nocsp_url = \"x\"\n", env);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->data_dir, "/env/data");
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->ca.crl_base_url, "http://env/crl");
  EXPECT_EQ(c->ca.ocsp_url, "http://env/ocsp");
  EXPECT_EQ(c->server.listen, "127.0.0.1:1");
  EXPECT_EQ(c->server.http_listen, "127.0.0.1:2");
  EXPECT_EQ(c->database.path, "/env/data/certward.db");
  EXPECT_EQ(c->ca.master_key_file, "/env/data/master.key");
}

TEST_F(LoadConfig, EnvironmentSetsDatabaseAndMasterKeyPaths) {
  const std::map<std::string, std::string> env = {
      {"CERTWARD_DATABASE_DRIVER", "postgres"},
      {"CERTWARD_DATABASE_URL", "postgresql://env/db"},
      {"CERTWARD_DATABASE_PATH", "/env/x.db"},
      {"CERTWARD_MASTER_KEY_FILE", "/env/mk"},
  };
  auto c = load_config(std::nullopt, env);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->database.driver, "postgres");
  EXPECT_EQ(c->database.url, "postgresql://env/db");
  EXPECT_EQ(c->database.path, "/env/x.db");
  EXPECT_EQ(c->ca.master_key_file, "/env/mk");
}

TEST_F(LoadConfig, EmptyEnvironmentValuesAreIgnored) {
  auto c = load_text("log_level = \"debug\"\n", {{"CERTWARD_LOG_LEVEL", ""}});
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->log_level, "debug");
}

TEST_F(LoadConfig, EnvironmentValuesAreValidated) {
  auto c = load_config(std::nullopt, {{"CERTWARD_LOG_LEVEL", "loud"}});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kMalformed);
  auto d = load_config(std::nullopt, {{"CERTWARD_DATABASE_DRIVER", "postgres"}});
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, ErrorCode::kMalformed);
}

TEST_F(LoadConfig, PostgresNeedsUrl) {
  EXPECT_EQ(load_error("[database]\ndriver = \"postgres\"\n"), ErrorCode::kMalformed);
  auto c = load_text("[database]\ndriver = \"postgres\"\nurl = \"postgresql://h/db\"\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->database.driver, "postgres");
}

TEST_F(LoadConfig, UnknownDriverIsRejected) {
  EXPECT_EQ(load_error("[database]\ndriver = \"mysql\"\n"), ErrorCode::kMalformed);
}

TEST_F(LoadConfig, PoolSizeRange) {
  EXPECT_EQ(load_error("[database]\npool_size = 0\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[database]\npool_size = -1\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[database]\npool_size = 257\n"), ErrorCode::kMalformed);
  for (int n : {1, 256}) {
    auto c = load_text("[database]\npool_size = " + std::to_string(n) + "\n");
    ASSERT_TRUE(c.has_value()) << n << ": " << c.error().message;
    EXPECT_EQ(c->database.pool_size, n);
  }
}

TEST_F(LoadConfig, ServerLimitsAreValidated) {
  EXPECT_EQ(load_error("log_level = \"verbose\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("data_dir = \"\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nio_threads = -1\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nio_threads = 257\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nworker_threads = 0\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nworker_threads = 1025\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nmax_body_bytes = 1023\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nmax_body_bytes = 67108865\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nread_timeout_seconds = 0\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nidle_timeout_seconds = 0\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nshutdown_timeout_seconds = 0\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\ncertificate_check_interval = \"0s\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\ncertificate_check_interval = \"25h\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\ncertificate_check_interval = 60\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\nserving_renew_before = \"soon\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server.rate_limit]\nrequests_per_second = -1\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server.rate_limit]\nrequests_per_second = 5\nburst = 0.5\n"),
            ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\ntls_cert_file = \"a.pem\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[server]\ntls_key_file = \"a.key\"\n"), ErrorCode::kMalformed);
  // Rate limiting off: burst may then be 0.
  auto c = load_text("[server.rate_limit]\nrequests_per_second = 0\nburst = 0\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_DOUBLE_EQ(c->server.rate_limit.requests_per_second, 0);
}

TEST_F(LoadConfig, FileErrorsPropagate) {
  EXPECT_EQ(load_error("nonsense = 1\n"), ErrorCode::kMalformed);
}

TEST(Duration, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("45s"), seconds(45));
  EXPECT_EQ(parse_duration("30m"), seconds(30 * 60));
  EXPECT_EQ(parse_duration("12h"), seconds(hours(12)));
  EXPECT_EQ(parse_duration("90d"), seconds(days(90)));
  EXPECT_EQ(parse_duration("1y"), seconds(days(365)));
  EXPECT_EQ(parse_duration("100y"), seconds(days(36500)));
}

TEST(Duration, RejectsMalformed) {
  for (const char* d : {"", "s", "5", "0s", "-1d", "+1d", "1.5h", "5 d", " 5d", "5D", "5dd", "101y",
                        "36501d", "99999999999999999999d"}) {
    auto r = parse_duration(d);
    ASSERT_FALSE(r.has_value()) << d;
    EXPECT_EQ(r.error().code, ErrorCode::kMalformed) << d;
  }
}

TEST(Duration, FormatsWithLargestExactUnit) {
  EXPECT_EQ(format_duration(days(90)), "90d");
  EXPECT_EQ(format_duration(hours(36)), "36h");
  EXPECT_EQ(format_duration(seconds(90 * 60)), "90m");
  EXPECT_EQ(format_duration(seconds(61)), "61s");
  EXPECT_EQ(format_duration(days(365)), "365d");
}

TEST(Duration, RoundTrips) {
  for (const char* d : {"1s", "59s", "61s", "2m", "90m", "1h", "25h", "1d", "398d"}) {
    auto parsed = parse_duration(d);
    ASSERT_TRUE(parsed.has_value()) << d;
    EXPECT_EQ(format_duration(*parsed), d);
  }
}

TEST_F(LoadConfig, RevocationDefaultsOverridesAndOwnUrls) {
  auto c = load_text(R"(
[server]
http_listen = "0.0.0.0:8080"
hostnames = ["pki.example.com"]
[revocation]
crl_interval = "12h"
delta_crl_interval = "0s"
ocsp_validity = "2h"
refresh_interval = "3s"
[revocation.authorities.issuing]
crl_validity = "2d"
crl_interval = "1h"
)");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->ca.crl_base_url, "http://pki.example.com:8080/crl");
  EXPECT_EQ(c->ca.ocsp_url, "http://pki.example.com:8080/ocsp");
  const RevocationSettings& r = c->revocation;
  EXPECT_EQ(r.ocsp_validity, std::chrono::hours(2));
  EXPECT_EQ(r.refresh_interval, std::chrono::seconds(3));
  EXPECT_EQ(r.crl_for("root").interval, std::chrono::hours(12));
  EXPECT_EQ(r.crl_for("root").validity, std::chrono::days(7));
  // An authority's table starts from [revocation]'s, whatever the order in the file.
  EXPECT_EQ(r.crl_for("issuing").validity, std::chrono::days(2));
  EXPECT_EQ(r.crl_for("issuing").interval, std::chrono::hours(1));
  EXPECT_EQ(r.crl_for("issuing").delta_interval, std::chrono::seconds(0));
}

TEST_F(LoadConfig, OwnUrlsFollowTheListenerUnlessSetOrNone) {
  auto plain = load_text("[server]\nhttp_listen = \"127.0.0.1:9080\"\n");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->ca.crl_base_url, "http://127.0.0.1:9080/crl");
  auto any_port = load_text("[server]\nhttp_listen = \"127.0.0.1:0\"\n");
  ASSERT_TRUE(any_port.has_value());
  EXPECT_EQ(any_port->ca.crl_base_url, "");
  EXPECT_EQ(any_port->ca.ocsp_url, "");
  auto none = load_text("[ca]\ncrl_base_url = \"none\"\nocsp_url = \"http://ocsp.example.com\"\n");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->ca.crl_base_url, "");
  EXPECT_EQ(none->ca.ocsp_url, "http://ocsp.example.com");
}

TEST_F(LoadConfig, RefusesRevocationSettingsThatCannotWork) {
  for (const char* text : {
           "[revocation]\ncrl_interval = \"7d\"\n",  // not below crl_validity
           "[revocation]\ncrl_validity = \"30s\"\n",
           "[revocation]\ndelta_crl_interval = \"2d\"\n",
           "[revocation]\ncrl_on_revoke = \"sometimes\"\n",
           "[revocation]\ndelta_crl_interval = \"0s\"\ncrl_on_revoke = \"delta\"\n",
           "[revocation]\nocsp_signer = \"hsm\"\n",
           "[revocation]\nocsp_validity = \"3d\"\n",  // responder 7d < 3 x 3d
           "[revocation]\nrefresh_interval = \"0s\"\n",
           "[revocation]\nocsp_max_requests = 0\n",
           "[revocation]\nocsp_cache_entries = -1\n",
           "[revocation]\nnonsense = 1\n",
           "[revocation]\ndelta_crl_interval = \"0q\"\n",
           "[revocation.authorities.issuing]\nocsp_validity = \"1h\"\n",  // not per authority
           "[revocation.authorities]\nissuing = 1\n",
       }) {
    EXPECT_EQ(load_error(text), ErrorCode::kMalformed) << text;
  }
}

TEST_F(LoadConfig, ApprovalTtlHasADefaultAndBounds) {
  auto d = load_config(std::nullopt, {});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->approvals.ttl, std::chrono::hours(24 * 7));
  auto c = load_text("[approvals]\nttl = \"2d\"\n");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->approvals.ttl, std::chrono::hours(48));
  EXPECT_EQ(load_error("[approvals]\nttl = \"91d\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[approvals]\nttl = \"0s\"\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[approvals]\nttl = 3600\n"), ErrorCode::kMalformed);
  EXPECT_EQ(load_error("[approvals]\nttl_days = 3\n"), ErrorCode::kMalformed);
}

}  // namespace
}  // namespace certward
