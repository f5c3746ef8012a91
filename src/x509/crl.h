#pragma once
// Certificate revocation lists (RFC 5280 section 5): building, parsing, verifying.
//
// build_crl() writes the DER itself, field by field, and signs the TBSCertList with
// Signer::sign_data: a CRL of 1,000,000 entries costs one pass over the entries, one output
// buffer and one signature (bench/crl/run.sh measures it), where OpenSSL's X509_CRL objects
// would allocate a dozen objects per entry. The result is a plain RFC 5280 CRL that OpenSSL
// and every relying party read: the tests check it with X509_CRL_verify, `openssl crl` and
// `openssl verify -crl_check`.
//
// parse_crl() reads the DER with a strict reader into plain values (no OpenSSL object per
// entry), in time and memory linear in the input. "Parsed" promises well-formed DER and a
// decoded structure, not a valid signature: verify_crl_signature() checks that, separately.
//
// Every function is thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

namespace certward::x509 {

// RFC 5280 5.3.1 CRLReason. 7 is not used. OCSP (RFC 6960 4.2.1) uses the same codes.
enum class CrlReason : std::uint8_t {
  kUnspecified = 0,
  kKeyCompromise = 1,
  kCaCompromise = 2,
  kAffiliationChanged = 3,
  kSuperseded = 4,
  kCessationOfOperation = 5,
  kCertificateHold = 6,
  kRemoveFromCrl = 8,  // only in delta CRLs (RFC 5280 5.3.1)
  kPrivilegeWithdrawn = 9,
  kAaCompromise = 10,
};
// RFC 5280's spelling: "unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
// "superseded", "cessationOfOperation", "certificateHold", "removeFromCRL",
// "privilegeWithdrawn", "aACompromise".
std::string_view crl_reason_name(CrlReason reason);
// The inverse of crl_reason_name, ignoring ASCII case ("keycompromise" is accepted).
// Errors: kInvalidArgument.
Result<CrlReason> parse_crl_reason(std::string_view name);
// The reason with RFC 5280 code `code`; nullopt for 7 and anything outside 0-10.
std::optional<CrlReason> crl_reason_from_code(int code);

// One revoked certificate, as the CRL lists it.
struct CrlEntry {
  // The certificate's serial number: the big-endian magnitude of a positive INTEGER, as
  // x509::random_serial makes it; leading zero octets are ignored. At most 20 octets
  // without them (RFC 5280 4.1.2.2).
  Bytes serial;
  SysTime revocation_time{};
  // Written as the reasonCode entry extension, except kUnspecified, which is left out
  // (RFC 5280 5.3.1: "the reason code extension SHOULD be absent" rather than unspecified).
  std::optional<CrlReason> reason;
  // When the key is known or suspected to have been compromised (RFC 5280 5.3.2); written as
  // the invalidityDate entry extension.
  std::optional<SysTime> invalidity_date;
};

// Everything that decides one CRL.
struct CrlTemplate {
  // The CA whose CRL this is: the CRL's issuer is its subject, and the CRL's
  // authorityKeyIdentifier is its subjectKeyIdentifier, or, when it has none, the SHA-1 of
  // its subjectPublicKey, as x509::build_tbs names it in the certificates it issues.
  Certificate issuer;
  // crlNumber (RFC 5280 5.2.3): big-endian magnitude, at most 20 octets without leading
  // zeros; crl_number_bytes() makes it from a counter. Full and delta CRLs share one sequence.
  Bytes number;
  SysTime this_update{};
  SysTime next_update{};  // required (RFC 5280 5.1.2.5: conforming CAs include it)
  // In any order: the CRL lists them by ascending serial number, so the same set always gives
  // the same bytes. A serial listed twice is refused.
  std::vector<CrlEntry> entries;
  // Set for a delta CRL (RFC 5280 5.2.4): the number of the full CRL it updates, written as
  // the critical deltaCRLIndicator. It must be below `number`.
  std::optional<Bytes> delta_base;
  // On a full CRL only: where its delta CRLs are published (freshestCRL, RFC 5280 5.2.6),
  // one distribution point per URL.
  std::vector<std::string> freshest_crl_urls;
};

// The big-endian magnitude of `n` without leading zeros (zero is empty): a crlNumber.
Bytes crl_number_bytes(std::uint64_t n);

// Builds and signs a v2 CRL; returns its DER. The signature algorithm is the signer's:
// ECDSA with SHA-256 (P-256), SHA-384 (P-384) or SHA-512 (P-521), RSA PKCS#1 v1.5 with
// SHA-256, Ed25519, or whatever OpenSSL writes for any other key (RSA-PSS). Times are UTCTime
// through 2049 and GeneralizedTime from 2050 (RFC 5280 5.1.2.4); invalidity dates are always
// GeneralizedTime. Extensions: authorityKeyIdentifier and cRLNumber (non-critical), the
// critical deltaCRLIndicator on a delta CRL, freshestCRL (non-critical) when URLs are given;
// on entries, reasonCode and invalidityDate (non-critical). With no entries the
// revokedCertificates list is absent, as RFC 5280 5.1.2.6 requires.
// Errors: kInvalidArgument (the signer's key is not the issuer's; an empty or overlong serial
// or number; a serial listed twice; nextUpdate not after thisUpdate; a time outside
// 0000-9999; removeFromCRL on a full CRL; a delta base not below the number; freshestCRL
// URLs on a delta CRL, or a URL that is not printable ASCII), kPolicyRejected (the issuer's
// keyUsage lacks cRLSign), kInternal (the signer failed).
Result<Bytes> build_crl(const CrlTemplate& tmpl, const crypto::Signer& signer);

// One entry of a parsed CRL.
struct CrlEntryInfo {
  std::string serial_hex;  // as CertificateInfo::serial_hex: lower-case magnitude, "00" for 0
  SysTime revocation_time{};
  std::optional<CrlReason> reason;  // absent when the CRL gives none (unspecified)
  std::optional<SysTime> invalidity_date;
};

// The issuingDistributionPoint of a partitioned CRL (RFC 5280 5.2.5), as found.
struct IssuingDistributionPoint {
  std::vector<std::string> urls;  // the fullName URIs
  bool only_user_certs = false;
  bool only_ca_certs = false;
  bool only_some_reasons = false;
  bool indirect_crl = false;
  bool only_attribute_certs = false;
};

struct CrlInfo {
  int version = 2;                  // 1 or 2
  std::string issuer;               // RFC 2253 one-line form
  std::string authority_key_id;     // hex, empty if absent
  std::string signature_algorithm;  // OpenSSL long name, e.g. "ecdsa-with-SHA256"
  SysTime this_update{};
  std::optional<SysTime> next_update;
  std::optional<Bytes> number;      // cRLNumber, magnitude without leading zeros
  std::optional<Bytes> delta_base;  // deltaCRLIndicator's base CRL number: a delta CRL
  std::vector<std::string> freshest_crl_urls;
  std::optional<IssuingDistributionPoint> issuing_distribution_point;
  std::vector<ExtensionSummary> extensions;  // the CRL's own extensions, in order
  std::vector<CrlEntryInfo> entries;         // in CRL order

  bool is_delta() const { return delta_base.has_value(); }
};

// Parses a DER CRL (RFC 5280 5.1). Refuses trailing data, indefinite or non-minimal lengths,
// times outside RFC 5280's forms, a signature algorithm that differs between the TBSCertList
// and the outer structure, duplicate extensions, and negative serial numbers.
// Errors: kMalformed; kPolicyRejected for a CRL RFC 5280 says must not be used by one who
// cannot process it: an unrecognised critical extension on the CRL or an entry, or entries
// naming another certificate issuer (an indirect CRL, 5.3.3), which certward does not handle.
Result<CrlInfo> parse_crl(std::span<const std::uint8_t> der);

// Checks that `der` is a CRL issued by `issuer`: its issuer name is the certificate's subject
// and its signature verifies under the certificate's public key. It does not check times, the
// issuer's keyUsage, or the issuer's own chain.
// Errors: kMalformed (not a CRL), kBadSignature (another issuer's name, or a signature that
// does not verify).
Status verify_crl_signature(std::span<const std::uint8_t> der, const Certificate& issuer);

}  // namespace certward::x509
