#pragma once
// EST (RFC 7030, with the clarifications of RFC 8951) message encoding: what travels in the
// bodies of /.well-known/est. The protocol itself is in src/protocols/est/.

#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"
#include "x509/csr.h"

namespace certward::x509::est {

// The most a base64 body may hold: a CSR with a 16384-bit RSA key and extensions fits.
inline constexpr std::size_t kMaxBody = 64 * 1024;

// A request body: base64 of DER (RFC 8951: with or without line breaks; any
// Content-Transfer-Encoding header is ignored). Errors: kMalformed (not base64, empty, too
// large).
Result<Bytes> decode_base64_body(std::string_view body);
// Answers are base64 in lines of 64 characters ended by LF, which every EST client and
// `base64 -d` decode (CR LF would trip the latter).
std::string encode_base64_body(std::span<const std::uint8_t> der);

// A request body holding one PKCS#10 request, decoded and its signature verified.
// Errors: kMalformed, kBadSignature.
Result<Csr> parse_csr_body(std::string_view body);

// The CsrAttrs (RFC 7030 4.5.2) that tell a client what to put in its request for a profile
// whose keys are `allowed`: the key algorithm (with the curve for EC) and signature
// algorithm of the first allowed key type. DER.
Bytes make_csr_attrs(std::span<const crypto::KeyType> allowed);

// How the CSR asks for its key to be encrypted: with a key shared beforehand (symmetric, RFC
// 7030 4.4.1.1), or to one of the client's own keys, named by `key_id` (asymmetric, 4.4.1.2).
struct DecryptKeyRequest {
  bool symmetric = false;
  Bytes key_id;
};
// nullopt: neither attribute. Errors: kMalformed (an attribute that is not one OCTET STRING).
Result<std::optional<DecryptKeyRequest>> decrypt_key_request(const Csr& csr);

// Whether `cert` is the key `key_id` names: its subjectKeyIdentifier, or the SHA-1 of its
// public key (the identifier RFC 5280 4.2.1.2 method 1 derives).
bool names_key(const Certificate& cert, std::span<const std::uint8_t> key_id);

// Whether a key can be enveloped to `cert` (key transport to RSA, key agreement with EC): an
// Ed25519 or RSA-PSS key cannot receive one. Asked before anything is issued.
bool can_encrypt_to(const Certificate& cert);

// The encrypted private key of a /serverkeygen answer (RFC 7030 4.4.2): the key (PKCS#8, a
// OneAsymmetricKey) in an AsymmetricKeyPackage (RFC 5958), signed by `signer` (SignedData,
// eContentType id-ct-KP-aKeyPackage, carrying `signer_chain` to verify it with) and enveloped
// to `recipient` with AES-256-CBC. DER.
Result<Bytes> make_encrypted_key(std::span<const std::uint8_t> pkcs8_der, const Certificate& signer,
                                 const crypto::PrivateKey& signer_key,
                                 std::span<const Certificate> signer_chain,
                                 const Certificate& recipient);

// The body of a /serverkeygen answer (RFC 7030 4.4.2): multipart/mixed with the private key
// and the certificate (base64 certs-only PKCS#7), between `boundary` lines. The key is base64
// PKCS#8 (application/pkcs8), or, `encrypted`, base64 of make_encrypted_key's CMS
// (application/pkcs7-mime; smime-type=server-generated-key). Returns the body; the
// Content-Type is multipart/mixed; boundary=...
std::string make_serverkeygen_body(std::span<const std::uint8_t> key_der,
                                   std::span<const std::uint8_t> pkcs7_der,
                                   std::string_view boundary, bool encrypted = false);

}  // namespace certward::x509::est
