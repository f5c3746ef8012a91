// The SSH key decoder against keys and certificates made by ssh-keygen: fingerprints must agree
// with `ssh-keygen -l`, and every truncation of a real blob must be refused, never misread.
#include "discovery/ssh_key.h"

#include <gtest/gtest.h>

#include <sstream>

#include "unit/x509/test_certs.h"

namespace certward::discovery {
namespace {

namespace xt = x509::testing;

// The base64 blob of an OpenSSH public key file ("type base64 comment").
Bytes blob_of(const std::string& line) {
  std::istringstream in(line);
  std::string type, b64;
  in >> type >> b64;
  auto blob = from_base64(b64);
  CW_CHECK(blob.has_value());
  return *blob;
}

// "256 SHA256:abc... comment (ED25519)" -> "SHA256:abc..."
std::string keygen_fingerprint(const xt::TempDir& dir, const std::string& file) {
  std::istringstream in(dir.output("ssh-keygen -l -f " + file));
  std::string bits, fp;
  in >> bits >> fp;
  return fp;
}

class SshKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new xt::TempDir;
    ASSERT_EQ(dir_->run("ssh-keygen -q -t ed25519 -N '' -C ed -f ed"), 0);
    ASSERT_EQ(dir_->run("ssh-keygen -q -t rsa -b 1024 -N '' -C rsa -f rsa1024"), 0);
    ASSERT_EQ(dir_->run("ssh-keygen -q -t ecdsa -b 384 -N '' -C ec -f ec384"), 0);
    ASSERT_EQ(dir_->run("ssh-keygen -q -t dsa -N '' -C dsa -f dsa"), 0);
    ASSERT_EQ(dir_->run("ssh-keygen -q -t ed25519 -N '' -C ca -f ca"), 0);
    ASSERT_EQ(dir_->run("ssh-keygen -q -s ca -h -I host-id -z 42 -n a.example,b.example "
                        "-V 20250101000000:20250201000000 ed.pub"),
              0);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string pub(const std::string& name) {
    const Bytes b = dir_->read(name);
    return std::string(b.begin(), b.end());
  }

  static xt::TempDir* dir_;
};
xt::TempDir* SshKeyTest::dir_ = nullptr;

TEST_F(SshKeyTest, KeysDecodeWithTheirSizeAndSshKeygensFingerprint) {
  struct Case {
    std::string file, type;
    int bits;
  };
  for (const Case& c :
       {Case{"ed.pub", "ssh-ed25519", 256}, Case{"rsa1024.pub", "ssh-rsa", 1024},
        Case{"ec384.pub", "ecdsa-sha2-nistp384", 384}, Case{"dsa.pub", "ssh-dss", 1024}}) {
    auto key = parse_ssh_key_blob(blob_of(pub(c.file)));
    ASSERT_TRUE(key) << c.file << ": " << key.error().message;
    EXPECT_EQ(key->type, c.type);
    EXPECT_EQ(key->bits, c.bits) << c.file;
    EXPECT_EQ(key->fingerprint, keygen_fingerprint(*dir_, c.file)) << c.file;
    EXPECT_FALSE(key->cert);
  }
}

TEST_F(SshKeyTest, HostCertificateFields) {
  auto key = parse_ssh_key_blob(blob_of(pub("ed-cert.pub")));
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->type, "ssh-ed25519-cert-v01@openssh.com");
  EXPECT_EQ(key->bits, 256);
  ASSERT_TRUE(key->cert);
  EXPECT_TRUE(key->cert->host);
  EXPECT_EQ(key->cert->serial, 42u);
  EXPECT_EQ(key->cert->key_id, "host-id");
  EXPECT_EQ(key->cert->principals, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(key->cert->valid_after, parse_time("2025-01-01T00:00:00Z").value());
  EXPECT_EQ(key->cert->valid_before, parse_time("2025-02-01T00:00:00Z").value());
  EXPECT_EQ(key->cert->ca_type, "ssh-ed25519");
  EXPECT_EQ(key->cert->ca_fingerprint, keygen_fingerprint(*dir_, "ca.pub"));

  const auto in_window = parse_time("2025-01-15T00:00:00Z").value();
  EXPECT_TRUE(ssh_key_findings(*key, in_window).empty());
  const auto after = ssh_key_findings(*key, parse_time("2025-02-01T00:00:01Z").value());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].code, "expired");
  const auto before = ssh_key_findings(*key, parse_time("2024-12-31T23:59:59Z").value());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].code, "not_yet_valid");
}

TEST_F(SshKeyTest, WeakKeysAreFindings) {
  const SysTime now = parse_time("2025-01-15T00:00:00Z").value();
  for (const char* file : {"rsa1024.pub", "dsa.pub"}) {
    auto key = parse_ssh_key_blob(blob_of(pub(file)));
    ASSERT_TRUE(key);
    const auto findings = ssh_key_findings(*key, now);
    ASSERT_EQ(findings.size(), 1u) << file;
    EXPECT_EQ(findings[0].code, "weak_ssh_key");
    EXPECT_EQ(findings[0].severity, Severity::kHigh);
    EXPECT_EQ(findings[0].fingerprint, key->fingerprint);
  }
  for (const char* file : {"ed.pub", "ec384.pub"}) {
    auto key = parse_ssh_key_blob(blob_of(pub(file)));
    ASSERT_TRUE(key);
    EXPECT_TRUE(ssh_key_findings(*key, now).empty()) << file;
  }
}

TEST_F(SshKeyTest, EveryTruncationAndAnyTrailingByteIsMalformed) {
  for (const char* file : {"ed.pub", "rsa1024.pub", "ec384.pub", "ed-cert.pub"}) {
    const Bytes blob = blob_of(pub(file));
    for (std::size_t n = 0; n < blob.size(); ++n) {
      auto key = parse_ssh_key_blob(std::span(blob).first(n));
      ASSERT_FALSE(key) << file << " cut at " << n;
      EXPECT_EQ(key.error().code, ErrorCode::kMalformed);
    }
    Bytes longer = blob;
    longer.push_back(0);
    auto key = parse_ssh_key_blob(longer);
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().code, ErrorCode::kMalformed);
  }
}

TEST(SshKey, UnknownTypesAndMismatchedCurvesAreMalformed) {
  const auto field = [](std::string_view s) {
    Bytes out{0, 0, 0, static_cast<std::uint8_t>(s.size())};
    out.insert(out.end(), s.begin(), s.end());
    return out;
  };
  Bytes unknown = field("ssh-foo");
  EXPECT_EQ(parse_ssh_key_blob(unknown).error().code, ErrorCode::kMalformed);
  Bytes mismatch = field("ecdsa-sha2-nistp256");
  for (std::uint8_t b : field("nistp384")) mismatch.push_back(b);
  for (std::uint8_t b : field("\x04point")) mismatch.push_back(b);
  EXPECT_EQ(parse_ssh_key_blob(mismatch).error().code, ErrorCode::kMalformed);
}

TEST(SshKey, AZeroModulusOrPrimeIsMalformedNotAZeroBitKey) {
  const auto field = [](std::string_view s) {
    Bytes out{0, 0, 0, static_cast<std::uint8_t>(s.size())};
    out.insert(out.end(), s.begin(), s.end());
    return out;
  };
  const auto cat = [](std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const Bytes e = field(std::string_view("\x01\x00\x01", 3));
  for (const std::string_view zero : {std::string_view(), std::string_view("\0", 1),
                                      std::string_view("\0\0\0", 3)}) {
    auto rsa = parse_ssh_key_blob(cat({field("ssh-rsa"), e, field(zero)}));
    ASSERT_FALSE(rsa) << "RSA modulus of " << zero.size() << " zero octets";
    EXPECT_EQ(rsa.error().code, ErrorCode::kMalformed);
    auto dsa = parse_ssh_key_blob(
        cat({field("ssh-dss"), field(zero), field("\x07"), field("\x02"), field("\x03")}));
    ASSERT_FALSE(dsa) << "DSA prime of " << zero.size() << " zero octets";
    EXPECT_EQ(dsa.error().code, ErrorCode::kMalformed);
  }
  // A leading zero octet before a positive number is how mpints keep their sign: still a key.
  auto small = parse_ssh_key_blob(cat({field("ssh-rsa"), e, field(std::string_view("\0\x81", 2))}));
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->bits, 8);
}

}  // namespace
}  // namespace certward::discovery
