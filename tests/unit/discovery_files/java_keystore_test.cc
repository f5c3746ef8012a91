// The JKS/JCEKS reader against stores keytool wrote: entries and chains as keytool lists them,
// the integrity digest verified with the right password only, the private key recovered and
// matching its certificate, and every truncation refused rather than misread.
#include "discovery/files/java_keystore.h"

#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "discovery/files/contents.h"
#include "unit/x509/test_certs.h"

namespace certward::discovery::files {
namespace {

namespace xt = x509::testing;

std::vector<crypto::SecretBytes> passwords(std::initializer_list<std::string_view> list) {
  std::vector<crypto::SecretBytes> out;
  for (auto p : list) out.push_back(crypto::SecretBytes::copy_of(p));
  return out;
}

class JavaKeystoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new xt::TempDir;
    const std::string kt = "keytool -noprompt -storepass store-pw ";
    ASSERT_EQ(dir_->run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                        "-keyout ca.key -subj /CN=ca -days 3 -out ca.pem"),
              0);
    ASSERT_EQ(dir_->run(kt + "-genkeypair -alias srv -keyalg EC -groupname secp256r1 "
                             "-dname CN=srv -storetype JKS -keypass store-pw -keystore s.jks"),
              0);
    ASSERT_EQ(dir_->run(kt + "-importcert -alias ca -file ca.pem -storetype JKS -keystore s.jks"),
              0);
    ASSERT_EQ(dir_->run(kt + "-exportcert -alias srv -keystore s.jks -file srv.der"), 0);
    ASSERT_EQ(dir_->run(kt + "-genkeypair -alias srv -keyalg EC -groupname secp256r1 "
                             "-dname CN=srv -storetype JCEKS -keypass store-pw -keystore s.jceks"),
              0);
    ASSERT_EQ(dir_->run(kt + "-genseckey -alias aes -keyalg AES -keysize 128 -storetype JCEKS "
                             "-keypass store-pw -keystore secret.jceks"),
              0);
  }
  static void TearDownTestSuite() { delete dir_; }
  static xt::TempDir* dir_;
};
xt::TempDir* JavaKeystoreTest::dir_ = nullptr;

TEST_F(JavaKeystoreTest, ReadsKeytoolsJksAndVerifiesItsDigest) {
  const Bytes data = dir_->read("s.jks");
  const auto pws = passwords({"", "changeit", "store-pw"});
  auto ks = parse_java_keystore(data, pws);
  ASSERT_TRUE(ks) << ks.error().message;
  EXPECT_EQ(ks->type, KeystoreType::kJks);
  EXPECT_EQ(ks->version, 2U);
  EXPECT_EQ(ks->password_index, 2U);
  ASSERT_EQ(ks->entries.size(), 2U);
  const KeystoreEntry* key = nullptr;
  const KeystoreEntry* trusted = nullptr;
  for (const auto& e : ks->entries) {
    (e.kind == KeystoreEntry::Kind::kPrivateKey ? key : trusted) = &e;
  }
  ASSERT_TRUE(key && trusted);
  EXPECT_EQ(key->alias, "srv");
  ASSERT_EQ(key->chain.size(), 1U);
  EXPECT_EQ(key->chain[0], dir_->read("srv.der"));
  EXPECT_EQ(trusted->alias, "ca");
  ASSERT_EQ(trusted->chain.size(), 1U);
  EXPECT_TRUE(x509::Certificate::from_der(trusted->chain[0]));

  auto without = parse_java_keystore(data, passwords({"changeit"}));
  ASSERT_TRUE(without);
  EXPECT_FALSE(without->password_index);
  EXPECT_EQ(without->entries.size(), 2U);  // certificates need no password
}

TEST_F(JavaKeystoreTest, RecoversThePrivateKeyOfItsCertificate) {
  auto ks = parse_java_keystore(dir_->read("s.jks"), {});
  ASSERT_TRUE(ks);
  for (const auto& e : ks->entries) {
    if (e.kind != KeystoreEntry::Kind::kPrivateKey) continue;
    auto wrong = decrypt_jks_private_key(e.protected_key, crypto::SecretBytes::copy_of("nope"));
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, ErrorCode::kBadPassword);
    auto pkcs8 = decrypt_jks_private_key(e.protected_key, crypto::SecretBytes::copy_of("store-pw"));
    ASSERT_TRUE(pkcs8) << pkcs8.error().message;
    auto key = crypto::parse_private_key({pkcs8->data(), pkcs8->size()});
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_TRUE(key_matches_certificate(key->get(), e.chain.at(0)));
  }
}

TEST_F(JavaKeystoreTest, ReadsJceksCertificatesButNotItsKeyProtection) {
  auto ks = parse_java_keystore(dir_->read("s.jceks"), passwords({"store-pw"}));
  ASSERT_TRUE(ks) << ks.error().message;
  EXPECT_EQ(ks->type, KeystoreType::kJceks);
  EXPECT_EQ(ks->password_index, 0U);
  ASSERT_EQ(ks->entries.size(), 1U);
  EXPECT_EQ(ks->entries[0].chain.size(), 1U);
  auto key = decrypt_jks_private_key(ks->entries[0].protected_key,
                                     crypto::SecretBytes::copy_of("store-pw"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
}

// A secret-key entry is a serialised Java object with no length in front: reading stops there,
// saying so, and the digest over the whole store is still checked.
TEST_F(JavaKeystoreTest, JceksSecretKeyEntriesStopTheReadingButNotTheDigest) {
  auto ks = parse_java_keystore(dir_->read("secret.jceks"), passwords({"store-pw"}));
  ASSERT_TRUE(ks) << ks.error().message;
  EXPECT_TRUE(ks->stopped_at_secret_key);
  ASSERT_EQ(ks->entries.size(), 1U);
  EXPECT_EQ(ks->entries[0].kind, KeystoreEntry::Kind::kSecretKey);
  EXPECT_EQ(ks->entries[0].alias, "aes");
  EXPECT_EQ(ks->password_index, 0U);
}

TEST_F(JavaKeystoreTest, EveryTruncationAndAnAppendedByteAreMalformed) {
  const Bytes data = dir_->read("s.jks");
  for (std::size_t n = 0; n < data.size(); ++n) {
    auto ks = parse_java_keystore(std::span(data).first(n), {});
    ASSERT_FALSE(ks) << n;
    EXPECT_EQ(ks.error().code, ErrorCode::kMalformed);
  }
  Bytes longer = data;
  longer.push_back(0);
  auto ks = parse_java_keystore(longer, {});
  ASSERT_FALSE(ks);
  EXPECT_EQ(ks.error().code, ErrorCode::kMalformed);
}

TEST_F(JavaKeystoreTest, AChangedByteFailsTheDigestButNotTheCertificates) {
  Bytes data = dir_->read("s.jks");
  data[data.size() - 30] ^= 0x01;  // inside the last entry's certificate signature
  auto ks = parse_java_keystore(data, passwords({"store-pw"}));
  ASSERT_TRUE(ks);
  EXPECT_FALSE(ks->password_index);
}

// g++ 12 at -O2 takes the vector inserts below for accesses out of bounds (a false
// -Warray-bounds from its inlined memmove); the release build treats warnings as errors.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
// keytool only writes version 2; version 1 (JDK 1.1 stores) has no certificate type strings.
TEST_F(JavaKeystoreTest, ReadsVersionOneStores) {
  const Bytes cert = dir_->read("srv.der");
  Bytes v1 = {0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 2, 'c', 'a'};
  v1.insert(v1.end(), 8, 0);  // date
  const auto n = static_cast<std::uint32_t>(cert.size());
  for (int shift : {24, 16, 8, 0}) v1.push_back(static_cast<std::uint8_t>(n >> shift));
  v1.insert(v1.end(), cert.begin(), cert.end());
  // SHA-1 over "pw" as UTF-16BE, the phrase, and the store.
  Bytes digest_input = {0, 'p', 0, 'w'};
  const std::string_view phrase = "Mighty Aphrodite";
  digest_input.insert(digest_input.end(), phrase.begin(), phrase.end());
  digest_input.insert(digest_input.end(), v1.begin(), v1.end());
  const Bytes digest = crypto::sha1(digest_input);
  v1.insert(v1.end(), digest.begin(), digest.end());
  auto ks = parse_java_keystore(v1, passwords({"x", "pw"}));
  ASSERT_TRUE(ks) << ks.error().message;
  EXPECT_EQ(ks->version, 1U);
  EXPECT_EQ(ks->password_index, 1U);
  ASSERT_EQ(ks->entries.size(), 1U);
  EXPECT_EQ(ks->entries[0].alias, "ca");
  EXPECT_EQ(ks->entries[0].chain.at(0), cert);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

TEST_F(JavaKeystoreTest, LiesAboutCountsAreRefused) {
  Bytes data = dir_->read("s.jks");
  data[8] = 0x7F;  // entry count
  auto ks = parse_java_keystore(data, {});
  ASSERT_FALSE(ks);
  EXPECT_EQ(ks.error().code, ErrorCode::kMalformed);
}

}  // namespace
}  // namespace certward::discovery::files
