#define OPENSSL_SUPPRESS_DEPRECATED  // EVP_PKEY_get0: which path decoded the key

#include "x509/csr.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
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

// parse_csr assembles named-curve EC requests from their parts instead of d2i_X509_REQ's key
// decoder (csr.cc says why). These check that it accepts, refuses and describes exactly what
// the d2i_X509_REQ path does.
void expect_same_as_openssl(std::span<const std::uint8_t> der, const std::string& what) {
  SCOPED_TRACE(what);
  auto fast = parse_csr(der);
  auto reference = internal::parse_csr_with_openssl(der);
  ASSERT_EQ(bool(fast), bool(reference))
      << (fast ? reference.error().message : fast.error().message);
  if (!fast) {
    EXPECT_EQ(fast.error().code, reference.error().code);
    EXPECT_EQ(fast.error().message, reference.error().message);
    return;
  }
  EXPECT_EQ(fast->der(), reference->der());
  const CsrInfo& a = fast->info();
  const CsrInfo& b = reference->info();
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.subject_cn, b.subject_cn);
  EXPECT_EQ(a.sans, b.sans);
  EXPECT_EQ(a.key.name(), b.key.name());
  EXPECT_EQ(a.key.curve, b.key.curve);
  EXPECT_EQ(a.signature_algorithm, b.signature_algorithm);
  EXPECT_EQ(a.challenge_password, b.challenge_password);
  EXPECT_EQ(a.key_usage, b.key_usage);
  EXPECT_EQ(a.extended_key_usage, b.extended_key_usage);
  EXPECT_EQ(a.requests_ca, b.requests_ca);
  ASSERT_EQ(a.requested_extensions.size(), b.requested_extensions.size());
  for (std::size_t i = 0; i < a.requested_extensions.size(); ++i) {
    EXPECT_EQ(a.requested_extensions[i].name, b.requested_extensions[i].name);
    EXPECT_EQ(a.requested_extensions[i].critical, b.requested_extensions[i].critical);
  }
  EXPECT_TRUE(crypto::same_public_key(fast->public_key(), reference->public_key()));
  unsigned char* x = nullptr;
  unsigned char* y = nullptr;
  const int nx = i2d_X509_REQ(fast->get(), &x);
  const int ny = i2d_X509_REQ(reference->get(), &y);
  EXPECT_EQ(Bytes(x, x + std::max(nx, 0)), Bytes(y, y + std::max(ny, 0)));
  OPENSSL_free(x);
  OPENSSL_free(y);
  EXPECT_EQ(X509_REQ_get_version(fast->get()), X509_REQ_get_version(reference->get()));
}

// Whether parse_csr decoded the key itself (a legacy key object) rather than through
// d2i_X509_REQ (a provider key).
bool assembled(const Csr& csr) { return EVP_PKEY_get0(csr.public_key()) != nullptr; }

Bytes request_der(X509_REQ* req) {
  const int n = i2d_X509_REQ(req, nullptr);
  Bytes der(static_cast<std::size_t>(std::max(n, 0)));
  unsigned char* p = der.data();
  i2d_X509_REQ(req, &p);
  return der;
}

TEST(ParseCsrAssembly, NamedCurveRequestsAreAssembledAndAgree) {
  const std::vector<SubjectAltName> sans = {{SanType::kDns, "a.example"},
                                            {SanType::kIp, "192.0.2.1"}};
  for (crypto::KeyType type : {crypto::KeyType::kEcP256, crypto::KeyType::kEcP384}) {
    const crypto::PrivateKey key = test_key(type);
    auto der = make_csr_der(key, "CN=a.example,O=Example", sans);
    ASSERT_TRUE(der);
    auto csr = parse_csr(*der);
    ASSERT_TRUE(csr) << csr.error().message;
    EXPECT_TRUE(assembled(*csr));
    auto reference = internal::parse_csr_with_openssl(*der);
    ASSERT_TRUE(reference);
    EXPECT_FALSE(assembled(*reference));
    expect_same_as_openssl(*der, std::string(crypto::key_type_name(type)));
  }
}

TEST(ParseCsrAssembly, OtherKeysAndShapesTakeTheOpensslPathAndAgree) {
  // RSA and Ed25519 keys are decoded by d2i_X509_REQ.
  for (crypto::KeyType type : {crypto::KeyType::kRsa2048, crypto::KeyType::kEd25519}) {
    const crypto::PrivateKey key = test_key(type);
    auto der = make_csr_der(key, "CN=b.example", {});
    ASSERT_TRUE(der);
    auto csr = parse_csr(*der);
    ASSERT_TRUE(csr);
    EXPECT_FALSE(assembled(*csr));
    expect_same_as_openssl(*der, std::string(crypto::key_type_name(type)));
  }
  const crypto::PrivateKey key = test_key();
  {
    // A compressed point: the same key, encoded as OpenSSL keeps it.
    crypto::X509ReqPtr req(X509_REQ_new());
    crypto::EvpPkeyPtr compressed(EVP_PKEY_dup(key.get()));
    ASSERT_TRUE(EVP_PKEY_set_utf8_string_param(compressed.get(),
                                               OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                               OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED));
    X509_REQ_set_pubkey(req.get(), compressed.get());
    ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
    expect_same_as_openssl(request_der(req.get()), "compressed point");
  }
  for (const EVP_MD* md : {EVP_sha384(), EVP_sha512(), EVP_sha1()}) {
    // ECDSA with other digests (SHA-1 is left to EVP, which judges it as before).
    crypto::X509ReqPtr req(X509_REQ_new());
    X509_REQ_set_pubkey(req.get(), key.get());
    ASSERT_GT(X509_REQ_sign(req.get(), key.get(), md), 0);
    expect_same_as_openssl(request_der(req.get()), EVP_MD_get0_name(md));
  }
  {
    // Two attributes written out of DER's SET OF order: re-encoding sorts them, so the request
    // is not the one received and d2i_X509_REQ decodes it.
    crypto::X509ReqPtr req(X509_REQ_new());
    X509_REQ_set_pubkey(req.get(), key.get());
    const std::string pass = "pw";
    X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_unstructuredName, V_ASN1_UTF8STRING,
                              reinterpret_cast<const unsigned char*>("zz"), 2);
    X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, V_ASN1_UTF8STRING,
                              reinterpret_cast<const unsigned char*>(pass.data()), 2);
    ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
    expect_same_as_openssl(request_der(req.get()), "two attributes");
  }
}

// A P-256 key at the point at infinity (the single octet 0x00) with the signature r = x(e·G),
// s = 1, which verifies under it without any private key: OpenSSL accepts both, certward
// refuses the key on either path.
TEST(ParseCsr, RefusesTheEcPointAtInfinity) {
  const Result<Bytes> der = from_hex(
      "3071303802010030163114301206035504030c0b696e662e6578616d706c653019301306072a8648ce3d0201"
      "06082a8648ce3d03010703020000a000300a06082a8648ce3d0403020329003026022100c0bd456304483823"
      "ad0be12b158357dbcba82c6f61b7f35f11460e5498b46844020101");
  ASSERT_TRUE(der);
  for (auto parse : {parse_csr, internal::parse_csr_with_openssl}) {
    auto csr = parse(*der);
    ASSERT_FALSE(csr);
    EXPECT_EQ(csr.error().code, ErrorCode::kMalformed);
    EXPECT_NE(csr.error().message.find("point at infinity"), std::string::npos)
        << csr.error().message;
  }
}

TEST(ParseCsrAssembly, EveryOneOctetChangeIsJudgedAlike) {
  const crypto::PrivateKey key = test_key();
  crypto::X509ReqPtr req(X509_REQ_new());
  crypto::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("m.example"), -1, -1, 0);
  X509_REQ_set_subject_name(req.get(), name.get());
  X509_REQ_set_pubkey(req.get(), key.get());
  X509_REQ_add1_attr_by_NID(req.get(), NID_pkcs9_challengePassword, V_ASN1_PRINTABLESTRING,
                            reinterpret_cast<const unsigned char*>("pw"), 2);
  crypto::ExtStackPtr exts(sk_X509_EXTENSION_new_null());
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:m.example,IP:192.0.2.7");
  ASSERT_NE(san, nullptr);
  sk_X509_EXTENSION_push(exts.get(), san);
  X509_REQ_add_extensions(req.get(), exts.get());
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
  const Bytes der = request_der(req.get());
  expect_same_as_openssl(der, "unchanged");
  for (std::size_t i = 0; i < der.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      Bytes changed = der;
      changed[i] ^= flip;
      expect_same_as_openssl(changed, "octet " + std::to_string(i) + " ^ " + std::to_string(flip));
      if (::testing::Test::HasFailure()) return;  // one report, not hundreds
    }
  }
}

}  // namespace
}  // namespace certward::x509
