// [lifecycle] and [[managed]]: defaults, every key, the bounds, and declarations handed on as
// the JSON a REST body would be (with where they are, for errors).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "common/config.h"
#include "unit/testing/temp_dir.h"

namespace certward {
namespace {

TEST(LifecycleConfig, DefaultsAreSane) {
  auto c = parse_config("", "t.toml");
  ASSERT_TRUE(c.has_value());
  const LifecycleSettings& l = c->lifecycle;
  EXPECT_TRUE(l.allowed_paths.empty());
  EXPECT_TRUE(l.allowed_ssh_hosts.empty());
  // A requester names no command and no file of its own; verification dials no link-local
  // (metadata service) address.
  EXPECT_TRUE(l.team_reload_commands.empty());
  EXPECT_TRUE(l.team_secrets_dir.empty());
  EXPECT_EQ(std::ranges::count(l.verify_networks, "127.0.0.0/8"), 1);
  EXPECT_EQ(std::ranges::count(l.verify_networks, "169.254.0.0/16"), 0);
  EXPECT_EQ(l.concurrency, 2);
  EXPECT_EQ(l.jitter_percent, 10);
  EXPECT_EQ(l.sweep_interval, std::chrono::seconds(60));
  EXPECT_TRUE(l.managed.empty());
}

TEST(LifecycleConfig, ReadsEveryKeyAndDeclarations) {
  auto c = parse_config(R"toml(
[lifecycle]
allowed_paths = ["/etc/nginx/tls"]
allowed_ssh_hosts = ["edge1.example.com"]
ssh_binary = "/usr/local/bin/ssh"
scp_binary = "/usr/local/bin/scp"
team_reload_commands = ["/usr/sbin/nginx -s reload"]
team_secrets_dir = "/etc/certward/teams"
verify_networks = ["10.0.0.0/8", "2001:db8::/32"]
concurrency = 4
batch = 16
poll_interval_ms = 100
lease = "5m"
retry_base = "10s"
retry_max = "30m"
max_attempts = 5
jitter_percent = 20
sweep_interval = "30s"

[[managed]]
name = "www"
sans = ["www.example.com"]
key = { type = "ec-p384", rotate = false }
[[managed.targets]]
name = "nginx"
kind = "files"
files = { fullchain = "/etc/nginx/tls/www.crt", key = "/etc/nginx/tls/www.key" }

[[managed]]
name = "api"
sans = ["api.example.com"]
validity = "7d"
)toml",
                        "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  const LifecycleSettings& l = c->lifecycle;
  EXPECT_EQ(l.allowed_paths, std::vector<std::string>{"/etc/nginx/tls"});
  EXPECT_EQ(l.allowed_ssh_hosts, std::vector<std::string>{"edge1.example.com"});
  EXPECT_EQ(l.ssh_binary, "/usr/local/bin/ssh");
  EXPECT_EQ(l.team_reload_commands, std::vector<std::string>{"/usr/sbin/nginx -s reload"});
  EXPECT_EQ(l.team_secrets_dir, "/etc/certward/teams");
  EXPECT_EQ(l.verify_networks, (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_EQ(l.concurrency, 4);
  EXPECT_EQ(l.batch, 16);
  EXPECT_EQ(l.poll_interval_ms, 100);
  EXPECT_EQ(l.lease, std::chrono::minutes(5));
  EXPECT_EQ(l.retry_base, std::chrono::seconds(10));
  EXPECT_EQ(l.retry_max, std::chrono::minutes(30));
  EXPECT_EQ(l.max_attempts, 5);
  EXPECT_EQ(l.jitter_percent, 20);
  ASSERT_EQ(l.managed.size(), 2u);
  const auto& www = l.managed[0].spec;
  EXPECT_EQ(www["name"], "www");
  EXPECT_EQ(www["key"]["rotate"], false);
  EXPECT_EQ(www["targets"][0]["files"]["fullchain"], "/etc/nginx/tls/www.crt");
  EXPECT_NE(l.managed[0].where.find("t.toml:"), std::string::npos);
  EXPECT_EQ(l.managed[1].spec["validity"], "7d");
}

// [alerts] arrives as JSON, [[alerts.channel]] as a list of objects: the lifecycle checks it.
TEST(AlertsConfig, ReadsTheTableAsJson) {
  auto c = parse_config(R"toml(
[alerts]
thresholds = [30, 7]
lifetime_fraction = 0.5
escalation = [{ at_days = 7, channels = ["hook"] }]

[[alerts.channel]]
name = "hook"
type = "webhook"
url = "https://hooks.example.com/x"
secret = "env:HOOK"
)toml",
                        "t.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  const auto& j = c->alerts.spec;
  EXPECT_EQ(j["thresholds"], nlohmann::json({30, 7}));
  EXPECT_EQ(j["lifetime_fraction"], 0.5);
  EXPECT_EQ(j["escalation"][0]["at_days"], 7);
  ASSERT_TRUE(j["channel"].is_array());
  EXPECT_EQ(j["channel"][0]["url"], "https://hooks.example.com/x");
  EXPECT_EQ(c->alerts.where, "t.toml:2");
  auto none = parse_config("", "t.toml");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->alerts.spec.is_object() && none->alerts.spec.empty());
  auto dated = parse_config("[alerts]\nwhen = 1979-05-27T07:32:00Z\n", "t.toml");
  ASSERT_FALSE(dated.has_value());
  EXPECT_EQ(dated.error().code, ErrorCode::kMalformed);
}

TEST(LifecycleConfig, RefusesBadValues) {
  for (const char* bad : {
           "[lifecycle]\nallowed_paths = [\"relative\"]\n",
           "[lifecycle]\nconcurrency = 0\n",
           "[lifecycle]\nbatch = 100000\n",
           "[lifecycle]\npoll_interval_ms = 1\n",
           "[lifecycle]\nlease = \"1s\"\n",
           "[lifecycle]\nretry_base = \"1h\"\nretry_max = \"1m\"\n",
           "[lifecycle]\njitter_percent = 90\n",
           "[lifecycle]\nssh_binary = \"ssh\"\n",
           "[lifecycle]\nteam_reload_commands = [\"nginx -s reload\"]\n",
           "[lifecycle]\nteam_secrets_dir = \"teams\"\n",
           "[lifecycle]\nverify_networks = [\"10.0.0.0/33\"]\n",
           "[lifecycle]\nverify_networks = [\"somewhere\"]\n",
           "[lifecycle]\ncolour = \"red\"\n",
           "managed = 1\n",
           "managed = [1]\n",
           "[[managed]]\nname = \"x\"\nwhen = 1979-05-27T07:32:00Z\n",
       }) {
    certward::testing::TempDir dir;
    const std::string path = dir.file("t.toml");
    std::ofstream(path) << bad;
    auto c = load_config(path, {});
    ASSERT_FALSE(c.has_value()) << bad;
    EXPECT_EQ(c.error().code, ErrorCode::kMalformed) << bad;
  }
}

}  // namespace
}  // namespace certward
