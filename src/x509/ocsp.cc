#include "x509/ocsp.h"

#include <array>

#include "x509/der_internal.h"
#include "x509/internal.h"

namespace certward::x509 {
namespace {

using der::Reader;
using der::Tlv;
using der::Writer;

constexpr std::size_t kMaxSerialOctets = 20;  // RFC 5280 4.1.2.2

struct HashInfo {
  OcspHashAlgorithm hash;
  std::span<const std::uint8_t> oid;
  std::size_t size;
  std::string_view name;
};

constexpr std::array<HashInfo, 4> kHashes = {{
    {OcspHashAlgorithm::kSha1, der::oid::kSha1, 20, "sha1"},
    {OcspHashAlgorithm::kSha256, der::oid::kSha256, 32, "sha256"},
    {OcspHashAlgorithm::kSha384, der::oid::kSha384, 48, "sha384"},
    {OcspHashAlgorithm::kSha512, der::oid::kSha512, 64, "sha512"},
}};

const HashInfo& info_of(OcspHashAlgorithm hash) {
  for (const auto& h : kHashes) {
    if (h.hash == hash) return h;
  }
  CW_CHECK(false && "unknown OCSP hash algorithm");
  return kHashes[0];
}

const EVP_MD* md_of(OcspHashAlgorithm hash) {
  switch (hash) {
    case OcspHashAlgorithm::kSha1:
      return EVP_sha1();
    case OcspHashAlgorithm::kSha256:
      return EVP_sha256();
    case OcspHashAlgorithm::kSha384:
      return EVP_sha384();
    case OcspHashAlgorithm::kSha512:
      return EVP_sha512();
  }
  return EVP_sha1();
}

Bytes digest(OcspHashAlgorithm hash, std::span<const std::uint8_t> data) {
  Bytes out(info_of(hash).size);
  unsigned int len = 0;
  CW_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &len, md_of(hash), nullptr) == 1);
  out.resize(len);
  return out;
}

std::span<const std::uint8_t> public_key_octets(const X509* cert) {
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
  if (!bits) return {};
  return {ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits))};
}

// ---- requests -----------------------------------------------------------------------------

// The CertID, and whether its hash algorithm is one certward knows.
struct ParsedCertId {
  OcspCertId id;
  bool supported_hash = true;
};

Result<ParsedCertId> parse_cert_id(std::span<const std::uint8_t> content) {
  constexpr const char* kWhat = "OCSP CertID";
  Reader r(content, kWhat);
  ParsedCertId out;
  CW_ASSIGN_OR_RETURN(const auto algorithm, r.read(der::kSequence));
  Reader a(algorithm, kWhat);
  CW_ASSIGN_OR_RETURN(const auto oid, a.read(der::kOid));
  out.id.hash_parameters_null = false;
  if (!a.empty()) {
    CW_ASSIGN_OR_RETURN(const Tlv params, a.next());
    if (params.tag != der::kNull || !params.content.empty()) {
      return a.error("hash algorithm with parameters");
    }
    out.id.hash_parameters_null = true;
  }
  CW_RETURN_IF_ERROR(a.finish());
  CW_ASSIGN_OR_RETURN(const auto name_hash, r.read(der::kOctetString));
  CW_ASSIGN_OR_RETURN(const auto key_hash, r.read(der::kOctetString));
  CW_ASSIGN_OR_RETURN(const auto serial_content, r.read(der::kInteger));
  CW_RETURN_IF_ERROR(r.finish());
  CW_ASSIGN_OR_RETURN(const auto serial, der::nonnegative_integer(serial_content, "OCSP serial"));
  if (serial.size() > kMaxSerialOctets) {
    return fail(ErrorCode::kInvalidArgument, "OCSP CertID serial longer than 20 octets");
  }
  const HashInfo* hash = nullptr;
  for (const auto& h : kHashes) {
    if (der::is_oid(oid, h.oid)) hash = &h;
  }
  if (!hash) {
    out.supported_hash = false;
  } else {
    if (name_hash.size() != hash->size || key_hash.size() != hash->size) {
      return r.error("hash length is not the algorithm's");
    }
    out.id.hash = hash->hash;
  }
  out.id.issuer_name_hash.assign(name_hash.begin(), name_hash.end());
  out.id.issuer_key_hash.assign(key_hash.begin(), key_hash.end());
  out.id.serial.assign(serial.begin(), serial.end());
  return out;
}

// Extensions of the request or of one CertID ([n] EXPLICIT Extensions). Only the request's
// may carry the nonce.
Status parse_extensions(std::span<const std::uint8_t> explicit_content, const OcspLimits& limits,
                        OcspRequest* nonce_holder) {
  constexpr const char* kWhat = "OCSP request extension";
  Reader outer(explicit_content, kWhat);
  CW_ASSIGN_OR_RETURN(const auto list, outer.read(der::kSequence));
  CW_RETURN_IF_ERROR(outer.finish());
  Reader exts(list, kWhat);
  if (exts.empty()) return exts.error("empty extension list");
  while (!exts.empty()) {
    CW_ASSIGN_OR_RETURN(const der::Extension e, der::read_extension(exts, kWhat));
    if (nonce_holder && der::is_oid(e.oid, der::oid::kOcspNonce)) {
      if (nonce_holder->nonce) return exts.error("two nonces");
      // RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)), DER-encoded in the extnValue.
      Reader v(e.value, "OCSP nonce");
      CW_ASSIGN_OR_RETURN(const auto nonce, v.read(der::kOctetString));
      CW_RETURN_IF_ERROR(v.finish());
      if (nonce.empty() || nonce.size() > limits.max_nonce_size) {
        return fail(ErrorCode::kInvalidArgument,
                    "OCSP nonce of " + std::to_string(nonce.size()) + " octets (1 to " +
                        std::to_string(limits.max_nonce_size) + " accepted)");
      }
      nonce_holder->nonce = Bytes(nonce.begin(), nonce.end());
    } else if (e.critical) {
      return fail(ErrorCode::kInvalidArgument, "unsupported critical OCSP request extension");
    }
  }
  return ok();
}

// ---- responses ----------------------------------------------------------------------------

void write_cert_id(Writer& w, const OcspCertId& id) {
  const std::size_t seq = w.begin(der::kSequence);
  const std::size_t alg = w.begin(der::kSequence);
  w.oid(info_of(id.hash).oid);
  if (id.hash_parameters_null) w.null();
  w.end(alg);
  w.tlv(der::kOctetString, id.issuer_name_hash);
  w.tlv(der::kOctetString, id.issuer_key_hash);
  w.integer(id.serial);
  w.end(seq);
}

void write_single(Writer& w, const OcspSingleResponse& r) {
  const std::size_t seq = w.begin(der::kSequence);
  write_cert_id(w, r.cert_id);
  switch (r.status) {
    case OcspCertStatus::kGood:
      w.header(der::context_primitive(0), 0);  // good [0] IMPLICIT NULL
      break;
    case OcspCertStatus::kRevoked: {
      const std::size_t revoked = w.begin(der::context(1));  // [1] IMPLICIT RevokedInfo
      w.generalized_time(r.revocation_time);
      if (r.revocation_reason && *r.revocation_reason != CrlReason::kUnspecified) {
        const std::size_t reason = w.begin(der::context(0));  // [0] EXPLICIT CRLReason
        w.enumerated(static_cast<std::uint8_t>(*r.revocation_reason));
        w.end(reason);
      }
      w.end(revoked);
      break;
    }
    case OcspCertStatus::kUnknown:
      w.header(der::context_primitive(2), 0);  // unknown [2] IMPLICIT NULL
      break;
  }
  w.generalized_time(r.this_update);
  if (r.next_update) {
    const std::size_t next = w.begin(der::context(0));
    w.generalized_time(*r.next_update);
    w.end(next);
  }
  w.end(seq);
}

void write_nonce_extension(Writer& w, const Bytes& nonce) {
  const std::size_t explicit1 = w.begin(der::context(1));
  const std::size_t exts = w.begin(der::kSequence);
  const std::size_t ext = w.begin(der::kSequence);
  w.oid(der::oid::kOcspNonce);
  const std::size_t value = w.begin(der::kOctetString);
  w.tlv(der::kOctetString, nonce);
  w.end(value);
  w.end(ext);
  w.end(exts);
  w.end(explicit1);
}

Status check_time(SysTime t) {
  if (!der::time_in_range(t)) {
    return fail(ErrorCode::kInvalidArgument, "an OCSP time is outside 0000-9999");
  }
  return ok();
}

Status check_template(const OcspResponseTemplate& t, const crypto::Signer& signer) {
  if (t.responder.empty()) return fail(ErrorCode::kInvalidArgument, "no responder certificate");
  if (!crypto::same_public_key(signer.public_key(), t.responder.public_key())) {
    return fail(ErrorCode::kInvalidArgument, "the signer's key is not the responder's");
  }
  if (t.responses.empty()) return fail(ErrorCode::kInvalidArgument, "no responses");
  if (t.nonce && t.nonce->empty()) return fail(ErrorCode::kInvalidArgument, "empty nonce");
  CW_RETURN_IF_ERROR(check_time(t.produced_at));
  for (const OcspSingleResponse& r : t.responses) {
    const std::size_t size = info_of(r.cert_id.hash).size;
    if (r.cert_id.issuer_name_hash.size() != size || r.cert_id.issuer_key_hash.size() != size) {
      return fail(ErrorCode::kInvalidArgument, "CertID hash length is not its algorithm's");
    }
    if (der::strip_leading_zeros(r.cert_id.serial).size() > kMaxSerialOctets) {
      return fail(ErrorCode::kInvalidArgument, "CertID serial longer than 20 octets");
    }
    CW_RETURN_IF_ERROR(check_time(r.this_update));
    if (r.next_update) CW_RETURN_IF_ERROR(check_time(*r.next_update));
    if (r.status == OcspCertStatus::kRevoked) {
      CW_RETURN_IF_ERROR(check_time(r.revocation_time));
      if (r.revocation_reason && !crl_reason_from_code(static_cast<int>(*r.revocation_reason))) {
        return fail(ErrorCode::kInvalidArgument, "unknown revocation reason");
      }
    }
  }
  return ok();
}

}  // namespace

std::string_view ocsp_hash_name(OcspHashAlgorithm hash) { return info_of(hash).name; }

std::string OcspCertId::serial_hex() const {
  const auto magnitude = der::strip_leading_zeros(serial);
  return magnitude.empty() ? std::string("00") : to_hex(magnitude);
}

Result<OcspRequest> parse_ocsp_request(std::span<const std::uint8_t> der,
                                       const OcspLimits& limits) {
  constexpr const char* kWhat = "OCSP request";
  Reader top(der, kWhat);
  CW_ASSIGN_OR_RETURN(const auto request, top.read(der::kSequence));
  CW_RETURN_IF_ERROR(top.finish());
  OcspRequest out;
  Reader r(request, kWhat);
  CW_ASSIGN_OR_RETURN(const auto tbs, r.read(der::kSequence));
  CW_ASSIGN_OR_RETURN(const auto signature, r.optional(der::context(0)));
  CW_RETURN_IF_ERROR(r.finish());
  if (signature) {
    // Signature ::= SEQUENCE {...}: checked to be one element, not verified (see OcspRequest).
    Reader s(*signature, "OCSP request signature");
    CW_RETURN_IF_ERROR(s.read(der::kSequence));
    CW_RETURN_IF_ERROR(s.finish());
    out.signed_request = true;
  }

  Reader t(tbs, "OCSP TBSRequest");
  CW_ASSIGN_OR_RETURN(const auto version, t.optional(der::context(0)));
  if (version) {
    Reader v(*version, "OCSP request version");
    CW_ASSIGN_OR_RETURN(const auto number, v.read(der::kInteger));
    CW_RETURN_IF_ERROR(v.finish());
    if (number.size() != 1 || number[0] != 0) return v.error("unsupported version");
  }
  CW_RETURN_IF_ERROR(t.optional(der::context(1)));  // requestorName: ignored (RFC 5019 2.1.2)
  CW_ASSIGN_OR_RETURN(const auto list, t.read(der::kSequence));
  CW_ASSIGN_OR_RETURN(const auto extensions, t.optional(der::context(2)));
  CW_RETURN_IF_ERROR(t.finish());
  if (extensions) CW_RETURN_IF_ERROR(parse_extensions(*extensions, limits, &out));

  Reader requests(list, "OCSP request list");
  if (requests.empty()) return requests.error("no CertID");
  bool unsupported_hash = false;
  while (!requests.empty()) {
    // Refused before reading any further: a request of thousands of CertIDs costs no more
    // than max_requests + 1 of them.
    if (out.cert_ids.size() == limits.max_requests) {
      return fail(ErrorCode::kInvalidArgument, "more than " + std::to_string(limits.max_requests) +
                                                   " CertIDs in one OCSP request");
    }
    CW_ASSIGN_OR_RETURN(const auto one, requests.read(der::kSequence));
    Reader q(one, "OCSP Request");
    CW_ASSIGN_OR_RETURN(const auto cert_id, q.read(der::kSequence));
    CW_ASSIGN_OR_RETURN(const auto single_extensions, q.optional(der::context(0)));
    CW_RETURN_IF_ERROR(q.finish());
    if (single_extensions) {
      CW_RETURN_IF_ERROR(parse_extensions(*single_extensions, limits, nullptr));
    }
    CW_ASSIGN_OR_RETURN(ParsedCertId parsed, parse_cert_id(cert_id));
    unsupported_hash = unsupported_hash || !parsed.supported_hash;
    out.cert_ids.push_back(std::move(parsed.id));
  }
  if (unsupported_hash) {
    return fail(ErrorCode::kPolicyRejected,
                "OCSP CertID hash algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512");
  }
  return out;
}

OcspResponseStatus ocsp_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed:
    case ErrorCode::kInvalidArgument:
      return OcspResponseStatus::kMalformedRequest;
    case ErrorCode::kPolicyRejected:
      return OcspResponseStatus::kUnauthorized;
    default:
      return OcspResponseStatus::kInternalError;
  }
}

Bytes ocsp_error_response(OcspResponseStatus status) {
  CW_CHECK(status != OcspResponseStatus::kSuccessful);
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }
  return {0x30, 0x03, 0x0a, 0x01, static_cast<std::uint8_t>(status)};
}

OcspIssuerHashes ocsp_issuer_hashes(const Certificate& issuer, OcspHashAlgorithm hash) {
  OcspIssuerHashes out;
  out.hash = hash;
  const X509_NAME* subject = X509_get_subject_name(issuer.get());
  const unsigned char* name = nullptr;
  std::size_t name_size = 0;
  CW_CHECK(X509_NAME_get0_der(subject, &name, &name_size) == 1);
  out.name_hash = digest(hash, {name, name_size});
  out.key_hash = digest(hash, public_key_octets(issuer.get()));
  return out;
}

OcspCertId ocsp_cert_id(const OcspIssuerHashes& issuer, std::span<const std::uint8_t> serial) {
  OcspCertId id;
  id.hash = issuer.hash;
  id.hash_parameters_null = true;
  id.issuer_name_hash = issuer.name_hash;
  id.issuer_key_hash = issuer.key_hash;
  const auto magnitude = der::strip_leading_zeros(serial);
  id.serial.assign(magnitude.begin(), magnitude.end());
  return id;
}

Result<Bytes> build_ocsp_response(const OcspResponseTemplate& t, const crypto::Signer& signer) {
  CW_RETURN_IF_ERROR(check_template(t, signer));
  CW_ASSIGN_OR_RETURN(const Bytes algorithm, der::signature_algorithm(signer));
  const Bytes key_hash = crypto::sha1(public_key_octets(t.responder.get()));

  Bytes out;
  out.reserve(512 + 160 * t.responses.size() +
              (t.include_responder ? t.responder.der().size() : 0));
  Writer w(out);
  const std::size_t response = w.begin(der::kSequence);
  w.enumerated(static_cast<std::uint8_t>(OcspResponseStatus::kSuccessful));
  const std::size_t explicit0 = w.begin(der::context(0));
  const std::size_t bytes = w.begin(der::kSequence);  // ResponseBytes
  w.oid(der::oid::kOcspBasic);
  const std::size_t octets = w.begin(der::kOctetString);
  const std::size_t basic = w.begin(der::kSequence);  // BasicOCSPResponse

  const std::size_t tbs = w.begin(der::kSequence);            // ResponseData, version v1 left out
  const std::size_t responder_id = w.begin(der::context(2));  // byKey [2] EXPLICIT KeyHash
  w.tlv(der::kOctetString, key_hash);
  w.end(responder_id);
  w.generalized_time(t.produced_at);
  const std::size_t list = w.begin(der::kSequence);
  for (const OcspSingleResponse& r : t.responses) write_single(w, r);
  w.end(list);
  if (t.nonce) write_nonce_extension(w, *t.nonce);
  w.end(tbs);
  CW_RETURN_IF_ERROR(der::sign_into(w, out, tbs, algorithm, signer));
  if (t.include_responder) {
    const std::size_t certs = w.begin(der::context(0));
    const std::size_t seq = w.begin(der::kSequence);
    w.raw(t.responder.der());
    w.end(seq);
    w.end(certs);
  }

  w.end(basic);
  w.end(octets);
  w.end(bytes);
  w.end(explicit0);
  w.end(response);
  return out;
}

}  // namespace certward::x509
