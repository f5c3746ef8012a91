// The PKCS#11 signer against a real token (SoftHSM2).
#include "crypto/pkcs11.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <thread>
#include <vector>

#include "unit/testing/softhsm.h"
#include "unit/testing/temp_dir.h"

namespace certward::crypto {
namespace {

using testing::SoftHsm;

Pkcs11KeyRef where(std::string label) {
  SoftHsm& hsm = SoftHsm::shared();
  return Pkcs11KeyRef{SoftHsm::kModule, SoftHsm::kToken, std::move(label), "", hsm.pin_source()};
}

bool verifies(const EVP_PKEY* key, std::span<const std::uint8_t> data,
              std::span<const std::uint8_t> sig) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY* k = const_cast<EVP_PKEY*>(key);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, digest_for(key), nullptr, k) == 1 &&
         EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

// A request signed by the signer, verified by OpenSSL with the signer's public key.
void expect_signs_request(const Signer& signer) {
  X509ReqPtr req(X509_REQ_new());
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>(signer.public_key())), 1);
  ASSERT_TRUE(signer.sign_request(req.get()));
  EXPECT_EQ(X509_REQ_verify(req.get(), const_cast<EVP_PKEY*>(signer.public_key())), 1);
}

class Pkcs11 : public ::testing::TestWithParam<KeyType> {};

TEST_P(Pkcs11, GeneratesSignsAndVerifies) {
  const std::string label = "gen-" + std::string(key_type_name(GetParam()));
  auto ref = pkcs11_generate_key(where(label), GetParam());
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(ref->id_hex.size(), 32u);
  auto signer = open_pkcs11_signer(*ref);
  ASSERT_TRUE(signer) << signer.error().message;
  const KeyInfo info = describe_key((*signer)->public_key());
  ASSERT_TRUE(info.key_type());
  EXPECT_EQ(*info.key_type(), GetParam());

  const Bytes data = random_bytes(300);
  auto sig = (*signer)->sign_data(data);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_TRUE(verifies((*signer)->public_key(), data, *sig));
  Bytes other = data;
  other[0] ^= 1;
  EXPECT_FALSE(verifies((*signer)->public_key(), other, *sig));
  expect_signs_request(**signer);

  X509CrlPtr crl(X509_CRL_new());
  ASSERT_TRUE((*signer)->sign_crl(crl.get()));
  EXPECT_EQ(X509_CRL_verify(crl.get(), const_cast<EVP_PKEY*>((*signer)->public_key())), 1);

  // Found again by its label alone, and by its id alone.
  auto by_label = pkcs11_find_key(where(label));
  ASSERT_TRUE(by_label) << by_label.error().message;
  EXPECT_EQ(by_label->id_hex, ref->id_hex);
  Pkcs11KeyRef by_id_ref = where("");
  by_id_ref.id_hex = ref->id_hex;
  auto by_id = pkcs11_find_key(by_id_ref);
  ASSERT_TRUE(by_id) << by_id.error().message;
  EXPECT_EQ(by_id->label, label);

  ASSERT_TRUE(pkcs11_destroy_key(*ref));
  auto gone = pkcs11_find_key(*ref);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(CaKeyTypes, Pkcs11,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048),
                         [](const auto& p) {
                           std::string n(key_type_name(p.param));
                           std::erase(n, '-');
                           return n;
                         });

TEST(Pkcs11Keys, RefusesWhatATokenCaKeyCannotBe) {
  auto ed = pkcs11_generate_key(where("ed"), KeyType::kEd25519);
  ASSERT_FALSE(ed);
  EXPECT_EQ(ed.error().code, ErrorCode::kInvalidArgument);
  auto pss = pkcs11_generate_key(where("pss"), KeyType::kRsaPss2048);
  ASSERT_FALSE(pss);
  EXPECT_EQ(pss.error().code, ErrorCode::kInvalidArgument);
  auto unnamed = pkcs11_generate_key(where(""), KeyType::kEcP256);
  ASSERT_FALSE(unnamed);
  EXPECT_EQ(unnamed.error().code, ErrorCode::kInvalidArgument);

  ASSERT_TRUE(pkcs11_generate_key(where("twice"), KeyType::kEcP256));
  auto twice = pkcs11_generate_key(where("twice"), KeyType::kEcP256);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);

  auto missing = pkcs11_find_key(where("no-such-key"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  Pkcs11KeyRef bad_id = where("");
  bad_id.id_hex = "not hex";
  auto bad = pkcs11_find_key(bad_id);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  auto nothing = pkcs11_find_key(where(""));
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, ErrorCode::kInvalidArgument);
}

TEST(Pkcs11Keys, NoTokenOrNoPinIsUnavailable) {
  Pkcs11KeyRef ref = where("x");
  ref.token = "no-such-token";
  auto r = pkcs11_generate_key(ref, KeyType::kEcP256);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("not present"), std::string::npos) << r.error().message;

  Pkcs11KeyRef module = where("x");
  module.module = "/nonexistent/libpkcs11.so";
  auto m = pkcs11_generate_key(module, KeyType::kEcP256);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ErrorCode::kUnavailable);
  module.module = "relative.so";
  auto rel = pkcs11_generate_key(module, KeyType::kEcP256);
  ASSERT_FALSE(rel);
  EXPECT_EQ(rel.error().code, ErrorCode::kInvalidArgument);
}

TEST(Pkcs11Pin, ReadsEnvironmentAndFileAndNothingElse) {
  ::setenv("CERTWARD_TEST_PIN_X", "1234", 1);
  auto env = read_pin("env:CERTWARD_TEST_PIN_X");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->chars(), "1234");
  EXPECT_EQ(read_pin("env:CERTWARD_TEST_PIN_UNSET").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(read_pin("env:").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(read_pin("1234").error().code, ErrorCode::kInvalidArgument);
  testing::TempDir dir;
  std::ofstream(dir.file("pin")) << "5678\r\nignored\n";
  auto file = read_pin("file:" + dir.file("pin"));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->chars(), "5678");
  std::ofstream(dir.file("empty")) << "";
  EXPECT_EQ(read_pin("file:" + dir.file("empty")).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(read_pin("file:" + dir.file("absent")).error().code, ErrorCode::kNotFound);
}

TEST(Pkcs11KeyRefJson, RoundTripsAndRefusesGarbage) {
  Pkcs11KeyRef r{"/m.so", "tok", "lab", "00ff", "env:PIN"};
  auto back = parse_pkcs11_key_ref(pkcs11_key_ref_json(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->module, r.module);
  EXPECT_EQ(back->token, r.token);
  EXPECT_EQ(back->label, r.label);
  EXPECT_EQ(back->id_hex, r.id_hex);
  EXPECT_EQ(back->pin_source, r.pin_source);
  EXPECT_FALSE(parse_pkcs11_key_ref("{"));
  EXPECT_FALSE(parse_pkcs11_key_ref("[]"));
  EXPECT_FALSE(parse_pkcs11_key_ref(R"({"module":"/m.so","token":1})"));
}

// A PIN the token refused is not offered again (tokens lock after a few): the next attempt is
// refused here. A changed PIN at the same source is tried.
TEST(Pkcs11Pin, ARefusedPinIsNotTriedAgainUntilItChanges) {
  (void)SoftHsm::shared();  // the tokens and their configuration, in a test run alone too
  ::setenv("CERTWARD_TEST_OTHER_PIN", "wrong-pin", 1);
  Pkcs11KeyRef ref{SoftHsm::kModule, SoftHsm::kOtherToken, "pin-test", "",
                   "env:CERTWARD_TEST_OTHER_PIN"};
  auto first = pkcs11_generate_key(ref, KeyType::kEcP256);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(first.error().message.find("CKR_PIN_INCORRECT"), std::string::npos)
      << first.error().message;
  auto second = pkcs11_generate_key(ref, KeyType::kEcP256);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("not tried again"), std::string::npos)
      << second.error().message;
  ::setenv("CERTWARD_TEST_OTHER_PIN", SoftHsm::kPin, 1);
  auto fixed = pkcs11_generate_key(ref, KeyType::kEcP256);
  ASSERT_TRUE(fixed) << fixed.error().message;
}

// Many threads share one token's session pool; every signature is good.
TEST(Pkcs11Signer, SignsFromManyThreads) {
  auto ref = pkcs11_generate_key(where("threads"), KeyType::kEcP256);
  ASSERT_TRUE(ref) << ref.error().message;
  auto signer = open_pkcs11_signer(*ref);
  ASSERT_TRUE(signer);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        const Bytes data = random_bytes(64);
        auto sig = (*signer)->sign_data(data);
        if (sig && verifies((*signer)->public_key(), data, *sig)) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

// The token goes away mid-run: signing fails as kUnavailable and signs nothing; when it is
// back, the same signer signs again without being opened anew.
TEST(Pkcs11Signer, TokenGoneIsUnavailableAndComesBack) {
  auto ref = pkcs11_generate_key(where("comes-back"), KeyType::kEcP256);
  ASSERT_TRUE(ref) << ref.error().message;
  auto signer = open_pkcs11_signer(*ref);
  ASSERT_TRUE(signer);
  const Bytes data = random_bytes(32);
  ASSERT_TRUE((*signer)->sign_data(data));

  SoftHsm::shared().remove_token();
  X509ReqPtr req(X509_REQ_new());
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), const_cast<EVP_PKEY*>((*signer)->public_key())), 1);
  // Past the module's one-second pause between reinitialisations, twice over.
  for (int i = 0; i < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    auto sig = (*signer)->sign_data(data);
    ASSERT_FALSE(sig);
    EXPECT_EQ(sig.error().code, ErrorCode::kUnavailable) << sig.error().message;
    auto signed_req = (*signer)->sign_request(req.get());
    ASSERT_FALSE(signed_req);
    EXPECT_EQ(signed_req.error().code, ErrorCode::kUnavailable) << signed_req.error().message;
  }
  const ASN1_BIT_STRING* req_sig = nullptr;
  X509_REQ_get0_signature(req.get(), &req_sig, nullptr);
  EXPECT_TRUE(req_sig == nullptr || ASN1_STRING_length(req_sig) == 0);

  SoftHsm::shared().restore_token();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Result<Bytes> back = fail(ErrorCode::kInternal, "not tried");
  for (int i = 0; i < 3 && !back; ++i) {
    back = (*signer)->sign_data(data);
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(verifies((*signer)->public_key(), data, *back));
}

}  // namespace
}  // namespace certward::crypto
