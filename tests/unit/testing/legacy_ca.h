#pragma once
// CA certificates as CAs made before RFC 3280 look: basicConstraints and keyUsage but neither a
// subjectKeyIdentifier nor an authorityKeyIdentifier. Made with OpenSSL directly, since
// certward's own builder always writes both.

#include <openssl/x509v3.h>

#include <chrono>
#include <string_view>

#include "unit/testing/pki.h"

namespace certward::testing {

// `key`'s CA certificate named `subject`, signed by `issuer_key` under `issuer` (nullptr:
// self-signed), valid from kT0 - 1 day for 20 years. With `ski_hex`, it does carry a
// subjectKeyIdentifier: that value, which need not be any hash of the key.
inline x509::Certificate legacy_ca(const crypto::PrivateKey& key, std::string_view subject,
                                   const x509::Certificate* issuer = nullptr,
                                   const crypto::PrivateKey* issuer_key = nullptr,
                                   const std::string& ski_hex = {}) {
  crypto::X509Ptr cert(X509_new());
  CW_CHECK(X509_set_version(cert.get(), X509_VERSION_3) == 1);
  const Bytes serial = x509::random_serial();
  crypto::BignumPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  CW_CHECK(bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())));
  const crypto::X509NamePtr subject_name = name(subject);
  CW_CHECK(X509_set_subject_name(cert.get(), subject_name.get()) == 1);
  CW_CHECK(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer->get())
                                                   : subject_name.get()) == 1);
  const auto t0 = static_cast<time_t>(to_unix(kT0 - std::chrono::days(1)));
  CW_CHECK(ASN1_TIME_set(X509_getm_notBefore(cert.get()), t0));
  CW_CHECK(ASN1_TIME_set(X509_getm_notAfter(cert.get()), t0 + 20L * 365 * 86400));
  CW_CHECK(X509_set_pubkey(cert.get(), key.get()) == 1);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer->get() : cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"}}) {
    crypto::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    CW_CHECK(ext && X509_add_ext(cert.get(), ext.get(), -1) == 1);
  }
  if (!ski_hex.empty()) {
    crypto::X509ExtPtr ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, ski_hex.c_str()));
    CW_CHECK(ext && X509_add_ext(cert.get(), ext.get(), -1) == 1);
  }
  const crypto::PrivateKey& signer = issuer_key ? *issuer_key : key;
  CW_CHECK(X509_sign(cert.get(), signer.get(), crypto::digest_for(signer.get())) > 0);
  auto parsed = x509::Certificate::from_x509(std::move(cert));
  CW_CHECK(parsed.has_value());
  CW_CHECK(parsed->info().authority_key_id.empty());
  CW_CHECK(parsed->info().subject_key_id.size() == ski_hex.size());
  return std::move(*parsed);
}

// RFC 5280 4.2.1.2 method 1: the SHA-1 of the subjectPublicKey BIT STRING, as hex.
inline std::string key_id_of(const x509::Certificate& cert) {
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert.get());
  return to_hex(crypto::sha1(std::span<const std::uint8_t>(
      ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits)))));
}

}  // namespace certward::testing
