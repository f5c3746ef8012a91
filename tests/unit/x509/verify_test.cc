#include "x509/verify.h"

#include <gtest/gtest.h>

#include "unit/x509/test_certs.h"

namespace certward::x509 {
namespace {

using testing::kDay;
using testing::kT0;
using testing::make_cert;
using testing::Pki;
using testing::sys_time;

const VerifyOptions kAtT0{.at = sys_time(kT0 + kDay)};

VerifyOptions tls_server(std::string host) {
  return {.at = sys_time(kT0 + kDay),
          .purpose = Purpose::kTlsServer,
          .check_hostname = true,
          .hostname = std::move(host)};
}

void expect_rejected(const Result<VerifiedChain>& r) {
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kBadSignature) << r.error().message;
}

class VerifyTest : public ::testing::Test {
 protected:
  Pki pki_;
  std::vector<Certificate> untrusted_ = {pki_.intermediate};
  std::vector<Certificate> roots_ = {pki_.root};
};

TEST_F(VerifyTest, BuildsPathLeafFirst) {
  auto chain = verify_chain(pki_.leaf, untrusted_, roots_, kAtT0);
  ASSERT_TRUE(chain) << chain.error().message;
  ASSERT_EQ(chain->path.size(), 3u);
  EXPECT_EQ(chain->path[0].der(), pki_.leaf.der());
  EXPECT_EQ(chain->path[1].der(), pki_.intermediate.der());
  EXPECT_EQ(chain->path[2].der(), pki_.root.der());
}

TEST_F(VerifyTest, ChecksTlsServerHostnamesAndIps) {
  EXPECT_TRUE(verify_chain(pki_.leaf, untrusted_, roots_, tls_server("leaf.example")));
  EXPECT_TRUE(verify_chain(pki_.leaf, untrusted_, roots_, tls_server("192.0.2.10")));
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_, tls_server("other.example")));
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_, tls_server("192.0.2.11")));
}

TEST_F(VerifyTest, RejectsExpiredAndNotYetValid) {
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_, {.at = sys_time(kT0 + 91 * kDay)}));
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_, {.at = sys_time(kT0 - kDay)}));
}

TEST_F(VerifyTest, RejectsWrongRootAndMissingIntermediate) {
  Pki other;
  const std::vector<Certificate> wrong = {other.root};
  expect_rejected(verify_chain(pki_.leaf, untrusted_, wrong, kAtT0));
  expect_rejected(verify_chain(pki_.leaf, {}, roots_, kAtT0));
}

TEST_F(VerifyTest, RejectsWrongPurpose) {
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_,
                               {.at = sys_time(kT0 + kDay), .purpose = Purpose::kTlsClient}));
  expect_rejected(verify_chain(pki_.leaf, untrusted_, roots_,
                               {.at = sys_time(kT0 + kDay), .purpose = Purpose::kCodeSigning}));
}

TEST_F(VerifyTest, AcceptsCodeSigningLeaf) {
  const crypto::PrivateKey key = testing::test_key();
  const Certificate signer = make_cert({.subject = "/CN=Code Signer",
                                        .serial = 7,
                                        .extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                       {NID_key_usage, "critical,digitalSignature"},
                                                       {NID_ext_key_usage, "codeSigning"}}},
                                       key.get(), &pki_.intermediate, pki_.int_key.get());
  EXPECT_TRUE(verify_chain(signer, untrusted_, roots_,
                           {.at = sys_time(kT0 + kDay), .purpose = Purpose::kCodeSigning}));
}

TEST(Verify, RejectsPathLengthViolation) {
  const Pki pki("critical,CA:TRUE,pathlen:0");  // the root allows no intermediate
  const std::vector<Certificate> untrusted = {pki.intermediate};
  const std::vector<Certificate> roots = {pki.root};
  expect_rejected(verify_chain(pki.leaf, untrusted, roots, kAtT0));
  // The intermediate itself, directly under the root, is fine.
  EXPECT_TRUE(verify_chain(pki.intermediate, {}, roots, kAtT0));
}

TEST_F(VerifyTest, RequiresHostnameWhenCheckingIt) {
  auto r = verify_chain(pki_.leaf, untrusted_, roots_, tls_server(""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace certward::x509
