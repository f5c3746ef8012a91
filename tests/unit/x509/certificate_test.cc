#include "x509/certificate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "unit/x509/test_certs.h"
#include "x509/bundle.h"

namespace certward::x509 {
namespace {

using testing::CertSpec;
using testing::kDay;
using testing::kT0;
using testing::kT1;
using testing::make_cert;
using testing::test_key;

// An issuing CA with known identifiers and name constraints, and a leaf that carries every
// extension CertificateInfo describes, each with a known value.
struct FullChain {
  crypto::PrivateKey ca_key = test_key();
  crypto::PrivateKey leaf_key = test_key();
  Certificate ca = make_cert(
      {.subject = "/C=US/O=Example CA/CN=Example Issuing CA",
       .serial = 0x80,
       .extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:1"},
                      {NID_key_usage, "critical,keyCertSign,cRLSign"},
                      {NID_subject_key_identifier, "01:02:03:04:05:06:07:08"},
                      {NID_authority_key_identifier, "keyid:always"},
                      {NID_name_constraints,
                       "critical,permitted;DNS:example.com,permitted;IP:10.0.0.0/255.0.0.0,"
                       "permitted;IP:2001:db8::/ffff:ffff::,excluded;email:bad.example,"
                       "excluded;URI:.bad.example"}}},
      ca_key.get(), nullptr, ca_key.get());
  Certificate leaf = make_cert(
      {.subject = "/C=US/O=Example, Inc/CN=leaf.example",
       .serial = 0x0123456789abcdefL,
       .not_before = kT0,
       .not_after = kT1,
       .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                      {NID_key_usage,
                       "critical,digitalSignature,nonRepudiation,keyEncipherment,keyAgreement"},
                      {NID_ext_key_usage,
                       "serverAuth,clientAuth,codeSigning,emailProtection,timeStamping,OCSPSigning,"
                       "1.2.3.4.5"},
                      {NID_subject_alt_name,
                       "DNS:leaf.example,DNS:*.leaf.example,IP:192.0.2.1,IP:2001:db8:0:0:0:0:0:1,"
                       "email:ops@example.com,URI:https://example.com/x,RID:1.2.3.4"},
                      {NID_subject_key_identifier, "A1:B2:C3:D4"},
                      {NID_authority_key_identifier, "keyid:always"},
                      {NID_crl_distribution_points, "URI:http://crl.example/ca.crl"},
                      {NID_info_access,
                       "OCSP;URI:http://ocsp.example,caIssuers;URI:http://ca.example/ca.cer"},
                      {NID_certificate_policies, "1.3.6.1.4.1.99999.1,2.23.140.1.2.1"}},
       .raw_extensions = {{"1.3.6.1.4.1.99999.7", {0x0c, 0x02, 'h', 'i'}}}},
      leaf_key.get(), &ca, ca_key.get());
};

std::string fingerprint_from_cli(const testing::TempDir& dir, const std::string& digest) {
  // "sha256 Fingerprint=AB:CD:..." -> "abcd..."
  std::string out = dir.output("openssl x509 -in c.pem -noout -fingerprint -" + digest);
  out = out.substr(out.find('=') + 1);
  std::string hex;
  for (char c : out) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return hex;
}

TEST(Certificate, DescribesEveryLeafField) {
  FullChain chain;
  const CertificateInfo& info = chain.leaf.info();
  EXPECT_EQ(info.version, 3);
  EXPECT_EQ(info.subject, "CN=leaf.example,O=Example\\, Inc,C=US");
  EXPECT_EQ(info.issuer, "CN=Example Issuing CA,O=Example CA,C=US");
  EXPECT_EQ(info.subject_cn, "leaf.example");
  EXPECT_EQ(info.serial_hex, "0123456789abcdef");
  EXPECT_FALSE(info.serial_negative);
  EXPECT_EQ(info.not_before, testing::sys_time(kT0));
  EXPECT_EQ(format_time(info.not_before), "2025-01-02T03:04:05Z");
  EXPECT_EQ(info.not_after, testing::sys_time(kT1));
  const std::vector<SubjectAltName> sans = {
      {SanType::kDns, "leaf.example"},      {SanType::kDns, "*.leaf.example"},
      {SanType::kIp, "192.0.2.1"},          {SanType::kIp, "2001:db8::1"},
      {SanType::kEmail, "ops@example.com"}, {SanType::kUri, "https://example.com/x"},
      {SanType::kOther, "RID:1.2.3.4"},
  };
  EXPECT_EQ(info.sans, sans);
  EXPECT_EQ(info.key.algorithm, crypto::KeyAlgorithm::kEcdsa);
  EXPECT_EQ(info.key.curve, "P-256");
  EXPECT_EQ(info.key.bits, 256);
  EXPECT_EQ(info.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(info.key_usage, (std::vector<std::string>{"digitalSignature", "contentCommitment",
                                                      "keyEncipherment", "keyAgreement"}));
  EXPECT_TRUE(info.key_usage_critical);
  EXPECT_EQ(info.extended_key_usage,
            (std::vector<std::string>{"serverAuth", "clientAuth", "codeSigning", "emailProtection",
                                      "timeStamping", "OCSPSigning", "1.2.3.4.5"}));
  ASSERT_TRUE(info.basic_constraints.has_value());
  EXPECT_FALSE(info.basic_constraints->ca);
  EXPECT_FALSE(info.basic_constraints->path_length.has_value());
  EXPECT_TRUE(info.basic_constraints->critical);
  EXPECT_FALSE(info.is_ca());
  EXPECT_EQ(info.subject_key_id, "a1b2c3d4");
  EXPECT_EQ(info.authority_key_id, "0102030405060708");
  EXPECT_EQ(info.crl_distribution_points, std::vector<std::string>{"http://crl.example/ca.crl"});
  EXPECT_EQ(info.ocsp_urls, std::vector<std::string>{"http://ocsp.example"});
  EXPECT_EQ(info.ca_issuers_urls, std::vector<std::string>{"http://ca.example/ca.cer"});
  EXPECT_EQ(info.policies, (std::vector<std::string>{"1.3.6.1.4.1.99999.1", "2.23.140.1.2.1"}));
  EXPECT_FALSE(info.name_constraints.has_value());
  EXPECT_FALSE(info.self_issued);

  const std::vector<std::tuple<std::string, std::string, bool>> expected_exts = {
      {"2.5.29.19", "basicConstraints", true},
      {"2.5.29.15", "keyUsage", true},
      {"2.5.29.37", "extendedKeyUsage", false},
      {"2.5.29.17", "subjectAltName", false},
      {"2.5.29.14", "subjectKeyIdentifier", false},
      {"2.5.29.35", "authorityKeyIdentifier", false},
      {"2.5.29.31", "crlDistributionPoints", false},
      {"1.3.6.1.5.5.7.1.1", "authorityInfoAccess", false},
      {"2.5.29.32", "certificatePolicies", false},
      {"1.3.6.1.4.1.99999.7", "1.3.6.1.4.1.99999.7", false},
  };
  ASSERT_EQ(info.extensions.size(), expected_exts.size());
  for (std::size_t i = 0; i < expected_exts.size(); ++i) {
    EXPECT_EQ(info.extensions[i].oid, std::get<0>(expected_exts[i])) << i;
    EXPECT_EQ(info.extensions[i].name, std::get<1>(expected_exts[i])) << i;
    EXPECT_EQ(info.extensions[i].critical, std::get<2>(expected_exts[i])) << i;
  }
  EXPECT_EQ(info.sha256_hex, to_hex(crypto::sha256(chain.leaf.der())));
  EXPECT_EQ(info.sha1_hex, to_hex(crypto::sha1(chain.leaf.der())));
  EXPECT_EQ(info.sha256_hex.size(), 64u);
  EXPECT_TRUE(crypto::same_public_key(chain.leaf.public_key(), chain.leaf_key.get()));
}

TEST(Certificate, DescribesCaFields) {
  FullChain chain;
  const CertificateInfo& info = chain.ca.info();
  EXPECT_EQ(info.serial_hex, "80");  // magnitude only: the DER INTEGER is 00 80
  EXPECT_TRUE(info.is_ca());
  EXPECT_EQ(info.basic_constraints->path_length, 1);
  EXPECT_TRUE(info.basic_constraints->critical);
  EXPECT_EQ(info.key_usage, (std::vector<std::string>{"keyCertSign", "cRLSign"}));
  EXPECT_EQ(info.subject_key_id, "0102030405060708");
  EXPECT_EQ(info.authority_key_id, "0102030405060708");
  EXPECT_TRUE(info.self_issued);
  ASSERT_TRUE(info.name_constraints.has_value());
  EXPECT_EQ(info.name_constraints->permitted,
            (std::vector<std::string>{"DNS:example.com", "IP:10.0.0.0/8", "IP:2001:db8::/32"}));
  EXPECT_EQ(info.name_constraints->excluded,
            (std::vector<std::string>{"email:bad.example", "URI:.bad.example"}));
  EXPECT_TRUE(info.extended_key_usage.empty());
  EXPECT_TRUE(info.sans.empty());
}

TEST(Certificate, DescribesKeyAndSignatureAlgorithms) {
  struct Case {
    crypto::KeyType type;
    std::string key_name;
    std::string signature;
  };
  for (const Case& c : {Case{crypto::KeyType::kRsa2048, "RSA 2048", "sha256WithRSAEncryption"},
                        Case{crypto::KeyType::kEcP384, "ECDSA P-384", "ecdsa-with-SHA384"},
                        Case{crypto::KeyType::kEd25519, "Ed25519", "ED25519"}}) {
    const crypto::PrivateKey key = test_key(c.type);
    const Certificate cert = make_cert({}, key.get(), nullptr, key.get());
    EXPECT_EQ(cert.info().key.name(), c.key_name);
    EXPECT_EQ(cert.info().key.key_type(), c.type);
    EXPECT_EQ(cert.info().signature_algorithm, c.signature);
  }
}

TEST(Certificate, ReadsVersionOneAndGeneralizedTime) {
  const crypto::PrivateKey key = test_key();
  const std::time_t late = kT0 + 40 * 365 * kDay;  // after 2049: GeneralizedTime
  const Certificate cert =
      make_cert({.not_after = late, .version = X509_VERSION_1}, key.get(), nullptr, key.get());
  EXPECT_EQ(cert.info().version, 1);
  EXPECT_EQ(cert.info().not_after, testing::sys_time(late));
  EXPECT_TRUE(cert.info().extensions.empty());
  EXPECT_FALSE(cert.info().basic_constraints.has_value());
}

TEST(Certificate, ReadsNegativeSerial) {
  const crypto::PrivateKey key = test_key();
  const Certificate cert = make_cert({.serial = -5}, key.get(), nullptr, key.get());
  EXPECT_TRUE(cert.info().serial_negative);
  EXPECT_EQ(cert.info().serial_hex, "05");
}

TEST(Certificate, AgreesWithOpensslCommandLine) {
  testing::TempDir dir;
  ASSERT_EQ(dir.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                    "-keyout k.pem -out c.pem -days 30 -subj '/C=US/O=Example, Inc/CN=cli.example' "
                    "-addext 'subjectAltName=DNS:cli.example,IP:2001:db8::1'"),
            0);
  auto certs = parse_certificates(dir.read("c.pem"));
  ASSERT_TRUE(certs) << certs.error().message;
  ASSERT_EQ(certs->size(), 1u);
  const CertificateInfo& info = certs->front().info();
  EXPECT_EQ(info.subject, "CN=cli.example,O=Example\\, Inc,C=US");
  EXPECT_EQ(info.sans, (std::vector<SubjectAltName>{{SanType::kDns, "cli.example"},
                                                    {SanType::kIp, "2001:db8::1"}}));
  EXPECT_EQ(info.sha256_hex, fingerprint_from_cli(dir, "sha256"));
  EXPECT_EQ(info.sha1_hex, fingerprint_from_cli(dir, "sha1"));
  std::string serial = dir.output("openssl x509 -in c.pem -noout -serial");
  serial = serial.substr(serial.find('=') + 1);
  serial.erase(serial.find_last_not_of("\r\n") + 1);
  std::transform(serial.begin(), serial.end(), serial.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  EXPECT_EQ(info.serial_hex, serial);
  std::string subject = dir.output("openssl x509 -in c.pem -noout -subject -nameopt RFC2253");
  EXPECT_EQ("subject=" + info.subject + "\n", subject);
  const Bytes pem_file = dir.read("c.pem");
  EXPECT_EQ(certs->front().pem(), std::string(as_chars(pem_file)));
}

TEST(Certificate, FromX509KeepsTheSameDer) {
  const crypto::PrivateKey key = test_key();
  crypto::X509Ptr x = testing::make_x509({}, key.get(), nullptr, key.get());
  const Bytes der = testing::der_of(x.get());
  auto cert = Certificate::from_x509(std::move(x));
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->der(), der);
  EXPECT_EQ(to_pem(std::vector<Certificate>{*cert, *cert}), cert->pem() + cert->pem());
}

TEST(Certificate, RejectsTruncatedDerWithoutCrashing) {
  FullChain chain;
  const Bytes& der = chain.leaf.der();
  for (std::size_t n = 0; n < der.size(); n += 7) {
    const std::span<const std::uint8_t> prefix(der.data(), n);
    auto cert = Certificate::from_der(prefix);
    ASSERT_FALSE(cert) << n;
    EXPECT_EQ(cert.error().code, ErrorCode::kMalformed) << n;
    auto any = parse_certificates(prefix);
    ASSERT_FALSE(any) << n;
    EXPECT_EQ(any.error().code, ErrorCode::kMalformed) << n;
  }
}

TEST(Certificate, RejectsTrailingData) {
  FullChain chain;
  Bytes der = chain.leaf.der();
  der.push_back(0);
  auto cert = Certificate::from_der(der);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, ErrorCode::kMalformed);
}

TEST(Certificate, RejectsGarbage) {
  for (std::string_view garbage : {"", "hello", "\x30\x03\x02\x01\x01"}) {
    auto cert = Certificate::from_der(as_bytes(garbage));
    ASSERT_FALSE(cert);
    EXPECT_EQ(cert.error().code, ErrorCode::kMalformed);
  }
}

TEST(Certificate, RejectsUndecodableExtensions) {
  const crypto::PrivateKey key = test_key();
  // A SAN whose value is an INTEGER instead of a SEQUENCE of GeneralName, and a keyUsage that
  // is not a BIT STRING: present but unreadable.
  for (const char* oid : {"2.5.29.17", "2.5.29.15", "2.5.29.19", "2.5.29.31"}) {
    const CertSpec spec{.raw_extensions = {{oid, {0x02, 0x01, 0x01}}}};
    const Bytes der =
        testing::der_of(testing::make_x509(spec, key.get(), nullptr, key.get()).get());
    auto cert = Certificate::from_der(der);
    ASSERT_FALSE(cert) << oid;
    EXPECT_EQ(cert.error().code, ErrorCode::kMalformed) << oid;
  }
}

TEST(Certificate, RejectsDuplicateExtensions) {
  const crypto::PrivateKey key = test_key();
  const CertSpec spec{.extensions = {{NID_subject_alt_name, "DNS:a.example"},
                                     {NID_subject_alt_name, "DNS:b.example"}}};
  const Bytes der = testing::der_of(testing::make_x509(spec, key.get(), nullptr, key.get()).get());
  auto cert = Certificate::from_der(der);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, ErrorCode::kMalformed);
}

TEST(SanTypeName, NamesEveryType) {
  EXPECT_EQ(san_type_name(SanType::kDns), "dns");
  EXPECT_EQ(san_type_name(SanType::kIp), "ip");
  EXPECT_EQ(san_type_name(SanType::kEmail), "email");
  EXPECT_EQ(san_type_name(SanType::kUri), "uri");
  EXPECT_EQ(san_type_name(SanType::kOther), "other");
}

}  // namespace
}  // namespace certward::x509
