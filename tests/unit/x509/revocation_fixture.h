#pragma once
// What the CRL and OCSP tests share: a CA (key, certificate, signer) made by x509::build_tbs,
// leaves it issues, and small bridges to OpenSSL's own CRL/OCSP objects and command line, which
// the tests use as the independent reader of what certward writes.

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <memory>
#include <string>

#include "unit/testing/legacy_ca.h"
#include "unit/testing/pki.h"
#include "unit/x509/test_certs.h"

namespace certward::x509::revocation_testing {

using certward::testing::kT0;

struct Ca {
  std::shared_ptr<const crypto::PrivateKey> key;
  crypto::SoftwareSigner signer;
  Certificate cert;

  explicit Ca(crypto::KeyType type = crypto::KeyType::kEcP256,
              std::string_view subject = "CN=Revocation Test CA,O=Certward Test")
      : key(certward::testing::shared_key(type)),
        signer(key),
        cert(certward::testing::self_signed_ca(*key, subject)) {}

  // A TLS leaf issued by this CA, valid 90 days from kT0.
  Certificate issue_leaf(const crypto::PrivateKey& leaf_key, std::string_view dns) const {
    CertificateTemplate t = certward::testing::leaf_template(leaf_key.get());
    t.subject = certward::testing::name("CN=" + std::string(dns));
    t.sans = {{SanType::kDns, std::string(dns)}};
    return certward::testing::issue(t, &cert, *key, LintRules{});
  }
};

inline crypto::X509CrlPtr openssl_crl(const Bytes& der) {
  const unsigned char* p = der.data();
  crypto::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(crl) << crypto::openssl_error_string();
  if (crl) {
    EXPECT_EQ(p, der.data() + der.size());
  }
  return crl;
}

inline std::int64_t unix_of(const ASN1_TIME* t) {
  std::tm tm{};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return static_cast<std::int64_t>(timegm(&tm));
}

inline std::string serial_hex_of(const ASN1_INTEGER* i) {
  crypto::BignumPtr bn(ASN1_INTEGER_to_BN(i, nullptr));
  crypto::OpensslStringPtr hex(BN_bn2hex(bn.get()));
  std::string out(hex.get());
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.size() % 2) out.insert(0, "0");
  return out;
}

inline std::string pem_of(const X509* cert) {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

}  // namespace certward::x509::revocation_testing
