#pragma once
// Parsed certificates: a typed, immutable view of one X.509 certificate.
//
// "Parsed" promises well-formed DER and a successfully decoded structure only: nothing about
// validity, trust or policy. Verification (verify.h), linting (lint.h) and policy are separate.
// Certificate is cheap to copy (shared immutable state) and safe to share across threads.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"
#include "crypto/crypto.h"

namespace certward::x509 {

class LintedTbs;

enum class SanType : std::uint8_t { kDns, kIp, kEmail, kUri, kOther };
std::string_view san_type_name(SanType t);  // "dns", "ip", "email", "uri", "other"

struct SubjectAltName {
  SanType type;
  std::string value;  // IPs in canonical text form ("192.0.2.1", "2001:db8::1")
  bool operator==(const SubjectAltName&) const = default;
};

struct BasicConstraints {
  bool ca = false;
  std::optional<int> path_length;
  bool critical = false;
};

struct NameConstraints {
  std::vector<std::string> permitted;  // "DNS:example.com", "IP:10.0.0.0/8", "email:..."
  std::vector<std::string> excluded;
};

struct ExtensionSummary {
  std::string oid;   // dotted
  std::string name;  // OpenSSL short name when known, else the OID
  bool critical = false;
};

// Something a lenient parse (Certificate::from_der_lenient) could not read or found irregular.
// Codes: "duplicate_extension", "malformed_extension", "unknown_critical_extension",
// "unusual_san" (a SAN kind other than DNS, IP, email and URI).
struct ParseOddity {
  std::string code;
  std::string detail;  // the extension's OID or what was wrong
  bool operator==(const ParseOddity&) const = default;
};

struct CertificateInfo {
  int version = 3;      // 1, 2 or 3
  std::string subject;  // RFC 2253 one-line form
  std::string issuer;
  std::string subject_cn;  // first CN, empty if none
  std::string serial_hex;  // lower-case hex of the INTEGER's magnitude, even length
  bool serial_negative = false;
  SysTime not_before{};
  SysTime not_after{};
  std::vector<SubjectAltName> sans;
  crypto::KeyInfo key;
  std::string signature_algorithm;     // OpenSSL long name, e.g. "ecdsa-with-SHA256"
  std::vector<std::string> key_usage;  // "digitalSignature", "keyCertSign", ...
  bool key_usage_critical = false;
  std::vector<std::string> extended_key_usage;  // "serverAuth", ... or dotted OID if unknown
  std::optional<BasicConstraints> basic_constraints;
  std::string subject_key_id;    // hex, empty if absent
  std::string authority_key_id;  // hex, empty if absent
  std::vector<std::string> crl_distribution_points;
  std::vector<std::string> ocsp_urls;
  std::vector<std::string> ca_issuers_urls;
  std::vector<std::string> policies;  // dotted OIDs
  std::optional<NameConstraints> name_constraints;
  std::vector<ExtensionSummary> extensions;  // every extension, in certificate order
  std::string sha256_hex;                    // fingerprint of the DER, lower-case hex
  std::string sha1_hex;
  std::string spki_sha256_hex;  // SHA-256 of the SubjectPublicKeyInfo's DER: names the key
  bool self_issued = false;           // subject == issuer
  std::vector<ParseOddity> oddities;  // only from from_der_lenient; empty when it is regular

  bool is_ca() const { return basic_constraints && basic_constraints->ca; }
};

class Certificate {
 public:
  // An empty placeholder, so that aggregates holding a Certificate can be built field by
  // field; only assignment to it (and empty()) is valid.
  Certificate() = default;
  // Whether this is such a placeholder.
  bool empty() const { return state_ == nullptr; }
  // Errors: kMalformed (not a DER certificate, trailing data, or undecodable extensions).
  static Result<Certificate> from_der(std::span<const std::uint8_t> der);
  // For certificates found in the wild (discovery, import): anything that decodes as an X.509
  // certificate is accepted, and what from_der would refuse (a duplicated, undecodable or
  // unknown critical extension) is left out of the parsed fields and listed in
  // info().oddities. Never use it for what certward signs or trusts.
  // Errors: kMalformed (the bytes are not a certificate at all, or more than one).
  static Result<Certificate> from_der_lenient(std::span<const std::uint8_t> der);
  // Takes ownership of an OpenSSL certificate we built or parsed ourselves.
  static Result<Certificate> from_x509(crypto::X509Ptr cert);

  X509* get() const;  // borrowed; lives as long as any copy of this Certificate
  const Bytes& der() const;
  const CertificateInfo& info() const;
  std::string pem() const;
  // The public key; borrowed like get().
  EVP_PKEY* public_key() const;

 private:
  // sign() keeps the object it signed instead of re-parsing it: see from_signed.
  friend Result<Certificate> sign(LintedTbs, const crypto::Signer&);
  // A certificate x509::sign just signed, described as it is: no i2d/d2i round trip, whose
  // d2i re-decodes the public key (on OpenSSL 3.0 a fresh decoder context per call).
  static Result<Certificate> from_signed(crypto::X509Ptr cert);

  static Result<Certificate> decode(std::span<const std::uint8_t> der, bool lenient);

  struct State;
  explicit Certificate(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
};

// Concatenates PEM blocks ("-----BEGIN CERTIFICATE-----").
std::string to_pem(std::span<const Certificate> certs);

}  // namespace certward::x509
