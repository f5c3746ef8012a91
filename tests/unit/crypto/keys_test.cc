#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>

#include "crypto/crypto.h"

namespace certward::crypto {
namespace {

template <typename T>
void expect_error(const Result<T>& r, ErrorCode code) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, code) << r.error().message;
}

struct KeyCase {
  KeyType type;
  KeyAlgorithm algorithm;
  int bits;
  std::string curve;
  std::string name;
};

const KeyCase kCases[] = {
    {KeyType::kRsa2048, KeyAlgorithm::kRsa, 2048, "", "RSA 2048"},
    {KeyType::kRsa3072, KeyAlgorithm::kRsa, 3072, "", "RSA 3072"},
    {KeyType::kRsa4096, KeyAlgorithm::kRsa, 4096, "", "RSA 4096"},
    {KeyType::kEcP256, KeyAlgorithm::kEcdsa, 256, "P-256", "ECDSA P-256"},
    {KeyType::kEcP384, KeyAlgorithm::kEcdsa, 384, "P-384", "ECDSA P-384"},
    {KeyType::kEd25519, KeyAlgorithm::kEd25519, 256, "", "Ed25519"},
    {KeyType::kRsaPss2048, KeyAlgorithm::kRsaPss, 2048, "", "RSA-PSS 2048"},
};

TEST(GenerateKey, MakesEveryKeyTypeAndDescribesIt) {
  for (const KeyCase& c : kCases) {
    auto key = generate_key(c.type);
    ASSERT_TRUE(key) << key_type_name(c.type);
    const KeyInfo info = key->info();
    EXPECT_EQ(info.algorithm, c.algorithm) << c.name;
    EXPECT_EQ(info.bits, c.bits) << c.name;
    EXPECT_EQ(info.curve, c.curve) << c.name;
    EXPECT_EQ(info.name(), c.name);
    EXPECT_EQ(info.key_type(), c.type) << c.name;
  }
}

TEST(DescribeKey, NullKeyIsUnknown) {
  const KeyInfo info = describe_key(nullptr);
  EXPECT_EQ(info.algorithm, KeyAlgorithm::kUnknown);
  EXPECT_FALSE(info.key_type().has_value());
  EXPECT_EQ(key_algorithm_name(info.algorithm), "unknown");
  EXPECT_EQ(key_algorithm_name(KeyAlgorithm::kEcdsa), "ecdsa");
}

TEST(KeyTypeName, RoundTripsAndRejectsUnknown) {
  for (const KeyCase& c : kCases) EXPECT_EQ(parse_key_type(key_type_name(c.type)), c.type);
  EXPECT_EQ(parse_key_type("rsa-pss-2048"), KeyType::kRsaPss2048);
  EXPECT_EQ(parse_key_type("rsa-pss-3072"), KeyType::kRsaPss3072);
  EXPECT_EQ(parse_key_type("rsa-pss-4096"), KeyType::kRsaPss4096);
  expect_error(parse_key_type("rsa-1024"), ErrorCode::kInvalidArgument);
  expect_error(parse_key_type("rsa-pss-1024"), ErrorCode::kInvalidArgument);
}

// An id-RSASSA-PSS key made by OpenSSL itself (as `openssl genpkey -algorithm rsa-pss` does) is
// an RSA-PSS key, never a plain RSA one: RFC 4055 forbids it to encipher.
TEST(DescribeKey, RsaPssKeyIsItsOwnAlgorithm) {
  Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA_PSS, nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  const PrivateKey key{EvpPkeyPtr(raw)};

  const KeyInfo info = key.info();
  EXPECT_EQ(info.algorithm, KeyAlgorithm::kRsaPss);
  EXPECT_EQ(info.bits, 2048);
  EXPECT_EQ(info.name(), "RSA-PSS 2048");
  EXPECT_EQ(info.key_type(), KeyType::kRsaPss2048);
  EXPECT_NE(info.key_type(), KeyType::kRsa2048);
  EXPECT_EQ(key_algorithm_name(info.algorithm), "rsa-pss");

  // The same from its SubjectPublicKeyInfo alone (a CSR's or a certificate's).
  auto spki = parse_public_key(key.public_key_der());
  ASSERT_TRUE(spki) << spki.error().message;
  EXPECT_EQ(describe_key(spki->get()).algorithm, KeyAlgorithm::kRsaPss);
  // And after a PKCS#8 round trip (an imported key file).
  auto pem = key.to_pkcs8_pem();
  ASSERT_TRUE(pem);
  auto back = parse_private_key(pem->span());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->info().algorithm, KeyAlgorithm::kRsaPss);

  // A plain RSA key stays RSA.
  EXPECT_EQ(generate_key(KeyType::kRsa2048)->info().algorithm, KeyAlgorithm::kRsa);
}

class Pkcs8Test : public ::testing::TestWithParam<KeyType> {
 protected:
  PrivateKey key_ = *generate_key(GetParam());
};

TEST_P(Pkcs8Test, RoundTripsPlainPemAndDer) {
  auto pem = key_.to_pkcs8_pem();
  ASSERT_TRUE(pem);
  EXPECT_NE(as_chars(pem->span()).find("-----BEGIN PRIVATE KEY-----"), std::string_view::npos);
  auto der = key_.to_pkcs8_der();
  ASSERT_TRUE(der);
  for (const SecretBytes* data : {&*pem, &*der}) {
    auto back = parse_private_key(data->span());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(same_public_key(back->get(), key_.get()));
  }
}

TEST_P(Pkcs8Test, RoundTripsEncryptedPemAndDer) {
  auto pem = key_.to_pkcs8_pem("correct horse");
  ASSERT_TRUE(pem);
  EXPECT_NE(as_chars(pem->span()).find("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            std::string_view::npos);
  auto der = key_.to_pkcs8_der("correct horse");
  ASSERT_TRUE(der);
  for (const SecretBytes* data : {&*pem, &*der}) {
    auto back = parse_private_key(data->span(), "correct horse");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(same_public_key(back->get(), key_.get()));
  }
}

TEST_P(Pkcs8Test, WrongOrMissingPassphraseIsBadPassword) {
  auto pem = key_.to_pkcs8_pem("correct horse");
  ASSERT_TRUE(pem);
  expect_error(parse_private_key(pem->span(), "battery staple"), ErrorCode::kBadPassword);
  expect_error(parse_private_key(pem->span()), ErrorCode::kBadPassword);
  auto der = key_.to_pkcs8_der("correct horse");
  ASSERT_TRUE(der);
  expect_error(parse_private_key(der->span(), "battery staple"), ErrorCode::kBadPassword);
}

TEST_P(Pkcs8Test, PublicKeyRoundTrips) {
  const Bytes der = key_.public_key_der();
  const std::string pem = key_.public_key_pem();
  auto from_der = parse_public_key(der);
  auto from_pem = parse_public_key(as_bytes(pem));
  ASSERT_TRUE(from_der && from_pem);
  EXPECT_TRUE(same_public_key(from_der->get(), key_.get()));
  EXPECT_TRUE(same_public_key(from_pem->get(), key_.get()));
}

TEST_P(Pkcs8Test, DerWithTrailingBytesIsMalformedPemFollowedByMoreIsNot) {
  auto der = key_.to_pkcs8_der();
  ASSERT_TRUE(der);
  Bytes trailing(der->span().begin(), der->span().end());
  trailing.push_back(0x00);
  expect_error(parse_private_key(trailing), ErrorCode::kMalformed);
  Bytes pub = key_.public_key_der();
  pub.push_back(0x05);
  expect_error(parse_public_key(pub), ErrorCode::kMalformed);
  // Key-then-certificate PEM files are common: what follows the key block is not the key's.
  auto pem = key_.to_pkcs8_pem();
  ASSERT_TRUE(pem);
  std::string combined(as_chars(pem->span()));
  combined += "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  auto back = parse_private_key(as_bytes(combined));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(same_public_key(back->get(), key_.get()));
}

// About one wrong passphrase in 256 decrypts to valid padding and fails later, in the key
// decoder; it must still read as a wrong passphrase, not as a malformed key.
TEST(ParsePrivateKey, EveryWrongPassphraseOnEncryptedDerIsBadPassword) {
  auto key = generate_key(KeyType::kEcP256);
  ASSERT_TRUE(key);
  auto der = key->to_pkcs8_der("correct horse");
  ASSERT_TRUE(der);
  for (int i = 0; i < 1500; ++i) {
    const std::string wrong = "wrong-" + std::to_string(i);
    auto r = parse_private_key(der->span(), wrong);
    ASSERT_FALSE(r) << wrong;
    ASSERT_EQ(r.error().code, ErrorCode::kBadPassword) << wrong << ": " << r.error().message;
  }
  expect_error(parse_private_key(der->span()), ErrorCode::kBadPassword);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, Pkcs8Test,
                         ::testing::Values(KeyType::kRsa2048, KeyType::kEcP256, KeyType::kEcP384,
                                           KeyType::kEd25519, KeyType::kRsaPss2048),
                         [](const auto& param) {
                           std::string name(key_type_name(param.param));
                           std::erase(name, '-');
                           return name;
                         });

TEST(ParsePrivateKey, GarbageIsMalformed) {
  for (std::string_view garbage :
       {std::string_view(""), std::string_view("not a key"),
        std::string_view("\x30\x03\x02\x01\x05"),
        std::string_view("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}) {
    expect_error(parse_private_key(as_bytes(garbage)), ErrorCode::kMalformed);
  }
  expect_error(parse_public_key(as_bytes("not a key")), ErrorCode::kMalformed);
}

TEST(SamePublicKey, DistinguishesKeys) {
  auto a = generate_key(KeyType::kEcP256);
  auto b = generate_key(KeyType::kEcP256);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(same_public_key(a->get(), a->get()));
  EXPECT_FALSE(same_public_key(a->get(), b->get()));
  EXPECT_FALSE(same_public_key(a->get(), nullptr));
}

TEST(DigestFor, FollowsKeySize) {
  EXPECT_EQ(digest_for(generate_key(KeyType::kEcP256)->get()), EVP_sha256());
  EXPECT_EQ(digest_for(generate_key(KeyType::kEcP384)->get()), EVP_sha384());
  EXPECT_EQ(digest_for(generate_key(KeyType::kEd25519)->get()), nullptr);
}

}  // namespace
}  // namespace certward::crypto
