#pragma once
// OCSP (RFC 6960) in the lightweight profile of RFC 5019: reading requests, matching their
// CertIDs to issuers, and writing signed responses and the fixed error responses.
//
// parse_ocsp_request() reads hostile bytes on a responder's hot path, so it is a strict DER
// reader with limits, linear in its input: it stops at the first CertID beyond
// OcspLimits::max_requests instead of reading the rest. build_ocsp_response() writes the
// BasicOCSPResponse itself and signs it with one Signer::sign_data; callers that pre-sign
// and cache responses keep the DER (see "Caching" below).
//
// Every function is thread-safe.
//
// What a responder answers (the front-end's part, stated here so every front-end agrees):
// - parse_ocsp_request fails with kMalformed or kInvalidArgument: malformedRequest.
// - it fails with kPolicyRejected (a CertID hashed with an algorithm other than SHA-1,
//   SHA-256, SHA-384 or SHA-512): unauthorized. Such a CertID cannot name any issuer the
//   responder knows, which is what RFC 5019 2.2.3 answers with unauthorized; RFC 6960 has no
//   code for it (OpenSSL's responder says internalError, Go's malformedRequest).
// - a CertID whose issuer hashes match no issuer served: unauthorized (RFC 5019 2.2.3).
// - a CertID of a served issuer with a serial never issued: a signed "unknown".
// ocsp_status_for() maps the parse errors; ocsp_error_response() makes those answers.
//
// Caching: a response pre-signed for (issuer, serial) answers a request whose one CertID is
// that issuer's SHA-1 CertID (ocsp_cert_id) for that serial, with NULL hash parameters, and
// which carries no nonce. Any other request (a nonce, SHA-256 CertIDs, several CertIDs) needs
// a response built for it, one signature; RFC 5019 2.2.1 and RFC 8954 allow answering a
// nonce request without the nonce instead, which is the front-end's choice.

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
#include "x509/crl.h"

namespace certward::x509 {

// The hash of a CertID's issuerNameHash and issuerKeyHash. RFC 5019 clients use SHA-1 (its
// successor, SHA-256).
enum class OcspHashAlgorithm : std::uint8_t { kSha1, kSha256, kSha384, kSha512 };
std::string_view ocsp_hash_name(OcspHashAlgorithm hash);  // "sha1", "sha256", ...

// One certificate named as OCSP names it (RFC 6960 4.1.1).
struct OcspCertId {
  OcspHashAlgorithm hash = OcspHashAlgorithm::kSha1;
  // Whether the hash AlgorithmIdentifier has NULL parameters (as OpenSSL, Go and most
  // clients send it) or none: a response echoes the request's form.
  bool hash_parameters_null = true;
  Bytes issuer_name_hash;  // hash of the issuer's DER subject name
  Bytes issuer_key_hash;   // hash of the issuer's subjectPublicKey BIT STRING octets
  Bytes serial;            // big-endian magnitude without leading zeros; at most 20 octets

  // As CertificateInfo::serial_hex: lower-case, "00" for zero.
  std::string serial_hex() const;
  bool operator==(const OcspCertId&) const = default;
};

struct OcspLimits {
  // CertIDs in one request. RFC 5019 clients send one; `openssl ocsp` sends one per -serial.
  std::size_t max_requests = 50;
  // RFC 8954 2.1: a nonce is 1 to 32 octets. A longer one is refused (the RFC requires
  // refusing only beyond 128 octets and allows answering 33-128 without the nonce).
  std::size_t max_nonce_size = 32;
};

struct OcspRequest {
  std::vector<OcspCertId> cert_ids;  // in request order; at least one
  std::optional<Bytes> nonce;        // the nonce's octets (RFC 8954), to echo
  // The request carried an optionalSignature. It is not verified: RFC 5019 2.1.2 lets a
  // responder ignore it, and certward's status answers are public.
  bool signed_request = false;
};

// Parses a DER OCSPRequest. Accepts the version only as v1, any requestorName, an ignored
// signature, non-critical extensions it does not know (ignored) and the nonce.
// Errors:
//   kMalformed: not DER (truncated, trailing data, BER lengths), not an OCSPRequest, no
//     CertID, a hash length that is not its algorithm's, a negative serial, a nonce that is not
//     an OCTET STRING, an extension twice.
//   kInvalidArgument: more than limits.max_requests CertIDs (refused on reaching the first one
//     too many), a nonce empty or longer than limits.max_nonce_size, a serial longer than 20
//     octets, a critical extension other than the nonce.
//   kPolicyRejected: well-formed, but a CertID's hash algorithm is not one of
//     OcspHashAlgorithm (decided after the whole request parsed: malformed input wins).
Result<OcspRequest> parse_ocsp_request(std::span<const std::uint8_t> der,
                                       const OcspLimits& limits = {});

// RFC 6960 4.2.1 OCSPResponseStatus.
enum class OcspResponseStatus : std::uint8_t {
  kSuccessful = 0,
  kMalformedRequest = 1,
  kInternalError = 2,
  kTryLater = 3,
  kSigRequired = 5,
  kUnauthorized = 6,
};

// The answer to a failed parse_ocsp_request: kMalformed and kInvalidArgument give
// malformedRequest, kPolicyRejected unauthorized, anything else internalError.
OcspResponseStatus ocsp_status_for(ErrorCode code);

// An unsigned OCSPResponse carrying only an error status (RFC 6960 4.2.1: no responseBytes):
// five fixed octets. REQUIRES status != kSuccessful.
Bytes ocsp_error_response(OcspResponseStatus status);

// What CertIDs for certificates of one issuer carry, for one hash algorithm: compute once per
// issuer and algorithm, then compare.
struct OcspIssuerHashes {
  OcspHashAlgorithm hash = OcspHashAlgorithm::kSha1;
  Bytes name_hash;  // of the issuer's DER subject name
  Bytes key_hash;   // of its subjectPublicKey BIT STRING octets (no tag, length, unused bits)

  // Whether `id` names a certificate of this issuer (any serial).
  bool matches(const OcspCertId& id) const {
    return id.hash == hash && id.issuer_name_hash == name_hash && id.issuer_key_hash == key_hash;
  }
};
OcspIssuerHashes ocsp_issuer_hashes(const Certificate& issuer, OcspHashAlgorithm hash);

// The CertID of certificate `serial` (big-endian magnitude) under `issuer`, with NULL hash
// parameters as clients send it: what a pre-signed response is built for.
OcspCertId ocsp_cert_id(const OcspIssuerHashes& issuer, std::span<const std::uint8_t> serial);

enum class OcspCertStatus : std::uint8_t { kGood, kRevoked, kUnknown };

// One SingleResponse (RFC 6960 4.2.1).
struct OcspSingleResponse {
  OcspCertId cert_id;  // the request's CertID, echoed
  OcspCertStatus status = OcspCertStatus::kGood;
  SysTime revocation_time{};                   // kRevoked only
  std::optional<CrlReason> revocation_reason;  // kRevoked only; kUnspecified is left out
  SysTime this_update{};
  // RFC 5019 2.2.4 requires it, so relying parties and caches know how long it holds.
  std::optional<SysTime> next_update;
};

struct OcspResponseTemplate {
  // The certificate whose key signs: the issuing CA itself, or a responder certificate it
  // delegated to (id-kp-OCSPSigning, RFC 6960 4.2.2.2). The ResponderID is its key hash
  // (byKey, RFC 5019 2.2.2); the signer must hold its key.
  Certificate responder;
  // Send `responder` in the response's certs. A delegated responder must (RFC 6960 4.2.2.2).
  // When the CA signs, RFC 6960 leaves it optional, but OpenSSL's client (`openssl ocsp
  // -CAfile`, OCSP_basic_verify) looks for the signer only among the response's certs and
  // those it is given, and fails with "signer certificate not found" without it; leave it
  // off only for clients that know the CA certificate (browsers), to save its size per
  // response.
  bool include_responder = true;
  SysTime produced_at{};
  std::vector<OcspSingleResponse> responses;  // in request order; at least one
  std::optional<Bytes> nonce;                 // OcspRequest::nonce, echoed
};

// Builds and signs a successful OCSPResponse with a BasicOCSPResponse (RFC 6960 4.2.1,
// RFC 5019 2.2): v1, ResponderID byKey, GeneralizedTime throughout, the nonce extension when
// given. The signature algorithm is the signer's, as for CRLs (x509/crl.h).
// Errors: kInvalidArgument (the signer's key is not the responder's, no responses, a CertID
// whose hash length is not its algorithm's or whose serial is longer than 20 octets, an empty
// nonce, a time outside 0000-9999, an unknown reason), kInternal (the signer failed).
Result<Bytes> build_ocsp_response(const OcspResponseTemplate& tmpl, const crypto::Signer& signer);

}  // namespace certward::x509
