// Target specifications from outside: the strict parser, the JSON round trip, and the
// operator's policy over paths (symlinks and sibling prefixes included) and SSH hosts.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "lifecycle/deploy/target.h"
#include "unit/lifecycle/deploy_support.h"

namespace certward::lifecycle::deploy {
namespace {

using nlohmann::json;
using testing::TempDir;

json files_spec() {
  return json::parse(R"({
    "name": "web", "kind": "files",
    "files": {"key": "/etc/nginx/tls/web.key", "fullchain": "/etc/nginx/tls/web.crt",
              "owner": "root", "group": "www-data", "key_mode": "0640"},
    "reload": {"argv": ["/usr/sbin/nginx", "-s", "reload"], "timeout": "30s"},
    "verify": {"endpoint": "127.0.0.1:443", "server_name": "www.example.com"}})");
}

json ssh_spec() {
  return json::parse(R"({
    "name": "edge", "kind": "ssh",
    "ssh": {"host": "edge1.example.com", "port": 2222, "user": "deploy",
            "identity_file": "/var/lib/certward/ssh/id_ed25519",
            "known_hosts": "/var/lib/certward/ssh/known_hosts"},
    "files": {"certificate": "/etc/ssl/edge.crt", "key": "/etc/ssl/edge.key"},
    "reload": {"argv": ["/usr/sbin/nginx", "-s", "reload"]},
    "verify": {"endpoint": "[2001:db8::1]:443", "timeout": "2m"}})");
}

ErrorCode code_of(const json& j) {
  auto spec = parse_target_spec(j);
  EXPECT_FALSE(spec.has_value()) << j.dump();
  return spec ? ErrorCode::kInternal : spec.error().code;
}

TEST(ParseTargetSpec, ReadsTheDocumentedFilesExample) {
  auto spec = parse_target_spec(files_spec());
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->name, "web");
  EXPECT_EQ(spec->kind, TargetKind::kFiles);
  EXPECT_EQ(spec->files.key, "/etc/nginx/tls/web.key");
  EXPECT_EQ(spec->files.group, "www-data");
  EXPECT_EQ(spec->files.key_mode, 0640u);
  EXPECT_FALSE(spec->files.cert_mode.has_value());
  ASSERT_TRUE(spec->reload.has_value());
  EXPECT_EQ(spec->reload->argv.size(), 3u);
  EXPECT_EQ(spec->reload->timeout, std::chrono::seconds(30));
  ASSERT_TRUE(spec->verify.has_value());
  EXPECT_EQ(spec->verify->timeout, std::chrono::seconds(15));
  EXPECT_FALSE(spec->ssh.has_value());
}

TEST(ParseTargetSpec, ReadsTheSshExample) {
  auto spec = parse_target_spec(ssh_spec());
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->kind, TargetKind::kSsh);
  ASSERT_TRUE(spec->ssh.has_value());
  EXPECT_EQ(spec->ssh->port, 2222);
  EXPECT_EQ(spec->ssh->timeout, std::chrono::seconds(20));
  EXPECT_EQ(spec->verify->timeout, std::chrono::seconds(120));
}

TEST(ParseTargetSpec, JsonRoundTripIsStable) {
  for (const json& in : {files_spec(), ssh_spec()}) {
    auto spec = parse_target_spec(in);
    ASSERT_TRUE(spec.has_value());
    const json out = target_spec_json(*spec);
    auto again = parse_target_spec(out);
    ASSERT_TRUE(again.has_value()) << out.dump() << ": " << again.error().message;
    EXPECT_EQ(target_spec_json(*again), out);
  }
}

TEST(ParseTargetSpec, RefusesUnknownMembersAtEveryLevel) {
  for (const char* where : {"", "files", "reload", "verify"}) {
    json j = files_spec();
    (std::string(where).empty() ? j : j[where])["surprise"] = 1;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << where;
  }
  json j = ssh_spec();
  j["ssh"]["ProxyCommand"] = "sh -c 'id'";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
}

TEST(ParseTargetSpec, RefusesBadShapes) {
  EXPECT_EQ(code_of(json::array()), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code_of("web"), ErrorCode::kInvalidArgument);
  json j = files_spec();
  j.erase("files");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j["files"] = json::object();
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);  // no file at all
  j = files_spec();
  j["files"]["key"] = 42;
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j["kind"] = "ftp";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j.erase("name");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
}

TEST(ParseTargetSpec, RefusesBadNames) {
  for (const char* name : {"", "Web", "-web", ".web", "we b", "web/1", "web\n",
                           "0123456789012345678901234567890123456789012345678901234567890123"}) {
    json j = files_spec();
    j["name"] = name;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << name;
  }
  json j = files_spec();
  j["name"] = "web-1.example_2";
  EXPECT_TRUE(parse_target_spec(j).has_value());
}

TEST(ParseTargetSpec, RefusesPathsThatAreNotAbsoluteAndNormal) {
  for (const char* path :
       {"relative/web.key", "web.key", "", "/", "/etc/nginx/", "/etc/../etc/shadow",
        "/etc/nginx/..", "/etc/./nginx/web.key", "/etc//nginx/web.key", "/etc/nginx/web\n.key",
        "/etc/nginx/web\x7f.key", "/etc/nginx/\x01"}) {
    json j = files_spec();
    j["files"]["key"] = path;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << path;
  }
  json j = files_spec();
  j["files"]["key"] = std::string(5000, 'a').insert(0, "/");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
}

TEST(ParseTargetSpec, RefusesTheSameFileTwiceAndAPasswordFileAlone) {
  json j = files_spec();
  j["files"]["certificate"] = "/etc/nginx/tls/web.key";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j["files"]["pkcs12"] = "/etc/nginx/tls/web.p12";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);  // no password file
  j = files_spec();
  j["files"]["pkcs12_password_file"] = "/etc/certward/p12.pass";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);  // no pkcs12
  j["files"]["pkcs12"] = "/etc/nginx/tls/web.p12";
  EXPECT_TRUE(parse_target_spec(j).has_value());
  j["files"]["pkcs12_password_file"] = "/etc/nginx/tls/web.key";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);  // the password file is an output
}

TEST(ParseTargetSpec, RefusesBadModes) {
  for (const json& mode : {json(640), json("640x"), json("0o640"), json("8"), json("01640"),
                           json("04755"), json("0800"), json(""), json("-640"), json("0644")}) {
    json j = files_spec();
    j["files"]["key_mode"] = mode;  // "0644" included: a key readable by every local user
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << mode.dump();
  }
  // Whoever may write the served certificate or key decides what the service presents (or
  // breaks it): no write access for others to either, nor for the group to a key.
  for (const char* mode : {"0646", "0666", "0777", "0622"}) {
    json j = files_spec();
    j["files"]["cert_mode"] = mode;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << mode;
  }
  for (const char* mode : {"0660", "0620", "0760"}) {
    json j = files_spec();
    j["files"]["key_mode"] = mode;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << mode;
  }
  json j = files_spec();
  j["files"]["cert_mode"] = "0664";  // a group of deployers may share the certificate
  EXPECT_TRUE(parse_target_spec(j).has_value());
  j["files"]["cert_mode"] = "0644";
  j["files"]["key_mode"] = "600";
  auto spec = parse_target_spec(j);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->files.cert_mode, 0644u);
  EXPECT_EQ(spec->files.key_mode, 0600u);
}

TEST(ParseTargetSpec, RefusesBadOwnersAndGroups) {
  for (const char* name :
       {"", "-root", "root;id", "Root", "r oot", "root\n", "a23456789012345678901234567890123"}) {
    json j = files_spec();
    j["files"]["owner"] = name;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << name;
    j = files_spec();
    j["files"]["group"] = name;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << name;
  }
}

TEST(ParseTargetSpec, RefusesBadReloads) {
  for (const json& argv :
       {json::array(), json("/usr/sbin/nginx -s reload"), json({"nginx", "-s", "reload"}),
        json({"./nginx"}), json({"/usr/sbin/../sbin/nginx"}), json({"/usr/sbin/nginx", 1}),
        json({"/usr/sbin/nginx", "a\nb"}), json(std::vector<std::string>(65, "/bin/true"))}) {
    json j = files_spec();
    j["reload"]["argv"] = argv;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << argv.dump();
  }
  json j = files_spec();
  j["reload"].erase("argv");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
}

TEST(ParseTargetSpec, RefusesBadTimeouts) {
  for (const json& t : {json("0s"), json("-5s"), json("2h"), json("30"), json("30 s"), json("s"),
                        json(0), json(-1), json(1.5), json("99999999999999999999s"), json(true)}) {
    json j = files_spec();
    j["reload"]["timeout"] = t;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << t.dump();
  }
  json j = files_spec();
  j["reload"]["timeout"] = 45;
  auto spec = parse_target_spec(j);
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->reload->timeout, std::chrono::seconds(45));
}

TEST(ParseTargetSpec, RefusesBadEndpoints) {
  for (const char* e :
       {"", "127.0.0.1", "127.0.0.1:", ":443", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+443",
        "127.0.0.1:0443", "127.0.0.1:443x", "::1:443", "[::1]", "[::1]443", "[zz]:443",
        "[127.0.0.1]:443", "-oProxy:443", "host name:443", "a..b:443", "h\nx:443"}) {
    json j = files_spec();
    j["verify"]["endpoint"] = e;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << e;
  }
  for (const char* e : {"[::1]:443", "www.example.com:8443", "127.0.0.1:1", "localhost:65535"}) {
    json j = files_spec();
    j["verify"]["endpoint"] = e;
    EXPECT_TRUE(parse_target_spec(j).has_value()) << e;
  }
  json j = files_spec();
  j["verify"]["server_name"] = "www.example.com\r\nHost: evil";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j["verify"].erase("endpoint");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
}

TEST(ParseTargetSpec, SshKindNeedsSshAndOnlyIt) {
  json j = ssh_spec();
  j.erase("ssh");
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = files_spec();
  j["ssh"] = ssh_spec()["ssh"];
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  for (const char* required : {"host", "user", "identity_file", "known_hosts"}) {
    j = ssh_spec();
    j["ssh"].erase(required);
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << required;
  }
}

TEST(ParseTargetSpec, RefusesHostileSshValues) {
  const std::vector<std::pair<std::string, json>> bad = {
      {"host", "-oProxyCommand=id"},
      {"host", "a b"},
      {"host", "host;id"},
      {"host", ""},
      {"host", "[::1]"},
      {"port", 0},
      {"port", 65536},
      {"port", "22"},
      {"port", -22},
      {"user", "-oProxyCommand=id"},
      {"user", "root@evil"},
      {"user", ""},
      {"identity_file", "id_ed25519"},
      {"identity_file", "/keys/id %d"},
      {"known_hosts", "/a /etc/ssh/ssh_known_hosts"},
      {"known_hosts", "/kh\"x"},
      {"timeout", "0s"}};
  for (const auto& [member, value] : bad) {
    json j = ssh_spec();
    j["ssh"][member] = value;
    EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument) << member << " " << value.dump();
  }
  json j = ssh_spec();
  j["files"]["key"] = "/etc/ssl/*.key";
  EXPECT_EQ(code_of(j), ErrorCode::kInvalidArgument);
  j = ssh_spec();
  j["ssh"]["host"] = "2001:db8::7";
  EXPECT_TRUE(parse_target_spec(j).has_value());
}

// ---- check_target ----

class CheckTarget : public ::testing::Test {
 protected:
  TargetSpec spec_at(const std::string& key_path) {
    json j = files_spec();
    j["files"] = {{"key", key_path}};
    auto spec = parse_target_spec(j);
    EXPECT_TRUE(spec.has_value()) << key_path;
    return spec ? *spec : TargetSpec{};
  }
  Status check(const std::string& key_path) { return check_target(spec_at(key_path), policy_); }
  void SetUp() override {
    std::filesystem::create_directories(dir_.file("allowed/tls"));
    std::filesystem::create_directories(dir_.file("allowed-evil"));
    std::filesystem::create_directories(dir_.file("elsewhere"));
    policy_.allowed_paths = {dir_.file("allowed")};
  }

  TempDir dir_;
  Policy policy_;
};

TEST_F(CheckTarget, AllowsFilesUnderAnAllowedDirectory) {
  EXPECT_TRUE(check(dir_.file("allowed/web.key")).has_value());
  EXPECT_TRUE(check(dir_.file("allowed/tls/web.key")).has_value());
  // A parent that does not exist yet is judged by the part that does.
  EXPECT_TRUE(check(dir_.file("allowed/new/deeper/web.key")).has_value());
}

TEST_F(CheckTarget, RefusesFilesElsewhereAndSiblingPrefixes) {
  for (const char* p : {"elsewhere/web.key", "allowed-evil/web.key", "allowedweb.key"}) {
    auto s = check(dir_.file(p));
    ASSERT_FALSE(s.has_value()) << p;
    EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  }
  // The allowed directory itself is not a file under it.
  EXPECT_FALSE(check(dir_.file("allowed")).has_value());
}

TEST_F(CheckTarget, RefusesASymlinkedParentThatEscapes) {
  ASSERT_EQ(::symlink(dir_.file("elsewhere").c_str(), dir_.file("allowed/escape").c_str()), 0);
  auto s = check(dir_.file("allowed/escape/web.key"));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  // A symlink that stays inside is fine, and so is reaching the allowed directory through one.
  ASSERT_EQ(::symlink(dir_.file("allowed/tls").c_str(), dir_.file("allowed/inside").c_str()), 0);
  EXPECT_TRUE(check(dir_.file("allowed/inside/web.key")).has_value());
  ASSERT_EQ(::symlink(dir_.file("allowed").c_str(), dir_.file("via").c_str()), 0);
  EXPECT_TRUE(check(dir_.file("via/web.key")).has_value());
}

TEST_F(CheckTarget, AllowedDirectoriesWithTrailingSlashesOrLinksStillWork) {
  policy_.allowed_paths = {dir_.file("allowed") + "/"};
  EXPECT_TRUE(check(dir_.file("allowed/web.key")).has_value());
  ASSERT_EQ(::symlink(dir_.file("allowed").c_str(), dir_.file("link").c_str()), 0);
  policy_.allowed_paths = {dir_.file("link")};
  EXPECT_TRUE(check(dir_.file("allowed/web.key")).has_value());
  EXPECT_FALSE(check(dir_.file("elsewhere/web.key")).has_value());
}

TEST_F(CheckTarget, EveryFileMustBeAllowed) {
  TargetSpec spec = spec_at(dir_.file("allowed/web.key"));
  spec.files.certificate = dir_.file("elsewhere/web.crt");
  auto s = check_target(spec, policy_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
}

TEST_F(CheckTarget, AnEmptyPolicyAllowsNothing) {
  policy_.allowed_paths.clear();
  EXPECT_FALSE(check(dir_.file("allowed/web.key")).has_value());
  policy_.allowed_paths = {"relative/dir"};
  EXPECT_FALSE(check(dir_.file("allowed/web.key")).has_value());
}

// A verification endpoint is dialled by the server: given as an address, it must be in
// [lifecycle] verify_networks (loopback and private ranges by default), so that a target
// cannot make certward probe a cloud metadata service or any address it can reach.
TEST_F(CheckTarget, VerifyEndpointsGivenAsAddressesMustBeInTheVerifyNetworks) {
  auto with_verify = [&](const std::string& endpoint) {
    TargetSpec s = spec_at(dir_.file("allowed/web.key"));
    s.verify = Verify{endpoint, std::nullopt, std::chrono::seconds(1)};
    return check_target(s, policy_);
  };
  for (const char* outside : {"169.254.169.254:80", "[fe80::1]:443", "8.8.8.8:443",
                              "[::ffff:169.254.169.254]:80", "0.0.0.0:443"}) {
    auto st = with_verify(outside);
    ASSERT_FALSE(st.has_value()) << outside;
    EXPECT_EQ(st.error().code, ErrorCode::kPolicyRejected) << outside;
  }
  EXPECT_TRUE(with_verify("127.0.0.1:443").has_value());
  EXPECT_TRUE(with_verify("[::1]:443").has_value());
  EXPECT_TRUE(with_verify("10.1.2.3:443").has_value());
  // A name is judged by what it resolves to, when the handshake is made.
  EXPECT_TRUE(with_verify("www.example.com:443").has_value());
  policy_.verify_networks = {"127.0.0.0/8"};
  EXPECT_FALSE(with_verify("10.1.2.3:443").has_value());
}

TEST(CheckTargetSsh, HostsMustBeOnTheAllowList) {
  auto spec = parse_target_spec(ssh_spec());
  ASSERT_TRUE(spec.has_value());
  Policy policy;
  policy.verify_networks = {"2001:db8::/32"};  // where the example verifies
  auto s = check_target(*spec, policy);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  policy.allowed_ssh_hosts = {"edge2.example.com", "edge1.example.co"};
  EXPECT_FALSE(check_target(*spec, policy).has_value());
  policy.allowed_ssh_hosts = {"EDGE1.example.com"};
  EXPECT_TRUE(check_target(*spec, policy).has_value());
  policy.allowed_ssh_hosts = {"*"};
  EXPECT_TRUE(check_target(*spec, policy).has_value());
  // Remote paths are the host's business; the local allow list does not apply to them.
  policy.allowed_paths = {"/nowhere"};
  EXPECT_TRUE(check_target(*spec, policy).has_value());
}

TEST(TargetKindName, NamesBothKinds) {
  EXPECT_EQ(target_kind_name(TargetKind::kFiles), "files");
  EXPECT_EQ(target_kind_name(TargetKind::kSsh), "ssh");
}

TEST(OutcomeJson, ReportsStepsAndTheError) {
  Outcome o;
  o.rolled_back = true;
  o.steps.push_back({"write", true, "wrote 2 file(s)", std::chrono::milliseconds(3)});
  o.steps.push_back({"reload", false, "exit status 1", std::chrono::milliseconds(5)});
  o.error = Error{ErrorCode::kUnavailable, "reload failed"};
  const json j = outcome_json(o);
  EXPECT_EQ(j["deployed"], false);
  EXPECT_EQ(j["rolled_back"], true);
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][1]["name"], "reload");
  EXPECT_EQ(j["steps"][1]["took_ms"], 5);
  EXPECT_EQ(j["error"]["code"], std::string(error_code_name(ErrorCode::kUnavailable)));
}

}  // namespace
}  // namespace certward::lifecycle::deploy
