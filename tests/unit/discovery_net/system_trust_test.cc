// The system trust look-up: roots of the bundle file and of a hashed directory are found when a
// chain names them (and only then decoded), names no root has are not, a file outside the
// hashed naming is not read, and a bundle that is not PEM is refused.

#include "discovery/net/system_trust.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "crypto/handles.h"
#include "unit/testing/pki.h"
#include "unit/testing/temp_dir.h"

namespace certward::discovery::net {
namespace {

using certward::testing::TempDir;

struct Ca {
  crypto::PrivateKey key;
  x509::Certificate cert;
  x509::Certificate leaf;
};

Ca make_ca(std::string_view subject) {
  auto key = certward::testing::make_key();
  auto root = certward::testing::self_signed_ca(key, subject);
  auto leaf_key = certward::testing::make_key();
  x509::LintRules rules;
  auto leaf =
      certward::testing::issue(certward::testing::leaf_template(leaf_key.get()), &root, key, rules);
  return Ca{std::move(key), std::move(root), std::move(leaf)};
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string hash_name(const x509::Certificate& cert, int n = 0) {
  char name[32];
  std::snprintf(name, sizeof name, "%08lx.%d", X509_subject_name_hash(cert.get()), n);
  return name;
}

// X509_V_OK, or the error verifying `leaf` against `store` (time not checked).
int verify(X509_STORE* store, const x509::Certificate& leaf) {
  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(ctx.get(), store, leaf.get(), nullptr) != 1) return -1;
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_NO_CHECK_TIME);
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

class SystemTrust : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bundled_ = new Ca(make_ca("CN=Bundled Root,O=Test"));
    filed_ = new Ca(make_ca("CN=Filed Root,O=Test"));
    stray_ = new Ca(make_ca("CN=Stray Root,O=Test"));
  }
  static void TearDownTestSuite() {
    delete bundled_;
    delete filed_;
    delete stray_;
  }

  // The bundle holds the bundled root (twice, with a key block between); the directory holds
  // the filed root under its hashed name and the stray root under a name OpenSSL never reads.
  SystemTrustPaths paths() {
    write(dir_.file("bundle.pem"),
          bundled_->cert.pem() + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" +
              bundled_->cert.pem());
    std::filesystem::create_directory(dir_.file("certs"));
    write(dir_.file("certs/" + hash_name(filed_->cert)), filed_->cert.pem());
    write(dir_.file("certs/stray.pem"), stray_->cert.pem());
    return {dir_.file("bundle.pem"), {dir_.file("certs")}};
  }

  static Ca* bundled_;
  static Ca* filed_;
  static Ca* stray_;
  TempDir dir_;
};
Ca* SystemTrust::bundled_ = nullptr;
Ca* SystemTrust::filed_ = nullptr;
Ca* SystemTrust::stray_ = nullptr;

TEST_F(SystemTrust, RootsOfTheBundleAndTheHashedDirectoryAreFoundWhenAChainNamesThem) {
  crypto::X509StorePtr store(X509_STORE_new());
  ASSERT_TRUE(add_system_trust(store.get(), paths()));
  // Nothing is decoded up front.
  EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(store.get())), 0);
  EXPECT_EQ(verify(store.get(), bundled_->leaf), X509_V_OK);
  EXPECT_EQ(verify(store.get(), filed_->leaf), X509_V_OK);
  EXPECT_EQ(verify(store.get(), stray_->leaf), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  // The two roots asked for, once each, however often they are asked for.
  EXPECT_EQ(verify(store.get(), bundled_->leaf), X509_V_OK);
  EXPECT_EQ(sk_X509_OBJECT_num(X509_STORE_get0_objects(store.get())), 2);
}

TEST_F(SystemTrust, ChainsAreVerifiedFromSeveralThreadsAtOnce) {
  crypto::X509StorePtr store(X509_STORE_new());
  ASSERT_TRUE(add_system_trust(store.get(), paths()));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const Ca& ca = (i + t) % 3 == 0 ? *bundled_ : (i + t) % 3 == 1 ? *filed_ : *stray_;
        const int want = &ca == stray_ ? X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY : X509_V_OK;
        if (verify(store.get(), ca.leaf) != want) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(SystemTrust, ATrustedCertificateBlockIsARoot) {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_AUX(bio.get(), bundled_->cert.get()), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  const std::string text(data, static_cast<std::size_t>(size));
  ASSERT_NE(text.find("TRUSTED CERTIFICATE"), std::string::npos);
  write(dir_.file("aux.pem"), text);
  crypto::X509StorePtr store(X509_STORE_new());
  ASSERT_TRUE(add_system_trust(store.get(), {dir_.file("aux.pem"), {}}));
  EXPECT_EQ(verify(store.get(), bundled_->leaf), X509_V_OK);
}

TEST_F(SystemTrust, NoFileAndNoDirectoryTrustNothing) {
  crypto::X509StorePtr store(X509_STORE_new());
  ASSERT_TRUE(add_system_trust(store.get(), {dir_.file("absent.pem"), {dir_.file("absent")}}));
  EXPECT_EQ(verify(store.get(), bundled_->leaf), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(SystemTrust, ABundleThatIsNotPemIsRefused) {
  write(dir_.file("broken.pem"),
        bundled_->cert.pem() + "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
  crypto::X509StorePtr store(X509_STORE_new());
  auto added = add_system_trust(store.get(), {dir_.file("broken.pem"), {}});
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code, ErrorCode::kUnavailable);
}

TEST_F(SystemTrust, TheEnvironmentNamesTheFileAndEveryDirectory) {
  ::setenv(X509_get_default_cert_file_env(), "/x/bundle.pem", 1);
  ::setenv(X509_get_default_cert_dir_env(), "/x/a::/x/b", 1);
  const auto paths = SystemTrustPaths::from_environment();
  ::unsetenv(X509_get_default_cert_file_env());
  ::unsetenv(X509_get_default_cert_dir_env());
  EXPECT_EQ(paths.file, "/x/bundle.pem");
  EXPECT_EQ(paths.dirs, (std::vector<std::string>{"/x/a", "/x/b"}));
  const auto defaults = SystemTrustPaths::from_environment();
  EXPECT_EQ(defaults.file, X509_get_default_cert_file());
}

}  // namespace
}  // namespace certward::discovery::net
