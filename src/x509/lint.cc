#include <openssl/objects.h>

#include <numeric>

#include "x509/builder.h"

namespace certward::x509 {
namespace {

constexpr std::size_t kMinSerialOctets = 8;   // ≥ 64 bits (CA/B BR 7.1)
constexpr std::size_t kMaxSerialOctets = 20;  // RFC 5280 4.1.2.2

struct SerialShape {
  std::size_t octets = 0;
  bool negative = false;
  std::string hex;
};

SerialShape serial_shape(const X509* cert) {
  SerialShape s;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  s.negative = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
  const auto length = static_cast<std::size_t>(ASN1_STRING_length(serial));
  const auto* data = ASN1_STRING_get0_data(serial);
  s.hex = to_hex(std::span<const std::uint8_t>(data, length));
  // The DER content octets: a magnitude whose top bit is set needs a leading sign octet.
  s.octets = length + (length > 0 && (data[0] & 0x80) != 0 ? 1 : 0);
  return s;
}

bool has_san(X509* cert) { return X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0; }

bool san_is_critical(X509* cert) {
  const int idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  return idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

bool is_ca(X509* cert) {
  crypto::Handle<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr)));
  return bc && bc->ca;
}

// Decoded from the extension itself rather than through X509_get_key_usage, which would
// cache the extensions (and a fingerprint) of a certificate that is not signed yet.
bool has_encipherment_usage(X509* cert) {
  crypto::Handle<ASN1_BIT_STRING, ASN1_BIT_STRING_free> ku(
      static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(cert, NID_key_usage, nullptr, nullptr)));
  constexpr int kKeyEncipherment = 2;
  constexpr int kDataEncipherment = 3;
  return ku && (ASN1_BIT_STRING_get_bit(ku.get(), kKeyEncipherment) == 1 ||
                ASN1_BIT_STRING_get_bit(ku.get(), kDataEncipherment) == 1);
}

SysTime asn1_to_systime(const ASN1_TIME* t) {
  std::tm tm{};
  ASN1_TIME_to_tm(t, &tm);
  return from_unix(static_cast<std::int64_t>(timegm(&tm)));
}

}  // namespace

std::string_view lint_finding_name(LintFinding f) {
  switch (f) {
    case LintFinding::kValidityTooLong:
      return "validity_too_long";
    case LintFinding::kValidityInverted:
      return "validity_inverted";
    case LintFinding::kNoSan:
      return "no_san";
    case LintFinding::kCaFlagOnLeaf:
      return "ca_flag_on_leaf";
    case LintFinding::kMissingCaFlag:
      return "missing_ca_flag";
    case LintFinding::kWeakRsaKey:
      return "weak_rsa_key";
    case LintFinding::kWeakSignatureAlgorithm:
      return "weak_signature_algorithm";
    case LintFinding::kSerialTooShort:
      return "serial_too_short";
    case LintFinding::kSerialNegative:
      return "serial_negative";
    case LintFinding::kSerialTooLong:
      return "serial_too_long";
    case LintFinding::kUnsupportedKey:
      return "unsupported_key";
    case LintFinding::kEmptySubjectWithoutCriticalSan:
      return "empty_subject_without_critical_san";
    case LintFinding::kNameConstraintViolation:
      return "name_constraint_violation";
    case LintFinding::kEnciphermentOnNonEncryptionKey:
      return "encipherment_on_non_encryption_key";
  }
  return "unknown";
}

Result<LintedTbs> lint(TbsCertificate tbs, const LintRules& rules,
                       std::vector<LintFinding>* findings_out) {
  X509* cert = tbs.get();
  std::vector<LintFinding> findings;

  const SysTime nb = asn1_to_systime(X509_get0_notBefore(cert));
  const SysTime na = asn1_to_systime(X509_get0_notAfter(cert));
  if (na <= nb) findings.push_back(LintFinding::kValidityInverted);
  // The span notAfter - notBefore may equal the maximum, the span the RA issues. (RFC 5280
  // counts both ends, so such a certificate is valid for the maximum plus one second.)
  if (na - nb > rules.max_validity) {
    findings.push_back(LintFinding::kValidityTooLong);
  }

  const bool ca = is_ca(cert);
  if (ca && !rules.expect_ca) findings.push_back(LintFinding::kCaFlagOnLeaf);
  if (!ca && rules.expect_ca) findings.push_back(LintFinding::kMissingCaFlag);
  if (!ca && rules.require_san && !has_san(cert)) findings.push_back(LintFinding::kNoSan);
  if (X509_NAME_entry_count(X509_get_subject_name(cert)) == 0 && !san_is_critical(cert)) {
    findings.push_back(LintFinding::kEmptySubjectWithoutCriticalSan);
  }

  const crypto::KeyInfo key = crypto::describe_key(X509_get0_pubkey(cert));
  if (key.algorithm == crypto::KeyAlgorithm::kUnknown) {
    findings.push_back(LintFinding::kUnsupportedKey);
  }
  const bool rsa =
      key.algorithm == crypto::KeyAlgorithm::kRsa || key.algorithm == crypto::KeyAlgorithm::kRsaPss;
  if (rsa && key.bits < 2048) findings.push_back(LintFinding::kWeakRsaKey);
  if (key.algorithm != crypto::KeyAlgorithm::kRsa &&
      key.algorithm != crypto::KeyAlgorithm::kUnknown && has_encipherment_usage(cert)) {
    findings.push_back(LintFinding::kEnciphermentOnNonEncryptionKey);
  }

  const SerialShape serial = serial_shape(cert);
  if (serial.negative) findings.push_back(LintFinding::kSerialNegative);
  if (serial.octets < kMinSerialOctets) findings.push_back(LintFinding::kSerialTooShort);
  if (serial.octets > kMaxSerialOctets) findings.push_back(LintFinding::kSerialTooLong);

  CW_ASSIGN_OR_RETURN(auto violation, name_constraint_violation(cert, rules.issuers));
  if (violation) findings.push_back(LintFinding::kNameConstraintViolation);

  if (findings_out) *findings_out = findings;
  if (!findings.empty()) {
    std::string msg = "certificate refused by the linter:";
    for (auto f : findings) {
      msg += ' ';
      msg += lint_finding_name(f);
    }
    if (violation) msg += " (" + *violation + ")";
    return fail(ErrorCode::kPolicyRejected, std::move(msg));
  }
  return LintedTbs(std::move(tbs.cert_), tbs.own_public_key_);
}

}  // namespace certward::x509
