// What an upstream issuer checks before it returns a CA's certificate to the RA: the key, the
// names, the dates, the chain's links and its trust anchors.
#include "issuers/verify.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "x509/names.h"

namespace certward::issuers {
namespace {

using x509::SanType;
using x509::SubjectAltName;

struct Made {
  crypto::PrivateKey key;
  x509::Certificate cert;
};

// A certificate for `key` (new when absent), signed by `issuer` (self-signed when absent).
Made make(const std::string& cn, const Made* issuer, bool ca,
          const std::vector<std::string>& dns_names, SysTime not_before, SysTime not_after,
          const crypto::PrivateKey* key = nullptr,
          const std::vector<std::pair<int, std::string>>& extra = {}) {
  auto fresh = crypto::generate_key(crypto::KeyType::kEcP256);
  EXPECT_TRUE(fresh.has_value());
  const EVP_PKEY* subject_key = key ? key->get() : fresh->get();
  X509* x = X509_new();
  X509_set_version(x, 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_subject_name(x, name);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
  X509_NAME_free(name);
  ASN1_TIME_set(X509_getm_notBefore(x), to_unix(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), to_unix(not_after));
  X509_set_pubkey(x, const_cast<EVP_PKEY*>(subject_key));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(e, nullptr) << value;
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
  std::string sans;
  for (const auto& n : dns_names) sans += (sans.empty() ? "DNS:" : ",DNS:") + n;
  if (!sans.empty()) add(NID_subject_alt_name, sans);
  for (const auto& [nid, value] : extra) add(nid, value);
  const EVP_PKEY* signer = issuer ? issuer->key.get() : subject_key;
  EXPECT_GT(X509_sign(x, const_cast<EVP_PKEY*>(signer), EVP_sha256()), 0);
  auto cert = x509::Certificate::from_x509(crypto::X509Ptr(x));
  EXPECT_TRUE(cert.has_value());
  if (key) {
    auto copy = crypto::parse_private_key(key->to_pkcs8_der()->span());
    return {std::move(*copy), std::move(*cert)};
  }
  return {std::move(*fresh), std::move(*cert)};
}

class UpstreamResult : public ::testing::Test {
 protected:
  void SetUp() override {
    now = SysTime(std::chrono::seconds(1'800'000'000));
    root = std::make_unique<Made>(
        make("Root", nullptr, true, {}, now - hours(24), now + hours(24 * 3650)));
    inter = std::make_unique<Made>(
        make("Intermediate", root.get(), true, {}, now - hours(24), now + hours(24 * 1000)));
    leaf_key =
        std::make_unique<crypto::PrivateKey>(*crypto::generate_key(crypto::KeyType::kEcP256));
    order.profile = "tls-server";
    order.now = now;
    order.max_validity = std::chrono::hours(24 * 90);
    order.public_key = leaf_key->get();
    order.sans = {{SanType::kDns, "www.example.test"}, {SanType::kDns, "example.test"}};
  }
  static std::chrono::hours hours(int h) { return std::chrono::hours(h); }
  Made leaf(std::vector<std::string> names, SysTime nb, SysTime na, bool ca = false,
            const std::vector<std::pair<int, std::string>>& extra = {}) {
    return make("leaf", inter.get(), ca, names, nb, na, leaf_key.get(), extra);
  }
  Status check(const Made& l, std::vector<x509::Certificate> chain,
               std::vector<x509::Certificate> anchors) {
    return check_upstream_result(order, l.cert, chain, anchors, "upstream-ca");
  }

  SysTime now;
  std::unique_ptr<Made> root, inter;
  std::unique_ptr<crypto::PrivateKey> leaf_key;
  ca::Order order;
};

TEST_F(UpstreamResult, AcceptsTheCertificateTheRaDecided) {
  auto l = leaf({"example.test", "WWW.example.test"}, now - hours(1), now + hours(24 * 30));
  EXPECT_TRUE(check(l, {inter->cert, root->cert}, {root->cert}).has_value());
  EXPECT_TRUE(check(l, {inter->cert}, {root->cert}).has_value()) << "the root may be left out";
  EXPECT_TRUE(check(l, {inter->cert}, {}).has_value()) << "no anchors: the links are checked";
}

TEST_F(UpstreamResult, RefusesOtherNames) {
  for (const auto& names : std::vector<std::vector<std::string>>{
           {"www.example.test"},                                       // one missing
           {"www.example.test", "example.test", "evil.example.test"},  // one added
           {"www.example.test", "example.tes"}}) {                     // almost the same
    auto l = leaf(names, now - hours(1), now + hours(24));
    auto s = check(l, {inter->cert}, {root->cert});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
    EXPECT_NE(s.error().message.find("differ from the request"), std::string::npos)
        << s.error().message;
    EXPECT_NE(s.error().message.find("issuer 'upstream-ca'"), std::string::npos);
  }
}

TEST_F(UpstreamResult, RefusesAnotherKey) {
  auto l = make("leaf", inter.get(), false, {"www.example.test", "example.test"}, now - hours(1),
                now + hours(24));
  auto s = check(l, {inter->cert}, {root->cert});
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("another key"), std::string::npos);
}

TEST_F(UpstreamResult, RefusesBadDatesAndCaCertificates) {
  EXPECT_FALSE(check(leaf({"www.example.test", "example.test"}, now - hours(48), now - hours(1)),
                     {inter->cert}, {})
                   .has_value())
      << "expired";
  EXPECT_FALSE(check(leaf({"www.example.test", "example.test"}, now + hours(2), now + hours(24)),
                     {inter->cert}, {})
                   .has_value())
      << "not yet valid";
  EXPECT_TRUE(check(leaf({"www.example.test", "example.test"}, now + std::chrono::minutes(2),
                         now + hours(24)),
                    {inter->cert}, {})
                  .has_value())
      << "a CA clock a little ahead";
  auto too_long = check(leaf({"www.example.test", "example.test"}, now, now + hours(24 * 91)),
                        {inter->cert}, {});
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().message.find("maximum of 90d"), std::string::npos)
      << too_long.error().message;
  EXPECT_FALSE(check(leaf({"www.example.test", "example.test"}, now, now + hours(24), true),
                     {inter->cert}, {})
                   .has_value())
      << "a CA certificate for a leaf";
}

TEST_F(UpstreamResult, UsagesStayWithinTheProfile) {
  order.extended_key_usage = {"serverAuth", "1.3.6.1.5.5.7.3.2"};  // clientAuth by its OID
  const std::vector<std::string> names = {"www.example.test", "example.test"};
  auto fine = leaf(
      names, now, now + hours(24), false,
      {{NID_ext_key_usage, "serverAuth,clientAuth"}, {NID_key_usage, "critical,digitalSignature"}});
  EXPECT_TRUE(check(fine, {inter->cert}, {}).has_value());
  order.extended_key_usage = {"serverAuth"};
  EXPECT_TRUE(check(fine, {inter->cert}, {}).has_value()) << "clientAuth beside serverAuth";
  order.extended_key_usage = {"clientAuth"};
  EXPECT_FALSE(check(fine, {inter->cert}, {}).has_value())
      << "but not serverAuth beside clientAuth";
  order.extended_key_usage = {"serverAuth"};
  for (const auto& extra : std::vector<std::vector<std::pair<int, std::string>>>{
           {{NID_ext_key_usage, "serverAuth,codeSigning"}},
           {{NID_ext_key_usage, "serverAuth,anyExtendedKeyUsage"}},
           {{NID_key_usage, "critical,digitalSignature,keyCertSign"}},
           {{NID_key_usage, "critical,cRLSign"}}}) {
    auto s = check(leaf(names, now, now + hours(24), false, extra), {inter->cert}, {});
    ASSERT_FALSE(s.has_value()) << extra.front().second;
    EXPECT_EQ(s.error().code, ErrorCode::kPolicyRejected);
  }
}

TEST_F(UpstreamResult, RefusesChainsThatDoNotHoldTogether) {
  auto l = leaf({"www.example.test", "example.test"}, now - hours(1), now + hours(24));
  auto none = check(l, {}, {});
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().message.find("no chain"), std::string::npos);
  auto other = make("Intermediate", root.get(), true, {}, now - hours(1), now + hours(24 * 100));
  auto wrong = check(l, {other.cert}, {});
  ASSERT_FALSE(wrong.has_value()) << "same name, another key";
  EXPECT_NE(wrong.error().message.find("does not verify"), std::string::npos);
  auto foreign = make("Other Root", nullptr, true, {}, now - hours(1), now + hours(24 * 100));
  auto anchored = check(l, {inter->cert}, {foreign.cert});
  ASSERT_FALSE(anchored.has_value());
  EXPECT_NE(anchored.error().message.find("trust anchors"), std::string::npos);
}

}  // namespace
}  // namespace certward::issuers
