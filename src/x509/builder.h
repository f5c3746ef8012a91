#pragma once
// Building, linting and signing certificates.
//
// The path is deliberately one-way: build_tbs() makes an unsigned TbsCertificate; only lint()
// can turn it into a LintedTbs; only sign() redeems a LintedTbs, once. So no certificate can be
// signed without passing the linter. ca::Authority is the only caller of sign().

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "x509/certificate.h"

namespace certward::x509 {

// Everything a profile and a request decide about one certificate.
struct CertificateTemplate {
  crypto::X509NamePtr subject;  // may be empty (then SANs are critical)
  std::vector<SubjectAltName> sans;
  const EVP_PKEY* public_key = nullptr;  // borrowed; the subject's key
  // Optional, borrowed: public_key's SubjectPublicKeyInfo as already decoded (a CSR's,
  // X509_REQ_get_X509_PUBKEY). It must be the same key. When given, the certificate copies
  // it instead of re-encoding public_key, which on OpenSSL 3.0 costs an encoder and a decoder
  // context per certificate; the result is the same bytes (see x509/public_key.cc).
  const X509_PUBKEY* public_key_info = nullptr;
  Bytes serial;  // big-endian magnitude, positive
  SysTime not_before{};
  SysTime not_after{};
  std::vector<std::string> key_usage;           // RFC 5280 names, see CertificateInfo
  std::vector<std::string> extended_key_usage;  // "serverAuth", ... or dotted OIDs
  bool is_ca = false;
  std::optional<int> path_length;                   // CA only
  std::optional<NameConstraints> name_constraints;  // CA only
  std::vector<std::string> crl_urls;
  std::vector<std::string> ocsp_urls;
  std::vector<std::string> ca_issuers_urls;
  std::vector<std::string> policy_oids;
  // id-pkix-ocsp-nocheck (RFC 6960 4.2.2.2.1), non-critical with a NULL value: for a delegated
  // OCSP responder certificate (with extended_key_usage {"OCSPSigning"}), telling relying
  // parties not to check the responder certificate's own revocation status.
  bool ocsp_nocheck = false;
};

struct LintRules;
enum class LintFinding : std::uint8_t;
class LintedTbs;

// An unsigned certificate. Move-only.
class TbsCertificate {
 public:
  X509* get() const { return cert_.get(); }

 private:
  friend Result<TbsCertificate> build_tbs(const CertificateTemplate&, const Certificate*,
                                          const EVP_PKEY*);
  friend Result<LintedTbs> lint(TbsCertificate, const LintRules&, std::vector<LintFinding>*);
  TbsCertificate(crypto::X509Ptr c, bool own_public_key)
      : cert_(std::move(c)), own_public_key_(own_public_key) {}
  crypto::X509Ptr cert_;
  // The certificate's public key object is a public-only copy made for it (not a caller's
  // EVP_PKEY, which may be a private key), so sign() may keep the signed object as it is.
  bool own_public_key_ = false;
};

// Builds the TBS for `tmpl`, issued by `issuer` (nullptr: self-signed, issuer = subject and
// AKI = own SKI). The AKI is the issuer's SKI, or, for an issuer without one, the SHA-1 of
// its subjectPublicKey (RFC 5280 4.2.1.2 method 1, the SKI certward itself writes).
// `issuer_key` must be given when issuer is null (a self-signed certificate).
// Extensions: basicConstraints (critical), keyUsage (critical), extKeyUsage, SAN,
// SKI, AKI, CDP, AIA, certificatePolicies, nameConstraints (critical), OCSP no-check.
// Errors: kInvalidArgument (bad template: no key, no serial, inverted validity).
Result<TbsCertificate> build_tbs(const CertificateTemplate& tmpl, const Certificate* issuer,
                                 const EVP_PKEY* issuer_key);

// What the linter refuses: things a CA must never issue, whatever the profile says.
struct LintRules {
  std::chrono::seconds max_validity{std::chrono::days(398)};
  bool require_san = true;  // TLS profiles: a leaf without SANs is refused
  bool expect_ca = false;   // the profile issues CA certificates
  // The CAs above the certificate, nearest first: a name outside any one's constraints is
  // refused (see name_constraint_violation).
  std::vector<Certificate> issuers;
};

enum class LintFinding : std::uint8_t {
  kValidityTooLong,
  kValidityInverted,
  kNoSan,
  kCaFlagOnLeaf,
  kMissingCaFlag,
  kWeakRsaKey,
  kWeakSignatureAlgorithm,
  kSerialTooShort,
  kSerialNegative,
  kSerialTooLong,
  kUnsupportedKey,
  kEmptySubjectWithoutCriticalSan,
  kNameConstraintViolation,
  // keyEncipherment or dataEncipherment on a key that cannot encipher: EC (RFC 5480 3),
  // Ed25519 (RFC 8410 5), RSA-PSS (RFC 4055 1.2).
  kEnciphermentOnNonEncryptionKey,
};
std::string_view lint_finding_name(LintFinding f);

// A certificate the linter passed. Move-only. It yields only a const view: what was linted is
// what sign() signs, and nothing can change it in between. Redeemed once, by sign().
class LintedTbs {
 public:
  const X509* get() const { return cert_.get(); }

 private:
  friend Result<LintedTbs> lint(TbsCertificate, const LintRules&, std::vector<LintFinding>*);
  friend Result<Certificate> sign(LintedTbs, const crypto::Signer&);
  crypto::X509Ptr release() && { return std::move(cert_); }
  LintedTbs(crypto::X509Ptr c, bool own_public_key)
      : cert_(std::move(c)), own_public_key_(own_public_key) {}
  crypto::X509Ptr cert_;
  bool own_public_key_ = false;  // as in TbsCertificate
};

// Checks `tbs` against `rules` and the baseline every certificate must meet. The error's
// message names every finding; the findings themselves are in `findings` when given.
// Errors: kPolicyRejected.
Result<LintedTbs> lint(TbsCertificate tbs, const LintRules& rules,
                       std::vector<LintFinding>* findings);
inline Result<LintedTbs> lint(TbsCertificate tbs, const LintRules& rules) {
  return lint(std::move(tbs), rules, nullptr);
}

// RFC 5280 4.2.1.10 as relying parties apply it: whether a certificate's subject and names
// satisfy the name constraints of every CA in `issuers`. The matching is OpenSSL's own, the
// one X509_verify_cert runs on a leaf (its common name too when it has no DNS name); on top, a
// wildcard is refused when a name it can match is excluded ("*.corp.test" under an excluded
// "secret.corp.test"), which the verifier misses. Returns a description of the first
// violation, or nullopt. Errors: kInternal (out of memory).
Result<std::optional<std::string>> name_constraint_violation(const X509* cert,
                                                             std::span<const Certificate> issuers);

// Signs with `signer` and parses the result. Errors: kInternal.
Result<Certificate> sign(LintedTbs tbs, const crypto::Signer& signer);

// A fresh serial: 16 CSPRNG bytes with the first octet forced into 0x01..0x7f so the INTEGER is
// positive and exactly 16 octets: 127 bits of entropy, well above the ≥ 64 that CA/B BR 7.1 asks.
Bytes random_serial();

}  // namespace certward::x509
