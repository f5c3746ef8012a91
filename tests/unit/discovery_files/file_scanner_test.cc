// The file scanner over a tree made by the real tools at test time (openssl, keytool,
// ssh-keygen): every file must be reported exactly once with the format, certificates, key
// presence and findings a PKI engineer would expect, certificates must hash to what
// `openssl x509 -fingerprint -sha256` prints, and FIFOs, symlink loops, oversized, truncated
// and garbage files must neither hang nor crash the scan.
#include "discovery/files/file_scanner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "crypto/crypto.h"
#include "unit/x509/test_certs.h"

namespace certward::discovery::files {
namespace {

namespace xt = x509::testing;

// Made once for the suite: keytool alone takes seconds per store. Everything lands in tree/;
// work/ holds what the tree is made from.
constexpr std::string_view kMakeTree = R"sh(
set -e
mkdir -p tree work tree/excluded tree/sub
W=work; T=tree
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ec $W/ca.key
openssl req -x509 -new -key $W/ca.key -subj /CN=Test-CA -days 30 -out $W/ca.pem
ec $T/server.key; chmod 600 $T/server.key
openssl req -new -key $T/server.key -subj /CN=server.test -out $W/server.csr
openssl x509 -req -in $W/server.csr -CA $W/ca.pem -CAkey $W/ca.key -set_serial 2 -days 30 -out $T/server.crt
cp $W/ca.pem $T/ca.pem
cat $T/server.crt $W/ca.pem > $T/bundle.pem
openssl x509 -in $T/server.crt -outform DER -out $T/server.der
openssl crl2pkcs7 -nocrl -certfile $T/bundle.pem -outform DER -out $T/chain.p7b
openssl crl2pkcs7 -nocrl -certfile $T/bundle.pem -out $T/chain-p7.pem
cat $T/server.crt $T/server.key > $T/combined.pem; chmod 600 $T/combined.pem
openssl pkcs12 -export -inkey $T/server.key -in $T/server.crt -certfile $W/ca.pem -passout pass:changeit -out $T/withkey.p12
chmod 600 $T/withkey.p12
openssl pkcs12 -export -nokeys -in $T/bundle.pem -passout pass: -out $T/certsonly.p12
# RC2-40 certificates and a 3DES key, as Windows and older Java export them.
openssl pkcs12 -export -legacy -inkey $T/server.key -in $T/server.crt -passout pass:changeit -out $T/legacy.p12
chmod 600 $T/legacy.p12
openssl pkcs12 -export -inkey $T/server.key -in $T/server.crt -passout pass:not-in-the-list -out $T/locked.p12
chmod 644 $T/locked.p12
openssl pkcs12 -export -inkey $T/server.key -in $T/server.crt -passout pass:extra-password -out $T/custom.p12
chmod 600 $T/custom.p12
ec $T/loose.key; chmod 644 $T/loose.key
openssl x509 -in $W/ca.pem -addtrust serverAuth -out $T/trusted.pem
openssl genrsa -traditional -out $W/rsa.key 2048
openssl req -x509 -new -key $W/rsa.key -subj /CN=rsa.test -days 30 -out $W/rsa.crt
cat $W/rsa.key $W/rsa.crt > $T/rsa-both.pem; chmod 600 $T/rsa-both.pem
openssl pkcs8 -topk8 -in $T/server.key -passout pass:changeit -out $T/enc.key; chmod 600 $T/enc.key
cp $T/server.crt $T/enc.crt
cp $T/server.crt $T/web.crt; cp $T/server.key $T/web-key.pem
cp $T/server.crt $T/api.crt; cp $T/server.key $T/api.pem
openssl req -x509 -new -key $W/ca.key -subj /CN=odd -days 30 -addext certificatePolicies=DER:020105 -out $T/odd.pem
# Java keystores
kt() { keytool "$@" -storepass changeit -noprompt >/dev/null 2>&1; }
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=jks.test -validity 30 -storetype JKS -keypass changeit -keystore $T/keystore.jks
chmod 600 $T/keystore.jks
cp $T/keystore.jks $T/loose.jks; chmod 644 $T/loose.jks
kt -importcert -alias ca -file $W/ca.pem -storetype JKS -keystore $T/truststore.jks
keytool -importcert -noprompt -alias ca -file $W/ca.pem -storetype JKS -keystore $T/otherpass.jks -storepass other-password >/dev/null 2>&1
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=p12.test -validity 30 -storetype PKCS12 -keystore $T/keystore.pfx
chmod 600 $T/keystore.pfx
kt -genkeypair -alias srv -keyalg EC -groupname secp256r1 -dname CN=jceks.test -validity 30 -storetype JCEKS -keypass changeit -keystore $T/keystore.jceks
chmod 600 $T/keystore.jceks
kt -exportcert -rfc -alias srv -keystore $T/keystore.jks -file $W/jks-srv.pem
# OpenSSH
ssh-keygen -q -t ed25519 -N '' -C ed@test -f $W/ed
ssh-keygen -q -t rsa -b 1024 -N '' -C rsa@test -f $W/rsa
ssh-keygen -q -t dsa -N '' -C dsa@test -f $W/dsa
{
  echo '# keys allowed to log in'
  echo "from=\"10.0.0.1,192.0.2.0/24\",command=\"echo hi, there\",no-pty $(cat $W/ed.pub)"
  cat $W/rsa.pub
  echo 'ssh-rsa not*base64 broken'
  cat $W/dsa.pub
} > $T/sub/authorized_keys
chmod 600 $T/sub/authorized_keys
echo "host1.test,192.0.2.5 $(cut -d' ' -f1,2 $W/ed.pub)" > $T/sub/known_hosts
ssh-keygen -q -H -f $T/sub/known_hosts; rm -f $T/sub/known_hosts.old
echo "@cert-authority *.example.test $(cat $W/ed.pub)" >> $T/sub/known_hosts
echo "@bogus host2.test $(cut -d' ' -f1,2 $W/ed.pub)" >> $T/sub/known_hosts
cp $W/ed.pub $T/sub/id_ed25519.pub
cp $W/ed $T/sub/id_ed25519; chmod 644 $T/sub/id_ed25519
# What is not a certificate, or no longer one
printf 'just some notes\n' > $T/README.txt
printf '\001\002\003garbage\377\376' > $T/garbage.bin
printf '0 3 * * * /usr/bin/renew\n' > $T/crontab
printf 'const char* k = "-----BEGIN CERTIFICATE-----\\n";\n' > $T/tool.c
: > $T/empty.crt
head -c 200 $T/server.crt > $T/truncated.pem
head -c 100 $T/server.der > $T/truncated.der
head -c 300 $T/withkey.p12 > $T/truncated.p12
head -c 200 $T/keystore.jks > $T/truncated.jks
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' > $T/garbage.pem
head -c 1048577 /dev/zero > $T/big.bin
mkfifo $T/pipe
ln -s . $T/sub/loop
ln -s server.crt $T/link.crt
cp $T/server.crt $T/excluded/hidden.crt
cp $T/server.crt $T/notes.skip
)sh";

struct Expect {
  std::string format;
  std::size_t certificates = 0;
  bool key_present = false;
  std::vector<std::string> findings = {};  // codes, sorted
  std::optional<ErrorCode> error = {};
  std::size_t ssh_keys = 0;
};

class FileScannerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new xt::TempDir;
    dir_->write("make-tree.sh", kMakeTree);
    ASSERT_EQ(dir_->run("bash make-tree.sh"), 0)
        << dir_->output("bash make-tree.sh", xt::TempDir::Stderr::kCapture);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string tree() { return dir_->file("tree"); }

  static FileScanOptions options() {
    FileScanOptions o;
    o.paths = {tree()};
    o.exclude = {"excluded", "*.skip"};
    o.passwords.push_back(crypto::SecretBytes::copy_of("extra-password"));
    o.host = "scanner.test";
    return o;
  }

  struct Run {
    std::vector<FileObservation> observations;
    FileScanSummary summary;
    // Path relative to the tree -> how many times it was reported, and the last report.
    std::map<std::string, int> count;
    std::map<std::string, FileObservation> by_name;
  };

  static Run scan(FileScanOptions o) {
    FakeClock clock{SysTime(std::chrono::seconds(xt::kT0))};
    FileScanner scanner(std::move(o), clock);
    Run run;
    run.summary = scanner.scan([&](FileObservation obs) { run.observations.push_back(obs); });
    for (const auto& obs : run.observations) {
      const std::string rel = obs.path.substr(std::min(obs.path.size(), tree().size() + 1));
      ++run.count[rel];
      run.by_name[rel] = obs;
    }
    return run;
  }

  static std::string openssl_sha256(const std::string& pem_file) {
    // "sha256 Fingerprint=AB:CD:..." -> "abcd..."
    std::string out = dir_->output("openssl x509 -noout -fingerprint -sha256 -in " + pem_file);
    out = out.substr(out.find('=') + 1);
    std::string hex;
    for (char c : out) {
      if (std::isxdigit(static_cast<unsigned char>(c))) {
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    return hex;
  }

  static std::vector<std::string> codes(const FileObservation& obs) {
    std::vector<std::string> out;
    for (const auto& f : obs.findings) out.push_back(f.code);
    std::ranges::sort(out);
    return out;
  }

  static Finding finding(const FileObservation& obs, std::string_view code) {
    for (const auto& f : obs.findings) {
      if (f.code == code) return f;
    }
    ADD_FAILURE() << "no finding " << code;
    return {};
  }

  static xt::TempDir* dir_;
};
xt::TempDir* FileScannerTest::dir_ = nullptr;

TEST_F(FileScannerTest, EveryFileIsAccountedForOnceWithWhatItHolds) {
  const Run run = scan(options());
  const std::map<std::string, Expect> expected{
      {"server.key", {.format = "private_key"}},
      {"server.crt", {.format = "pem", .certificates = 1, .key_present = true}},
      {"server.der", {.format = "der", .certificates = 1, .key_present = true}},
      {"ca.pem", {.format = "pem", .certificates = 1}},
      {"bundle.pem", {.format = "pem", .certificates = 2}},
      {"chain.p7b", {.format = "pkcs7", .certificates = 2}},
      {"chain-p7.pem", {.format = "pkcs7", .certificates = 2}},
      {"combined.pem", {.format = "pem", .certificates = 1, .key_present = true}},
      {"withkey.p12", {.format = "pkcs12", .certificates = 2, .key_present = true}},
      {"certsonly.p12", {.format = "pkcs12", .certificates = 2}},
      {"legacy.p12", {.format = "pkcs12", .certificates = 1, .key_present = true}},
      {"locked.p12",
       {.format = "pkcs12",
        .findings = {"key_readable_by_others", "pkcs12_password_unknown"},
        .error = ErrorCode::kBadPassword}},
      {"custom.p12", {.format = "pkcs12", .certificates = 1, .key_present = true}},
      {"loose.key", {.format = "private_key", .findings = {"key_readable_by_others"}}},
      {"odd.pem", {.format = "pem", .certificates = 1}},
      {"trusted.pem", {.format = "pem", .certificates = 1}},
      {"rsa-both.pem", {.format = "pem", .certificates = 1, .key_present = true}},
      // An encrypted key beside a certificate cannot be compared without its password.
      {"enc.key", {.format = "private_key"}},
      {"enc.crt", {.format = "pem", .certificates = 1}},
      {"web.crt", {.format = "pem", .certificates = 1, .key_present = true}},
      {"web-key.pem", {.format = "private_key"}},
      {"api.crt", {.format = "pem", .certificates = 1, .key_present = true}},
      {"api.pem", {.format = "private_key"}},
      {"keystore.jks", {.format = "jks", .certificates = 1, .key_present = true}},
      {"truststore.jks", {.format = "jks", .certificates = 1}},
      {"loose.jks",
       {.format = "jks",
        .certificates = 1,
        .key_present = true,
        .findings = {"key_readable_by_others"}}},
      {"otherpass.jks",
       {.format = "jks", .certificates = 1, .findings = {"keystore_password_unknown"}}},
      {"keystore.pfx", {.format = "pkcs12", .certificates = 1, .key_present = true}},
      {"keystore.jceks", {.format = "jceks", .certificates = 1, .key_present = true}},
      {"sub/authorized_keys",
       {.format = "authorized_keys",
        .findings = {"malformed_line", "weak_ssh_key", "weak_ssh_key"},
        .ssh_keys = 3}},
      {"sub/known_hosts", {.format = "known_hosts", .findings = {"malformed_line"}, .ssh_keys = 3}},
      {"sub/id_ed25519.pub", {.format = "authorized_keys", .ssh_keys = 1}},
      {"sub/id_ed25519",
       {.format = "private_key", .findings = {"key_readable_by_others"}, .ssh_keys = 1}},
      {"README.txt", {.format = ""}},
      {"garbage.bin", {.format = ""}},
      {"crontab", {.format = ""}},  // starts with '0', the DER SEQUENCE tag, and is text
      {"tool.c", {.format = ""}},   // PEM armour inside a string is not a block
      {"empty.crt", {.format = ""}},
      {"truncated.pem", {.format = "pem", .error = ErrorCode::kMalformed}},
      {"truncated.der", {.format = "", .error = ErrorCode::kMalformed}},
      {"truncated.p12", {.format = "", .error = ErrorCode::kMalformed}},
      {"truncated.jks", {.format = "jks", .error = ErrorCode::kMalformed}},
      {"garbage.pem", {.format = "pem", .error = ErrorCode::kMalformed}},
      {"big.bin", {.format = "", .error = ErrorCode::kPolicyRejected}},
  };
  // Exactly these files, each once: not the FIFO, the symlinks or the excluded ones.
  std::vector<std::string> seen, want;
  for (const auto& [name, n] : run.count) {
    seen.push_back(name);
    EXPECT_EQ(n, 1) << name;
  }
  for (const auto& [name, e] : expected) want.push_back(name);
  EXPECT_EQ(seen, want);
  for (const auto& [name, e] : expected) {
    SCOPED_TRACE(name);
    auto it = run.by_name.find(name);
    if (it == run.by_name.end()) continue;
    const FileObservation& obs = it->second;
    EXPECT_EQ(obs.host, "scanner.test");
    EXPECT_EQ(obs.path, tree() + "/" + name);
    EXPECT_EQ(obs.format, e.format);
    EXPECT_EQ(obs.certificates.size(), e.certificates);
    EXPECT_EQ(obs.key_present, e.key_present);
    EXPECT_EQ(codes(obs), e.findings);
    EXPECT_EQ(obs.ssh_keys.size(), e.ssh_keys);
    EXPECT_EQ(obs.error.has_value(), e.error.has_value())
        << (obs.error ? obs.error->message : "no error");
    if (obs.error && e.error) {
      EXPECT_EQ(obs.error->code, *e.error) << obs.error->message;
    }
  }
  EXPECT_EQ(run.summary.files_seen, expected.size());
  EXPECT_EQ(run.summary.errors, 7U);
  EXPECT_EQ(run.summary.skipped.at("special_file"), 1U);  // the FIFO
  EXPECT_EQ(run.summary.skipped.at("symlink"), 2U);       // loop, link.crt
  EXPECT_EQ(run.summary.skipped.at("excluded"), 2U);      // excluded/, notes.skip
  EXPECT_EQ(run.summary.skipped.at("too_large"), 1U);
  EXPECT_FALSE(run.summary.max_files_reached);
}

TEST_F(FileScannerTest, CertificatesHashAsOpensslPrintsThem) {
  const Run run = scan(options());
  auto sha256_hex = [](const Bytes& der) { return to_hex(crypto::sha256(der)); };
  const std::string server = openssl_sha256("tree/server.crt");
  const std::string ca = openssl_sha256("work/ca.pem");
  ASSERT_EQ(server.size(), 64U);
  for (const char* name :
       {"server.crt", "server.der", "combined.pem", "custom.p12", "legacy.p12"}) {
    ASSERT_FALSE(run.by_name.at(name).certificates.empty()) << name;
    EXPECT_EQ(sha256_hex(run.by_name.at(name).certificates[0]), server) << name;
  }
  for (const char* name : {"bundle.pem", "chain.p7b", "chain-p7.pem", "withkey.p12"}) {
    const auto& certs = run.by_name.at(name).certificates;
    ASSERT_EQ(certs.size(), 2U) << name;
    EXPECT_EQ(sha256_hex(certs[0]), server) << name;
    EXPECT_EQ(sha256_hex(certs[1]), ca) << name;
  }
  EXPECT_EQ(sha256_hex(run.by_name.at("truststore.jks").certificates.at(0)), ca);
  EXPECT_EQ(sha256_hex(run.by_name.at("trusted.pem").certificates.at(0)), ca);
  EXPECT_EQ(sha256_hex(run.by_name.at("otherpass.jks").certificates.at(0)), ca);
  EXPECT_EQ(sha256_hex(run.by_name.at("keystore.jks").certificates.at(0)),
            openssl_sha256("work/jks-srv.pem"));
}

TEST_F(FileScannerTest, CertificateTheStrictParserRefusesIsStillReported) {
  const Run run = scan(options());
  const auto& certs = run.by_name.at("odd.pem").certificates;
  ASSERT_EQ(certs.size(), 1U);
  EXPECT_FALSE(x509::Certificate::from_der(certs[0]));
  EXPECT_EQ(to_hex(crypto::sha256(certs[0])), openssl_sha256("tree/odd.pem"));
}

TEST_F(FileScannerTest, FindingsNameTheModeAndTheLine) {
  const Run run = scan(options());
  const auto& loose = run.by_name.at("loose.key").findings;
  ASSERT_EQ(loose.size(), 1U);
  EXPECT_EQ(loose[0].severity, Severity::kHigh);
  EXPECT_NE(loose[0].detail.find("0644"), std::string::npos) << loose[0].detail;
  for (const auto& f : run.by_name.at("sub/authorized_keys").findings) {
    if (f.code == "malformed_line") {
      EXPECT_EQ(f.severity, Severity::kLow);
      EXPECT_NE(f.detail.find("line 4"), std::string::npos) << f.detail;
    } else {
      EXPECT_EQ(f.severity, Severity::kHigh);
    }
  }
  const auto& known = run.by_name.at("sub/known_hosts").findings;
  ASSERT_EQ(known.size(), 1U);
  EXPECT_NE(known[0].detail.find("line 4"), std::string::npos) << known[0].detail;
  EXPECT_EQ(finding(run.by_name.at("locked.p12"), "pkcs12_password_unknown").severity,
            Severity::kMedium);
  EXPECT_EQ(finding(run.by_name.at("otherpass.jks"), "keystore_password_unknown").severity,
            Severity::kLow);
}

TEST_F(FileScannerTest, SshKeysCarryTheirOptionsHostsAndComments) {
  const Run run = scan(options());
  const auto& keys = run.by_name.at("sub/authorized_keys").ssh_keys;
  ASSERT_EQ(keys.size(), 3U);
  EXPECT_EQ(keys[0].type, "ssh-ed25519");
  EXPECT_EQ(keys[0].options, R"(from="10.0.0.1,192.0.2.0/24",command="echo hi, there",no-pty)");
  EXPECT_EQ(keys[0].comment, "ed@test");
  EXPECT_EQ(keys[1].type, "ssh-rsa");
  EXPECT_EQ(keys[1].bits, 1024);
  EXPECT_EQ(keys[2].type, "ssh-dss");
  const auto& hosts = run.by_name.at("sub/known_hosts").ssh_keys;
  // ssh-keygen -H writes one hashed line per name.
  ASSERT_EQ(hosts.size(), 3U);
  EXPECT_TRUE(hosts[0].options.starts_with("|1|")) << hosts[0].options;
  EXPECT_TRUE(hosts[1].options.starts_with("|1|")) << hosts[1].options;
  EXPECT_EQ(hosts[2].options, "@cert-authority *.example.test");
  EXPECT_EQ(hosts[2].comment, "ed@test");
  EXPECT_EQ(hosts[0].fingerprint, hosts[2].fingerprint);
  EXPECT_EQ(run.by_name.at("sub/id_ed25519").ssh_keys.at(0).fingerprint, hosts[0].fingerprint);
}

TEST_F(FileScannerTest, FollowingSymlinksEndsLoopsAndReportsLinkedFiles) {
  FileScanOptions o = options();
  o.symlinks = SymlinkPolicy::kFollow;
  const Run run = scan(std::move(o));
  EXPECT_EQ(run.count.at("link.crt"), 1);
  EXPECT_EQ(run.by_name.at("link.crt").format, "pem");
  EXPECT_EQ(run.count.count("sub/loop/authorized_keys"), 0U);
  EXPECT_EQ(run.summary.skipped.at("symlink_loop"), 1U);
}

TEST_F(FileScannerTest, IncludeGlobsLimitTheScanAndExcludedFilesAreNotReported) {
  FileScanOptions o = options();
  o.include = {"*.p12", "**/sub/*_keys"};
  o.exclude = {"locked.p12"};
  const Run run = scan(std::move(o));
  std::vector<std::string> names;
  for (const auto& [name, n] : run.count) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"certsonly.p12", "custom.p12", "legacy.p12",
                                      "sub/authorized_keys", "truncated.p12", "withkey.p12"}));
}

TEST_F(FileScannerTest, MaxFilesStopsTheScanAndSaysSo) {
  FileScanOptions o = options();
  o.max_files = 3;
  const Run run = scan(std::move(o));
  EXPECT_EQ(run.observations.size(), 3U);
  EXPECT_TRUE(run.summary.max_files_reached);
}

TEST_F(FileScannerTest, NamedRootsAreScannedAsGivenAndMissingOnesReported) {
  FileScanOptions o = options();
  o.paths = {tree() + "/link.crt", tree() + "/pipe", tree() + "/no-such-file", tree() + "/sub/"};
  const Run run = scan(std::move(o));
  EXPECT_EQ(run.by_name.at("link.crt").format, "pem");
  ASSERT_TRUE(run.by_name.at("no-such-file").error);
  EXPECT_EQ(run.by_name.at("no-such-file").error->code, ErrorCode::kNotFound);
  EXPECT_EQ(run.count.count("pipe"), 0U);
  EXPECT_EQ(run.summary.skipped.at("special_file"), 1U);
  EXPECT_EQ(run.by_name.at("sub/authorized_keys").format, "authorized_keys");
}

TEST_F(FileScannerTest, OverlappingRootsReportEachFileOnce) {
  FileScanOptions o = options();
  o.paths = {tree() + "/sub", tree()};
  const Run run = scan(std::move(o));
  for (const auto& [name, n] : run.count) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(run.count.at("sub/known_hosts"), 1);
}

TEST_F(FileScannerTest, WithoutTheExtraPasswordTheCustomPkcs12IsLocked) {
  FileScanOptions o = options();
  o.passwords.clear();
  const Run run = scan(std::move(o));
  const auto& obs = run.by_name.at("custom.p12");
  ASSERT_TRUE(obs.error);
  EXPECT_EQ(obs.error->code, ErrorCode::kBadPassword);
  EXPECT_EQ(codes(obs), std::vector<std::string>{"pkcs12_password_unknown"});
}

TEST_F(FileScannerTest, StayingOnOneFilesystemSkipsOtherMounts) {
  // A directory on the tmpfs at /dev/shm, reached through a link from the tree's filesystem.
  std::string shm = "/dev/shm/certward-files-XXXXXX";
  ASSERT_NE(mkdtemp(shm.data()), nullptr);
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(shm.c_str(), &a), 0);
  ASSERT_EQ(::stat(tree().c_str(), &b), 0);
  if (a.st_dev == b.st_dev) {
    std::filesystem::remove_all(shm);
    GTEST_SKIP() << "/dev/shm is not a separate filesystem here";
  }
  std::filesystem::copy_file(tree() + "/server.crt", shm + "/elsewhere.crt");
  dir_->run("mkdir -p mounts && ln -sfn " + shm + " mounts/shm");
  FileScanOptions o = options();
  o.paths = {dir_->file("mounts")};
  o.symlinks = SymlinkPolicy::kFollow;
  o.filesystems = FilesystemPolicy::kStay;
  const Run stay = scan(std::move(o));
  EXPECT_TRUE(stay.observations.empty());
  EXPECT_EQ(stay.summary.skipped.at("other_filesystem"), 1U);
  FileScanOptions cross = options();
  cross.paths = {dir_->file("mounts")};
  cross.symlinks = SymlinkPolicy::kFollow;
  const Run crossed = scan(std::move(cross));
  ASSERT_EQ(crossed.observations.size(), 1U);
  EXPECT_EQ(crossed.observations[0].format, "pem");
  std::filesystem::remove_all(shm);
}

// Someone with write access to a scanned directory swaps a listed file for a link to a key, or
// for a FIFO with no writer, between the listing and the open: the link is not followed, the
// open does not block, and the file is reported as changed.
TEST_F(FileScannerTest, AFileSwappedAfterTheListingIsNotFollowedAndCannotHang) {
  xt::TempDir swap;
  swap.write("link.crt", as_chars(dir_->read("tree/server.crt")));
  swap.write("fifo.crt", as_chars(dir_->read("tree/server.crt")));
  const std::string target = tree() + "/server.crt";
  FileScanOptions o;
  o.paths = {swap.file("")};
  o.TEST_before_open = [&](const std::string& path) {
    std::filesystem::remove(path);
    if (path.ends_with("link.crt")) {
      std::filesystem::create_symlink(target, path);
    } else {
      ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    }
  };
  const Run run = scan(std::move(o));
  ASSERT_EQ(run.observations.size(), 2U);
  for (const auto& obs : run.observations) {
    SCOPED_TRACE(obs.path);
    EXPECT_TRUE(obs.certificates.empty());
    ASSERT_TRUE(obs.error);
    EXPECT_EQ(obs.error->code, ErrorCode::kUnavailable);
  }
}

// What an unprivileged scanner meets: a file and a directory it may not read. Each is an
// observation with kUnauthorized and the scan goes on. Run as "nobody" in a child process when
// the tests run as root, whom permissions do not stop.
bool unreadable_entries_are_reported(const std::string& base) {
  FakeClock clock{SysTime(std::chrono::seconds(xt::kT0))};
  FileScanOptions o;
  o.paths = {base};
  std::map<std::string, FileObservation> seen;
  FileScanner(std::move(o), clock).scan([&](FileObservation obs) {
    seen[obs.path.substr(base.size() + 1)] = obs;
  });
  auto denied = [&](const std::string& name) {
    auto it = seen.find(name);
    return it != seen.end() && it->second.error &&
           it->second.error->code == ErrorCode::kUnauthorized;
  };
  return seen.size() == 3 && denied("secret.pem") && denied("locked") &&
         seen["open.pem"].format == "pem" && !seen["open.pem"].error;
}

TEST_F(FileScannerTest, UnreadableFilesAndDirectoriesAreObservationsWithErrors) {
  std::string base = "/tmp/certward-files-perm-XXXXXX";
  ASSERT_NE(mkdtemp(base.data()), nullptr);
  ASSERT_EQ(::chmod(base.c_str(), 0755), 0);
  namespace fs = std::filesystem;
  fs::copy_file(tree() + "/server.crt", base + "/open.pem");
  fs::copy_file(tree() + "/server.crt", base + "/secret.pem");
  fs::create_directory(base + "/locked");
  fs::copy_file(tree() + "/server.crt", base + "/locked/inside.pem");
  ASSERT_EQ(::chmod((base + "/open.pem").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((base + "/secret.pem").c_str(), 0), 0);
  ASSERT_EQ(::chmod((base + "/locked").c_str(), 0), 0);
  if (::geteuid() == 0) {
    // The unprivileged user must reach `base` at all: under a root directory of mode 0700 (some
    // containers and chroots) nothing is visible to it, and there is nothing to observe.
    const pid_t probe = ::fork();
    if (probe == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(2);
      std::_Exit(::access(base.c_str(), X_OK) == 0 ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(probe, &status, 0), probe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
      ::chmod((base + "/locked").c_str(), 0755);
      fs::remove_all(base);
      GTEST_SKIP() << "user 65534 cannot reach " << base << " on this machine";
    }
    EXPECT_EXIT(
        {
          if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(2);
          std::_Exit(unreadable_entries_are_reported(base) ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
  } else {
    EXPECT_TRUE(unreadable_entries_are_reported(base));
  }
  ::chmod((base + "/locked").c_str(), 0755);
  fs::remove_all(base);
}

}  // namespace
}  // namespace certward::discovery::files
