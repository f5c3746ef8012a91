#pragma once
// PKCS#10 certificate signing requests.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "x509/certificate.h"

namespace certward::x509 {

class Csr;
namespace internal {
// parse_csr with every request decoded by d2i_X509_REQ, the path parse_csr takes for all but
// named-curve EC requests: what tests and the csr fuzz target compare parse_csr against.
Result<Csr> parse_csr_with_openssl(std::span<const std::uint8_t> data);
}  // namespace internal

struct CsrInfo {
  std::string subject;  // RFC 2253 one-line form
  std::string subject_cn;
  std::vector<SubjectAltName> sans;  // from the extensionRequest attribute
  crypto::KeyInfo key;
  std::string signature_algorithm;
  std::vector<ExtensionSummary> requested_extensions;
  std::optional<std::string> challenge_password;  // never logged
  std::vector<std::string> key_usage;
  std::vector<std::string> extended_key_usage;
  bool requests_ca = false;  // basicConstraints CA:TRUE was requested
};

// A parsed CSR whose self-signature has been verified (proof of possession).
// Cheap to copy, immutable, thread-safe.
class Csr {
 public:
  X509_REQ* get() const;
  EVP_PKEY* public_key() const;  // borrowed
  const CsrInfo& info() const;
  const Bytes& der() const;

 private:
  friend Result<Csr> parse_csr(std::span<const std::uint8_t>);
  friend Result<Csr> internal::parse_csr_with_openssl(std::span<const std::uint8_t>);
  struct State;
  explicit Csr(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
};

// Parses one PKCS#10 request (PEM "CERTIFICATE REQUEST"/"NEW CERTIFICATE REQUEST", or DER)
// and verifies its self-signature. Does not apply profile or key policy; ca::Enrollment does.
// Errors: kMalformed (bad encoding, undecodable extensions), kBadSignature (no proof of
// possession).
[[nodiscard]] Result<Csr> parse_csr(std::span<const std::uint8_t> data);

// Makes a CSR (used by the CA for its own intermediates and by tests). Signed by `key`.
Result<Bytes> make_csr_der(const crypto::PrivateKey& key, std::string_view subject,
                           std::span<const SubjectAltName> sans);

}  // namespace certward::x509
