#include "x509/csr.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "unit/x509/test_certs.h"

namespace certward::x509 {
namespace {

using testing::test_key;

template <typename T>
void expect_error(const Result<T>& r, ErrorCode code) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

std::string pem_of(const Bytes& der, const std::string& label) {
  return "-----BEGIN " + label + "-----\n" +
         [&] {
           std::string b64 = to_base64(der);
           std::string lines;
           for (std::size_t i = 0; i < b64.size(); i += 64) lines += b64.substr(i, 64) + "\n";
           return lines;
         }() +
         "-----END " + label + "-----\n";
}

TEST(MakeCsr, RoundTripsEveryKeyType) {
  struct Case {
    crypto::KeyType type;
    std::string signature;
  };
  const std::vector<SubjectAltName> sans = {{SanType::kDns, "a.example"},
                                            {SanType::kIp, "2001:db8::5"},
                                            {SanType::kEmail, "ops@example.com"},
                                            {SanType::kUri, "https://a.example/"}};
  for (const Case& c : {Case{crypto::KeyType::kEcP256, "ecdsa-with-SHA256"},
                        Case{crypto::KeyType::kEcP384, "ecdsa-with-SHA384"},
                        Case{crypto::KeyType::kEd25519, "ED25519"},
                        Case{crypto::KeyType::kRsa2048, "sha256WithRSAEncryption"}}) {
    const crypto::PrivateKey key = test_key(c.type);
    auto der = make_csr_der(key, "CN=a.example,O=Example\\, Inc,C=US", sans);
    ASSERT_TRUE(der) << der.error().message;
    auto csr = parse_csr(*der);
    ASSERT_TRUE(csr) << csr.error().message;
    EXPECT_EQ(csr->info().subject, "CN=a.example,O=Example\\, Inc,C=US");
    EXPECT_EQ(csr->info().subject_cn, "a.example");
    EXPECT_EQ(csr->info().sans, sans);
    EXPECT_EQ(csr->info().key.key_type(), c.type);
    EXPECT_EQ(csr->info().signature_algorithm, c.signature);
    EXPECT_FALSE(csr->info().challenge_password.has_value());
    EXPECT_FALSE(csr->info().requests_ca);
    EXPECT_EQ(csr->der(), *der);
    EXPECT_TRUE(crypto::same_public_key(csr->public_key(), key.get()));
  }
}

TEST(MakeCsr, RejectsBadSubjectOrSan) {
  const crypto::PrivateKey key = test_key();
  expect_error(make_csr_der(key, "XX=nope", {}), ErrorCode::kMalformed);
  const std::vector<SubjectAltName> other = {{SanType::kOther, "x"}};
  expect_error(make_csr_der(key, "CN=a", other), ErrorCode::kInvalidArgument);
}

TEST(ParseCsr, ReadsOpensslRequestWithSansAndChallengePassword) {
  testing::TempDir dir;
  dir.write("req.cnf",
            "[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n"
            "req_extensions = ext\n"
            "[dn]\nC = US\nCN = csr.example\n"
            "[attrs]\nchallengePassword = s3cret-pass\n"
            "[ext]\nsubjectAltName = DNS:csr.example,DNS:www.csr.example,IP:192.0.2.9\n"
            "keyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth,clientAuth\nbasicConstraints = CA:TRUE\n");
  ASSERT_EQ(dir.run("openssl req -new -config req.cnf -newkey ec -pkeyopt "
                    "ec_paramgen_curve:P-256 -nodes -keyout k.pem -out r.pem"),
            0);
  ASSERT_EQ(dir.run("openssl req -in r.pem -outform DER -out r.der"), 0);
  for (const std::string name : {"r.pem", "r.der"}) {
    auto csr = parse_csr(dir.read(name));
    ASSERT_TRUE(csr) << csr.error().message;
    const CsrInfo& info = csr->info();
    EXPECT_EQ(info.subject, "CN=csr.example,C=US");
    EXPECT_EQ(info.sans, (std::vector<SubjectAltName>{{SanType::kDns, "csr.example"},
                                                      {SanType::kDns, "www.csr.example"},
                                                      {SanType::kIp, "192.0.2.9"}}));
    EXPECT_EQ(info.challenge_password, "s3cret-pass");
    EXPECT_EQ(info.key_usage, (std::vector<std::string>{"digitalSignature", "keyEncipherment"}));
    EXPECT_EQ(info.extended_key_usage, (std::vector<std::string>{"serverAuth", "clientAuth"}));
    EXPECT_TRUE(info.requests_ca);
    ASSERT_EQ(info.requested_extensions.size(), 4u);
    EXPECT_EQ(info.requested_extensions[0].name, "subjectAltName");
    EXPECT_EQ(info.requested_extensions[1].name, "keyUsage");
    EXPECT_TRUE(info.requested_extensions[1].critical);
    EXPECT_EQ(info.key.name(), "ECDSA P-256");
  }
}

TEST(ParseCsr, ReadsIa5ChallengePassword) {
  const crypto::PrivateKey key = test_key();
  crypto::X509ReqPtr req(X509_REQ_new());
  X509_REQ_set_pubkey(req.get(), key.get());
  const std::string pass = "ia5-pass";
  X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, V_ASN1_IA5STRING,
                            reinterpret_cast<const unsigned char*>(pass.data()),
                            static_cast<int>(pass.size()));
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
  const int n = i2d_X509_REQ(req.get(), nullptr);
  Bytes der(static_cast<std::size_t>(n));
  unsigned char* p = der.data();
  i2d_X509_REQ(req.get(), &p);
  auto csr = parse_csr(der);
  ASSERT_TRUE(csr) << csr.error().message;
  EXPECT_EQ(csr->info().challenge_password, "ia5-pass");
  EXPECT_EQ(csr->info().subject, "");
  EXPECT_TRUE(csr->info().sans.empty());
}

TEST(ParseCsr, AcceptsBothPemLabels) {
  const crypto::PrivateKey key = test_key();
  auto der = make_csr_der(key, "CN=pem.example", {});
  ASSERT_TRUE(der);
  for (const std::string label : {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}) {
    const std::string pem = pem_of(*der, label) + "\n";
    auto csr = parse_csr(as_bytes(pem));
    ASSERT_TRUE(csr) << label << ": " << csr.error().message;
    EXPECT_EQ(csr->der(), *der);
  }
  expect_error(parse_csr(as_bytes(pem_of(*der, "CERTIFICATE"))), ErrorCode::kMalformed);
}

TEST(ParseCsr, RejectsFlippedSignature) {
  for (crypto::KeyType type : {crypto::KeyType::kEcP256, crypto::KeyType::kEd25519}) {
    const crypto::PrivateKey key = test_key(type);
    auto der = make_csr_der(key, "CN=sig.example",
                            std::vector<SubjectAltName>{{SanType::kDns, "sig.example"}});
    ASSERT_TRUE(der);
    Bytes bad = *der;
    bad.back() ^= 0x01;  // the last octet belongs to the signature
    expect_error(parse_csr(bad), ErrorCode::kBadSignature);
  }
}

TEST(ParseCsr, RejectsTrailingData) {
  const crypto::PrivateKey key = test_key();
  auto der = make_csr_der(key, "CN=t.example", {});
  ASSERT_TRUE(der);
  Bytes with_tail = *der;
  with_tail.push_back(0);
  expect_error(parse_csr(with_tail), ErrorCode::kMalformed);
  const std::string pem = pem_of(*der, "CERTIFICATE REQUEST") + "junk\n";
  expect_error(parse_csr(as_bytes(pem)), ErrorCode::kMalformed);
}

TEST(ParseCsr, RejectsTruncationAndGarbage) {
  const crypto::PrivateKey key = test_key();
  auto der =
      make_csr_der(key, "CN=t.example", std::vector<SubjectAltName>{{SanType::kDns, "t.example"}});
  ASSERT_TRUE(der);
  for (std::size_t n = 0; n < der->size(); n += 7) {
    expect_error(parse_csr(std::span<const std::uint8_t>(der->data(), n)), ErrorCode::kMalformed);
  }
  expect_error(parse_csr(as_bytes("garbage")), ErrorCode::kMalformed);
  expect_error(parse_csr(as_bytes("-----BEGIN CERTIFICATE REQUEST-----\n@@@\n"
                                  "-----END CERTIFICATE REQUEST-----\n")),
               ErrorCode::kMalformed);
}

}  // namespace
}  // namespace certward::x509
