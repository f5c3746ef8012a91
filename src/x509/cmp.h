#pragma once
// CMP (RFC 4210, the lightweight profile of RFC 9483) message decoding beyond what OpenSSL 3.0
// offers getters for. OpenSSL's OSSL_CMP_SRV_CTX checks protection, proof of possession and
// the transaction's sequence; what it does not expose — the header's senderKID, protection
// algorithm and PBM iteration count, messageTime and senderNonce, a CertTemplate's public key,
// an rr's reason code, a PKIStatusInfo's status, the extraCerts a client sent — is read here
// from the DER, so that the protocol (src/protocols/cmp/) can pick the MAC secret before
// validation, bound the work an attacker can ask for, and know who signed.

#include <openssl/cmp.h>
#include <openssl/crmf.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

namespace certward::x509::cmp {

// The largest PKIMessage accepted: a request with an RSA-16384 key, its signer and chain fits.
inline constexpr std::size_t kMaxMessage = 64 * 1024;

// PKIBody choices (RFC 4210 5.1.2); OpenSSL 3.0 keeps its constants internal.
enum class Body : int {
  kIr = 0,
  kIp = 1,
  kCr = 2,
  kCp = 3,
  kP10cr = 4,
  kKur = 7,
  kKup = 8,
  kRr = 11,
  kRp = 12,
  kPkiConf = 19,
  kGenm = 21,
  kGenp = 22,
  kError = 23,
  kCertConf = 24,
  kPollReq = 25,
  kPollRep = 26,
};

// id-PasswordBasedMac (RFC 4210 5.1.3.1).
inline constexpr std::string_view kPasswordBasedMac = "1.2.840.113533.7.66.13";
// id-PBMAC1 (RFC 8018 A.5; for CMP, RFC 9481 6.1.1).
inline constexpr std::string_view kPbmac1 = "1.2.840.113549.1.5.14";

// PBMAC1's parameters: PBKDF2 (salt, iterations, key length, its HMAC) and the MAC's HMAC.
// Only HMAC with SHA-256, SHA-384 or SHA-512 is read; SHA-1 is refused.
struct Pbmac1 {
  Bytes salt;
  long iterations = 0;
  std::size_t key_length = 0;
  const EVP_MD* prf = nullptr;
  const EVP_MD* mac = nullptr;
};

struct Header {
  Bytes sender_kid;
  Bytes transaction_id;
  Bytes sender_nonce;
  Bytes recip_nonce;
  std::string protection;              // dotted OID; empty: unprotected
  std::optional<long> pbm_iterations;  // PasswordBasedMac's or PBMAC1's iteration count
  std::optional<Pbmac1> pbmac1;        // protection kPbmac1: its parameters
  std::optional<SysTime> message_time;
};

using MessagePtr = crypto::Handle<OSSL_CMP_MSG, OSSL_CMP_MSG_free>;

// A PKIMessage, DER, nothing trailing. Errors: kMalformed.
Result<MessagePtr> parse_message(std::span<const std::uint8_t> der);
Result<Bytes> to_der(const OSSL_CMP_MSG* msg);
Body body_type(const OSSL_CMP_MSG* msg);

// The header's fields OpenSSL 3.0 has no getter for. Errors: kMalformed (PBMAC1 parameters
// that cannot be read or use another hash than SHA-256/384/512 included).
Result<Header> read_header(const OSSL_CMP_MSG* msg);

// Shared-secret protection OpenSSL 3.0 does not know (PBMAC1) is checked and made here; the
// message is handed to OpenSSL re-protected with PasswordBasedMac under the same secret, and
// its answer re-protected with PBMAC1. DER in and out.
//
// Whether `der`'s protection is PBMAC1 with `p`, verifying with `secret`.
bool pbmac1_verifies(std::span<const std::uint8_t> der, const Pbmac1& p,
                     std::span<const std::uint8_t> secret);
// The message protected anew under `secret`: with PBMAC1 and `p` (its salt replaced by a fresh
// one), or with PasswordBasedMac (SHA-256, HMAC-SHA256, a fresh salt, `iterations` within
// 100..10,000). Errors: kMalformed (not a PKIMessage), kInternal.
Result<Bytes> protect_pbmac1(std::span<const std::uint8_t> der, const Pbmac1& p,
                             std::span<const std::uint8_t> secret);
Result<Bytes> protect_pbm(std::span<const std::uint8_t> der, std::span<const std::uint8_t> secret,
                          long iterations);
// The certificates of the message's extraCerts, in order (those that parse).
std::vector<Certificate> extra_certs(const OSSL_CMP_MSG* msg);
// The public key of a CRMF request's CertTemplate; null when it has none.
crypto::EvpPkeyPtr template_public_key(const OSSL_CRMF_MSG* crm);
// What a CRMF request's CertTemplate names: its subject (RFC 2253 one-line form, and its first
// common name) and the subject alternative names of its extensions.
struct TemplateNames {
  std::string subject;
  std::string common_name;
  std::vector<SubjectAltName> sans;
};
// Errors: kMalformed (an extension that does not decode).
Result<TemplateNames> template_names(const OSSL_CRMF_MSG* crm);
// The CRLReason of the first RevDetails of an rr (RFC 5280 5.3.1); nullopt when absent.
std::optional<int> revocation_reason(const OSSL_CMP_MSG* msg);
// A PKIStatusInfo's status (0 accepted, 1 grantedWithMods, 2 rejection, ...); nullopt when
// it cannot be read.
std::optional<int> status_of(const OSSL_CMP_PKISI* si);
// The InfoTypeAndValue answering id-it-caCerts (RFC 9483 4.3.1): the certificates, in order.
// The caller owns the result. Null on failure.
OSSL_CMP_ITAV* ca_certs_itav(std::span<const Certificate> certs);

// The InfoTypeAndValue answering id-it-certReqTemplate (RFC 9483 4.3.3): a CertTemplate with
// the subject to ask for (when one is known) and the key to make (keySpec: the algorithm and
// curve, or the RSA modulus length). The caller owns the result. Null on failure.
OSSL_CMP_ITAV* cert_req_template_itav(const std::optional<std::string>& common_name,
                                      crypto::KeyType key);
// Whether an asked InfoTypeAndValue is id-it-certReqTemplate.
bool asks_cert_req_template(const OSSL_CMP_ITAV* itav);

}  // namespace certward::x509::cmp
