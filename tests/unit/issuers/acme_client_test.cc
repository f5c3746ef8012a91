// The ACME client's pieces that need no CA: the JWS it signs (checked with OpenSSL against the
// public key), external account binding, problem documents and Retry-After as a hostile CA
// may send them, and RFC 9773's certificate identifier.
#include "issuers/acme_client.h"

#include <gtest/gtest.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "common/encoding.h"
#include "issuers/acme_issuer.h"

namespace certward::issuers {
namespace {

using nlohmann::json;

// A fixed P-256 key and its RFC 7638 thumbprint, computed independently (Python's
// cryptography and hashlib over the canonical JWK).
constexpr char kKeyPem[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDZHjBDpRBM3JkbI6
EwZa636zGE7SevZFwUGlCIyhZOyhRANCAARwkTsHbHrpynFLRojrlMfMD996iHHH
/Hb3gk1goI8XP257n6srmHMWbckhKe4mxjRLGOscOvcZwQes4QEDbYRu
-----END PRIVATE KEY-----
)";
constexpr char kThumbprint[] = "rAAcUR27ajbXSfZHkAhAXv-LX13cQVlDcpu6pUNt5Bw";

crypto::PrivateKey fixed_key() {
  auto key = crypto::parse_private_key(
      std::span(reinterpret_cast<const std::uint8_t*>(kKeyPem), sizeof(kKeyPem) - 1));
  EXPECT_TRUE(key.has_value());
  return std::move(*key);
}

std::string decode(const std::string& b64) {
  auto bytes = from_base64url(b64);
  EXPECT_TRUE(bytes.has_value()) << b64;
  return std::string(bytes->begin(), bytes->end());
}

// Verifies an ES256 JWS signature (r || s) with OpenSSL.
bool verifies(const crypto::PrivateKey& key, const json& jws) {
  const std::string input =
      jws["protected"].get<std::string>() + "." + jws["payload"].get<std::string>();
  auto raw = from_base64url(jws["signature"].get<std::string>());
  if (!raw || raw->size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw->data(), 32, nullptr),
                 BN_bin2bn(raw->data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

TEST(AcmeJws, ThumbprintIsRfc7638) {
  auto t = acme_jws::thumbprint(fixed_key());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, kThumbprint);
}

TEST(AcmeJws, AccountKeysAreP256Only) {
  auto rsa = crypto::generate_key(crypto::KeyType::kRsa2048);
  ASSERT_TRUE(rsa.has_value());
  EXPECT_FALSE(acme_jws::public_jwk(*rsa).has_value());
}

TEST(AcmeJws, SignsWithJwkOrKidAndVerifies) {
  const auto key = fixed_key();
  auto with_jwk = acme_jws::sign(key, "", "nonce-1", "https://ca.test/new-acct", R"({"a":1})");
  ASSERT_TRUE(with_jwk.has_value());
  const json jws = json::parse(*with_jwk);
  EXPECT_TRUE(verifies(key, jws));
  const json header = json::parse(decode(jws["protected"]));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce-1");
  EXPECT_EQ(header["url"], "https://ca.test/new-acct");
  EXPECT_EQ(header["jwk"]["kty"], "EC");
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(decode(jws["payload"]), R"({"a":1})");

  auto with_kid =
      acme_jws::sign(key, "https://ca.test/acct/1", "n2", "https://ca.test/order/1", "");
  ASSERT_TRUE(with_kid.has_value());
  const json get = json::parse(*with_kid);
  EXPECT_TRUE(verifies(key, get));
  const json h2 = json::parse(decode(get["protected"]));
  EXPECT_EQ(h2["kid"], "https://ca.test/acct/1");
  EXPECT_FALSE(h2.contains("jwk"));
  EXPECT_EQ(get["payload"], "") << "POST-as-GET has an empty payload";

  // A signature over other bytes does not verify (the check above can fail).
  json tampered = jws;
  tampered["payload"] = "e30";
  EXPECT_FALSE(verifies(key, tampered));
}

TEST(AcmeJws, ExternalAccountBindingIsHs256OverTheAccountJwk) {
  const auto key = fixed_key();
  auto jwk = acme_jws::public_jwk(key);
  ASSERT_TRUE(jwk.has_value());
  const Bytes mac_key = {1, 2, 3, 4, 5, 6, 7, 8};
  auto eab =
      acme_jws::eab({"kid-1", crypto::SecretBytes(mac_key)}, *jwk, "https://ca.test/new-acct");
  ASSERT_TRUE(eab.has_value());
  const json header = json::parse(decode((*eab)["protected"]));
  EXPECT_EQ(header,
            json({{"alg", "HS256"}, {"kid", "kid-1"}, {"url", "https://ca.test/new-acct"}}));
  EXPECT_EQ(json::parse(decode((*eab)["payload"])), *jwk);
  const std::string input =
      (*eab)["protected"].get<std::string>() + "." + (*eab)["payload"].get<std::string>();
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), mac_key.data(), static_cast<int>(mac_key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  EXPECT_EQ((*eab)["signature"], to_base64url(std::span(mac, len)));
  EXPECT_FALSE(acme_jws::eab({"kid-1", crypto::SecretBytes()}, *jwk, "u").has_value());
}

TEST(AcmeProblems, ReadsTypeDetailAndSubproblems) {
  const auto p = problem_of(403, R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier",
      "detail":"no", "subproblems":[{"type":"x","detail":"bad name",
      "identifier":{"type":"dns","value":"a.test"}}, 5, "junk"]})",
                            std::chrono::seconds(7));
  EXPECT_EQ(p.type, "urn:ietf:params:acme:error:rejectedIdentifier");
  EXPECT_EQ(p.detail, "no");
  ASSERT_GE(p.subproblems.size(), 1u);
  EXPECT_EQ(p.subproblems[0], "dns:a.test: bad name");
  EXPECT_EQ(p.describe().rfind("rejectedIdentifier: no (dns:a.test: bad name", 0), 0u);
  EXPECT_EQ(p.retry_after, std::chrono::seconds(7));
}

TEST(AcmeProblems, HostileDocumentsStayOneBoundedLine) {
  EXPECT_EQ(problem_of(500, "<html>oops</html>", {}).detail, "HTTP 500 without a problem document");
  EXPECT_EQ(problem_of(400, R"({"type": 5, "detail": ["x"]})", {}).type, "");
  const auto long_one = problem_of(
      400, json({{"type", "t"}, {"detail", std::string(5000, 'a') + "\n\x1b[2J"}}).dump(), {});
  const std::string text = long_one.describe();
  EXPECT_LE(text.size(), 610u);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  json many = {{"subproblems", json::array()}};
  for (int i = 0; i < 1000; ++i) many["subproblems"].push_back({{"detail", "d"}});
  EXPECT_LE(problem_of(400, many.dump(), {}).subproblems.size(), 20u);
}

TEST(AcmeProblems, RetryAfterIsBounded) {
  EXPECT_EQ(parse_retry_after("30"), std::chrono::seconds(30));
  EXPECT_EQ(parse_retry_after("99999999999999"), std::chrono::seconds(86400));
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_retry_after("soon"), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5"), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::chrono::seconds(0))
      << "a date in the past: now";
}

TEST(AcmeClient, SignedRequestsStayOnTheDirectorysOrigin) {
  AcmeClient client("https://CA.example:14000/dir", {});
  EXPECT_TRUE(client.check_origin("https://ca.example:14000/order/1").has_value());
  for (const char* url :
       {"https://ca.example/order/1", "https://ca.example:14001/x", "http://ca.example:14000/x",
        "https://ca.example.evil:14000/x", "https://user@ca.example:14000/x",
        "https://169.254.169.254/latest", "ftp://ca.example:14000/x", ""}) {
    auto s = client.check_origin(url);
    EXPECT_FALSE(s.has_value()) << url;
  }
  AcmeClient default_port("https://ca.example/dir", {});
  EXPECT_TRUE(default_port.check_origin("https://ca.example:443/acme/new-order").has_value());
  EXPECT_TRUE(default_port.check_origin("https://ca.example/acme/new-order").has_value());
}

// RFC 9773 section 4.1's example: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
// and serial 0x0087654321 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
TEST(AcmeRenewalInfo, CertificateIdentifierIsRfc9773s) {
  auto key = crypto::generate_key(crypto::KeyType::kEcP256);
  ASSERT_TRUE(key.has_value());
  X509* x = X509_new();
  X509_set_version(x, 2);
  BIGNUM* serial = nullptr;
  BN_hex2bn(&serial, "87654321");
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x));
  BN_free(serial);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ari"), -1, -1, 0);
  X509_set_subject_name(x, name);
  X509_set_issuer_name(x, name);
  X509_NAME_free(name);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key->get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  akid->keyid = ASN1_OCTET_STRING_new();
  const unsigned char id[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                              0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  ASN1_OCTET_STRING_set(akid->keyid, id, sizeof(id));
  X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT);
  AUTHORITY_KEYID_free(akid);
  ASSERT_GT(X509_sign(x, key->get(), EVP_sha256()), 0);
  auto cert = x509::Certificate::from_x509(crypto::X509Ptr(x));
  ASSERT_TRUE(cert.has_value()) << cert.error().message;
  auto got = ari_certificate_id(*cert);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

}  // namespace
}  // namespace certward::issuers
