// Signing and verifying structures encoded by hand (der_internal.h): CRLs and OCSP responses.

#include <openssl/err.h>

#include "x509/der_internal.h"
#include "x509/internal.h"

namespace certward::x509::der {
namespace {

// AlgorithmIdentifier DER for the keys certward generates, as X509_sign writes them: ECDSA
// and Ed25519 without parameters (RFC 5758 3.2, RFC 8410 3), RSA with NULL (RFC 4055 5).
constexpr std::uint8_t kEcdsaSha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr std::uint8_t kEcdsaSha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr std::uint8_t kEcdsaSha512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                         0x48, 0xce, 0x3d, 0x04, 0x03, 0x04};
constexpr std::uint8_t kRsaSha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                       0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
constexpr std::uint8_t kEd25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};

std::optional<std::span<const std::uint8_t>> known_algorithm(const EVP_PKEY* key) {
  const crypto::KeyInfo info = crypto::describe_key(key);
  const EVP_MD* md = crypto::digest_for(key);
  const int md_nid = md ? EVP_MD_get_type(md) : NID_undef;
  switch (info.algorithm) {
    case crypto::KeyAlgorithm::kEcdsa:
      if (md_nid == NID_sha256) return kEcdsaSha256;
      if (md_nid == NID_sha384) return kEcdsaSha384;
      if (md_nid == NID_sha512) return kEcdsaSha512;
      return std::nullopt;
    case crypto::KeyAlgorithm::kRsa:
      if (md_nid == NID_sha256) return kRsaSha256;
      return std::nullopt;
    case crypto::KeyAlgorithm::kEd25519:
      return kEd25519;
    default:
      return std::nullopt;
  }
}

Bytes i2d_algor(const X509_ALGOR* alg) {
  const int n = i2d_X509_ALGOR(alg, nullptr);
  if (n <= 0) return {};
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_X509_ALGOR(alg, &p);
  return out;
}

// Verifies without copying `tbs` when the algorithm is a plain digest-and-sign one without
// parameters (ECDSA, RSA PKCS#1 v1.5, EdDSA) and the key is of its type: OpenSSL's
// ASN1_item_verify would copy a 50 MB TBSCertList twice. nullopt: not such an algorithm,
// left to ASN1_item_verify.
std::optional<Status> verify_directly(std::span<const std::uint8_t> tbs, const X509_ALGOR* alg,
                                      std::span<const std::uint8_t> signature, EVP_PKEY* key) {
  const ASN1_OBJECT* obj = nullptr;
  int param_type = V_ASN1_UNDEF;
  X509_ALGOR_get0(&obj, &param_type, nullptr, alg);
  int md_nid = NID_undef;
  int pkey_nid = NID_undef;
  const int sig_nid = OBJ_obj2nid(obj);
  if (sig_nid == NID_undef || sig_nid == NID_rsassaPss ||
      !OBJ_find_sigid_algs(sig_nid, &md_nid, &pkey_nid) || EVP_PKEY_get_base_id(key) != pkey_nid ||
      (param_type != V_ASN1_UNDEF && param_type != V_ASN1_NULL)) {
    return std::nullopt;
  }
  const EVP_MD* md = md_nid == NID_undef ? nullptr : EVP_get_digestbynid(md_nid);
  if (md_nid != NID_undef && !md) return std::nullopt;
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), tbs.data(), tbs.size()) !=
      1) {
    return fail(ErrorCode::kBadSignature,
                "signature does not verify: " + crypto::openssl_error_string());
  }
  return ok();
}

}  // namespace

Result<SignedParts> split_signed(std::span<const std::uint8_t> der, const char* what) {
  Reader top(der, what);
  CW_ASSIGN_OR_RETURN(const auto content, top.read(kSequence));
  CW_RETURN_IF_ERROR(top.finish());
  Reader r(content, what);
  CW_ASSIGN_OR_RETURN(const Tlv tbs, r.next());
  CW_ASSIGN_OR_RETURN(const Tlv algorithm, r.next());
  if (tbs.tag != kSequence || algorithm.tag != kSequence) return r.error("not a signed structure");
  CW_ASSIGN_OR_RETURN(const auto bits, r.read(kBitString));
  CW_ASSIGN_OR_RETURN(const auto signature, bit_string_octets(bits, what));
  return SignedParts{tbs, algorithm, signature, r};
}

Result<Bytes> signature_algorithm(const crypto::Signer& signer) {
  if (auto known = known_algorithm(signer.public_key())) {
    return Bytes(known->begin(), known->end());
  }
  // Whatever else the key is, the signer knows how it signs (RSA-PSS parameters included):
  // it signs an empty CRL, and the algorithm it wrote there is the one sign_data uses, both
  // going through EVP_DigestSignInit with digest_for(key).
  crypto::X509CrlPtr probe(X509_CRL_new());
  if (!probe) return fail(ErrorCode::kInternal, "out of memory");
  CW_RETURN_IF_ERROR(signer.sign_crl(probe.get()));
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(probe.get(), nullptr, &alg);
  Bytes out = alg ? i2d_algor(alg) : Bytes();
  if (out.empty()) {
    return fail(ErrorCode::kInternal,
                "cannot encode the signature algorithm: " + crypto::openssl_error_string());
  }
  return out;
}

Status sign_into(Writer& w, Bytes& out, std::size_t tbs_begin,
                 std::span<const std::uint8_t> algorithm, const crypto::Signer& signer) {
  CW_ASSIGN_OR_RETURN(const Bytes signature,
                      signer.sign_data(std::span<const std::uint8_t>(out).subspan(tbs_begin)));
  w.raw(algorithm);
  w.header(kBitString, signature.size() + 1);
  out.push_back(0);  // no unused bits
  w.raw(signature);
  return ok();
}

Status verify(std::span<const std::uint8_t> tbs, std::span<const std::uint8_t> algorithm,
              std::span<const std::uint8_t> signature, EVP_PKEY* key) {
  const unsigned char* p = algorithm.data();
  crypto::Handle<X509_ALGOR, X509_ALGOR_free> alg(
      d2i_X509_ALGOR(nullptr, &p, static_cast<long>(algorithm.size())));
  if (!alg || p != algorithm.data() + algorithm.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "undecodable signature algorithm");
  }
  if (auto direct = verify_directly(tbs, alg.get(), signature, key)) return *direct;
  crypto::Handle<ASN1_BIT_STRING, ASN1_BIT_STRING_free> bits(ASN1_BIT_STRING_new());
  // The signed bytes as an ASN.1 ANY of type SEQUENCE, which OpenSSL holds, and re-encodes,
  // as the complete encoding: so ASN1_item_verify checks exactly `tbs`, with the same
  // algorithm dispatch (parameters, RSA-PSS) X509_CRL_verify runs.
  crypto::Handle<ASN1_TYPE, ASN1_TYPE_free> any(ASN1_TYPE_new());
  crypto::Handle<ASN1_STRING, ASN1_STRING_free> data(ASN1_STRING_type_new(V_ASN1_SEQUENCE));
  if (!bits || !any || !data ||
      !ASN1_BIT_STRING_set(bits.get(), const_cast<std::uint8_t*>(signature.data()),
                           static_cast<int>(signature.size())) ||
      !ASN1_STRING_set(data.get(), tbs.data(), static_cast<int>(tbs.size()))) {
    return fail(ErrorCode::kInternal, "out of memory");
  }
  ASN1_TYPE_set(any.get(), V_ASN1_SEQUENCE, data.release());
  const int rc = ASN1_item_verify(ASN1_ITEM_rptr(ASN1_ANY), alg.get(), bits.get(), any.get(), key);
  if (rc != 1) {
    return fail(ErrorCode::kBadSignature,
                "signature does not verify: " + crypto::openssl_error_string());
  }
  return ok();
}

std::string algorithm_name(std::span<const std::uint8_t> algorithm) {
  const unsigned char* p = algorithm.data();
  crypto::Handle<X509_ALGOR, X509_ALGOR_free> alg(
      d2i_X509_ALGOR(nullptr, &p, static_cast<long>(algorithm.size())));
  if (!alg) {
    ERR_clear_error();
    return "unknown";
  }
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg.get());
  const int nid = OBJ_obj2nid(obj);
  return nid != NID_undef ? OBJ_nid2ln(nid) : internal::oid_text(obj);
}

}  // namespace certward::x509::der
