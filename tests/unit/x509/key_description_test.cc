// A parsed certificate describes its key from the SubjectPublicKeyInfo's bytes (describe_spki)
// and decodes the key itself only when something asks for it. Both must say exactly what
// describing the decoded key says, for every key certward issues, for keys it only finds in the
// wild, and for keys that do not decode at all.

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "unit/x509/test_certs.h"
#include "x509/bundle.h"
#include "x509/certificate.h"
#include "x509/internal.h"

namespace certward::x509 {
namespace {

using testing::TempDir;

// What describing the key of a plainly decoded object (OpenSSL's own d2i_X509) says.
crypto::KeyInfo decoded_key_info(const Bytes& der) {
  const unsigned char* p = der.data();
  crypto::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_NE(x, nullptr);
  return crypto::describe_key(x ? X509_get0_pubkey(x.get()) : nullptr);
}

void expect_same(const crypto::KeyInfo& got, const crypto::KeyInfo& want, const std::string& what) {
  EXPECT_EQ(got.algorithm, want.algorithm) << what;
  EXPECT_EQ(got.bits, want.bits) << what;
  EXPECT_EQ(got.curve, want.curve) << what;
}

Bytes self_signed_der(const TempDir& dir, const std::string& newkey) {
  EXPECT_EQ(dir.run("openssl req -x509 " + newkey +
                    " -nodes -keyout new.pem -out c.der -outform der -days 30 -subj '/CN=k.example'"),
            0)
      << newkey;
  return dir.read("c.der");
}

TEST(KeyDescription, AgreesWithTheDecodedKeyForEveryKind) {
  TempDir dir;
  ASSERT_EQ(dir.run("openssl genpkey -algorithm EC -pkeyopt group:P-256 -out p256.pem && "
                    "openssl pkey -in p256.pem -ec_conv_form compressed -out compressed.pem"),
            0);
  struct Case {
    std::string newkey;
    bool from_bytes;  // described by describe_spki, not from the decoded key
  };
  for (const auto& [newkey, from_bytes] : {
           Case{"-newkey rsa:2048", true},
           Case{"-newkey rsa:3072", true},
           Case{"-newkey rsa:1025", true},  // a modulus whose top octet is not full
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:P-256", true},
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:P-384", true},
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:P-521", true},
           Case{"-key compressed.pem", true},  // a compressed point
           Case{"-newkey ed25519", true},
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:secp256k1", false},
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1", false},
           Case{"-newkey ec -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit",
                false},
           Case{"-newkey ed448", false},
           Case{"-newkey rsa-pss -pkeyopt rsa_keygen_bits:2048", false},
       }) {
    const Bytes der = self_signed_der(dir, newkey);
    auto cert = Certificate::from_der(der);
    ASSERT_TRUE(cert) << newkey << ": " << cert.error().message;
    const crypto::KeyInfo want = decoded_key_info(der);
    expect_same(cert->info().key, want, newkey);
    EXPECT_EQ(internal::describe_spki(X509_get_X509_PUBKEY(cert->get())).has_value(), from_bytes)
        << newkey;
    EXPECT_NE(want.bits, 0) << newkey;
    // The key itself is there when asked for, and it is the certificate's key.
    ASSERT_NE(cert->public_key(), nullptr) << newkey;
    EXPECT_EQ(X509_verify(cert->get(), cert->public_key()), 1) << newkey;
    expect_same(crypto::describe_key(cert->public_key()), want, newkey);
  }
}

TEST(KeyDescription, CountsAPointOffTheCurveAsNoKey) {
  TempDir dir;
  Bytes der = self_signed_der(dir, "-newkey ec -pkeyopt ec_paramgen_curve:P-256");
  // The uncompressed point is the 65 octets starting with 04 right after the BIT STRING's
  // unused-bits octet: 03 42 00 04 <x> <y>. Changing y's last octet moves it off the curve.
  const Bytes marker = {0x03, 0x42, 0x00, 0x04};
  auto at = std::search(der.begin(), der.end(), marker.begin(), marker.end());
  ASSERT_NE(at, der.end());
  *(at + 3 + 64) ^= 0x01;
  const crypto::KeyInfo want = decoded_key_info(der);
  EXPECT_EQ(want.algorithm, crypto::KeyAlgorithm::kUnknown);
  auto cert = Certificate::from_der_lenient(der);
  ASSERT_TRUE(cert) << cert.error().message;
  expect_same(cert->info().key, want, "point off the curve");
  EXPECT_EQ(cert->public_key(), nullptr);
  EXPECT_EQ(cert->der(), der);
}

TEST(KeyDescription, CountsAMalformedRsaKeyAsTheDecoderDoes) {
  TempDir dir;
  Bytes der = self_signed_der(dir, "-newkey rsa:2048");
  // The modulus INTEGER (02 82 01 01 00 ...) made negative: a key OpenSSL's decoder may or
  // may not take, and whatever it says, the description says too.
  const Bytes marker = {0x02, 0x82, 0x01, 0x01, 0x00};
  auto at = std::search(der.begin(), der.end(), marker.begin(), marker.end());
  ASSERT_NE(at, der.end());
  *(at + 4) = 0x80;
  auto cert = Certificate::from_der_lenient(der);
  ASSERT_TRUE(cert) << cert.error().message;
  expect_same(cert->info().key, decoded_key_info(der), "negative modulus");
}

TEST(KeyDescription, LeavesTheEncodingsAsOpensslWritesThem) {
  TempDir dir;
  const Bytes der = self_signed_der(dir, "-newkey ec -pkeyopt ec_paramgen_curve:P-384");
  auto cert = Certificate::from_der(der);
  ASSERT_TRUE(cert);
  // pem() writes the held DER; the same text OpenSSL writes from its decoded object.
  EXPECT_EQ(dir.run("openssl x509 -inform der -in c.der -out c.pem"), 0);
  EXPECT_EQ(cert->pem(), std::string(as_chars(dir.read("c.pem"))));
  // Copies share the one lazily decoded object.
  const Certificate copy = *cert;
  EXPECT_EQ(copy.get(), cert->get());
  unsigned char* out = nullptr;
  const int len = i2d_X509(cert->get(), &out);
  ASSERT_GT(len, 0);
  EXPECT_EQ(Bytes(out, out + len), der);
  OPENSSL_free(out);
}

TEST(KeyDescription, ThreadsAskingForTheKeyAtOnceShareOneDecodedObject) {
  TempDir dir;
  const Bytes der = self_signed_der(dir, "-newkey ec -pkeyopt ec_paramgen_curve:P-256");
  for (int round = 0; round < 20; ++round) {
    auto cert = Certificate::from_der(der);
    ASSERT_TRUE(cert);
    constexpr int kThreads = 4;
    std::vector<X509*> objects(kThreads, nullptr);
    std::vector<int> verified(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t, copy = *cert] {
        objects[static_cast<std::size_t>(t)] = copy.get();
        verified[static_cast<std::size_t>(t)] = X509_verify(copy.get(), copy.public_key());
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(objects[static_cast<std::size_t>(t)], cert->get());
      EXPECT_EQ(verified[static_cast<std::size_t>(t)], 1);
    }
  }
}

}  // namespace
}  // namespace certward::x509
