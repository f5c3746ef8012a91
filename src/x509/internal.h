#pragma once
// Private helpers shared by the x509 sources. Not part of the module's face: nothing outside
// src/x509 includes this.
//
// OpenSSL's sk_*_value and PEM string macros expand to C casts that -Wold-style-cast rejects,
// so stacks are reached through the typed OPENSSL_sk_* functions wrapped here, once.

#include <openssl/err.h>
#include <openssl/pem.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"

namespace certward::x509::internal {

// A library context with only the "null" provider: DER decoded in it (a certificate, or the
// certificates of a PKCS#7) keeps each SubjectPublicKeyInfo as bytes instead of building an
// EVP_PKEY, nine tenths of a d2i_X509's cost on OpenSSL 3.0 (certificate.cc).
OSSL_LIB_CTX* keyless_context();

// Number of elements in any STACK_OF(T); 0 for a null stack.
template <typename Stack>
int stack_size(const Stack* sk) {
  return sk ? OPENSSL_sk_num(reinterpret_cast<const OPENSSL_STACK*>(sk)) : 0;
}

// Element `i` of a STACK_OF(T), borrowed.
template <typename T, typename Stack>
T* stack_at(const Stack* sk, int i) {
  return static_cast<T*>(OPENSSL_sk_value(reinterpret_cast<const OPENSSL_STACK*>(sk), i));
}

// Appends `value` to a STACK_OF(T); the stack takes whatever ownership its free function implies.
template <typename T, typename Stack>
bool stack_push(Stack* sk, T* value) {
  return OPENSSL_sk_push(reinterpret_cast<OPENSSL_STACK*>(sk), value) > 0;
}

// An empty owning certificate stack (frees its elements).
inline crypto::X509StackPtr new_x509_stack() {
  return crypto::X509StackPtr(reinterpret_cast<STACK_OF(X509)*>(OPENSSL_sk_new_null()));
}

// Appends a reference to `cert` to an owning certificate stack: its count is raised, and
// lowered again when the push fails.
inline bool push_x509(STACK_OF(X509) * sk, X509* cert) {
  if (sk == nullptr || X509_up_ref(cert) != 1) return false;
  if (stack_push(sk, cert)) return true;
  X509_free(cert);
  return false;
}

// A read-only memory BIO over `data`; the bytes must outlive the BIO.
inline crypto::BioPtr mem_bio(std::span<const std::uint8_t> data) {
  return crypto::BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Everything written to a memory BIO so far.
inline std::string bio_string(BIO* bio) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  return n > 0 ? std::string(p, static_cast<std::size_t>(n)) : std::string();
}

// Whether `data` carries PEM armour anywhere (bundles may start with "Bag Attributes" text).
inline bool has_pem_armour(std::span<const std::uint8_t> data) {
  return as_chars(data).find("-----BEGIN ") != std::string_view::npos;
}

// Dotted text of an OID ("2.5.29.17").
std::string oid_text(const ASN1_OBJECT* obj);
// An ASN.1 string converted to UTF-8; empty if it cannot be converted.
std::string asn1_string_utf8(const ASN1_STRING* s);

// One PEM block read from a BIO. `end` means no further block (clean end of input).
struct PemBlock {
  std::string name;
  Bytes der;
};
// Reads the next block. Returns nullopt at a clean end of input.
// Errors: kMalformed (armour or base64 is broken).
Result<std::optional<PemBlock>> read_pem_block(BIO* bio);

// Looks up extension `nid` in `exts` and decodes it. Returns an empty handle if absent;
// `critical` (optional) receives its criticality.
// Errors: kMalformed (present but undecodable, or present more than once).
template <typename T, auto FreeFn>
Result<crypto::Handle<T, FreeFn>> decode_ext(const STACK_OF(X509_EXTENSION) * exts, int nid,
                                             bool* critical = nullptr) {
  int crit = -1;
  void* raw = X509V3_get_d2i(exts, nid, &crit, nullptr);
  crypto::Handle<T, FreeFn> value(static_cast<T*>(raw));
  if (!value && crit != -1) {
    return fail(ErrorCode::kMalformed, std::string(crit == -2 ? "duplicate " : "undecodable ") +
                                           OBJ_nid2sn(nid) + " extension");
  }
  if (critical) *critical = crit == 1;
  return value;
}

// Checks that every extension OpenSSL knows how to decode does decode: a structure we cannot
// read completely is rejected, never half-parsed. Errors: kMalformed.
Status check_extensions_decode(const STACK_OF(X509_EXTENSION) * exts);

// Summaries of every extension, in order.
std::vector<ExtensionSummary> summarize_extensions(const STACK_OF(X509_EXTENSION) * exts);

// RFC 5280 names of the bits set in a keyUsage BIT STRING.
std::vector<std::string> key_usage_names(const ASN1_BIT_STRING* ku);
// RFC names ("serverAuth") or dotted OIDs of an extKeyUsage.
std::vector<std::string> eku_names(const EXTENDED_KEY_USAGE* eku);

// The first CN of a name, empty if none.
std::string first_cn(const X509_NAME* name);

// Sets `cert`'s subject public key to the key in `spki` (already decoded, e.g. a CSR's)
// without OpenSSL 3.0's encoder/decoder round trip, for the key types it handles (named-curve
// EC); the certificate's SubjectPublicKeyInfo is checked to be byte-identical to `spki`.
// Returns false, leaving no error queued, when it did not: the caller then uses
// X509_set_pubkey, which replaces whatever this left. (public_key.cc says why.)
bool set_public_key_from_spki(X509* cert, const X509_PUBKEY* spki);

// A public-only key for the encoded `point` on a named curve (P-256, P-384, P-521, by NID),
// through OpenSSL's legacy EC_KEY: a point decode that checks the point is on the curve,
// without OpenSSL 3.0's per-key decoder context. Null for another curve or a bad point.
crypto::EvpPkeyPtr legacy_ec_key(int curve_nid, std::span<const std::uint8_t> point);

// Whether the ECDSA `signature` (DER ECDSA-Sig-Value) over `signed_bytes` verifies under the
// legacy EC key `key` (legacy_ec_key's), for the AlgorithmIdentifier `algorithm` (the whole
// element), through the EC_KEY it holds: OpenSSL 3.0 would otherwise export that key to its
// provider on every verification, a quarter of a CSR check's cost. nullopt (nothing checked)
// unless `algorithm` is ecdsa-with-SHA256/384/512 without parameters and `key` is a legacy EC
// key; the caller then verifies through EVP.
std::optional<bool> verify_ecdsa_legacy(EVP_PKEY* key, std::span<const std::uint8_t> algorithm,
                                        std::span<const std::uint8_t> signed_bytes,
                                        std::span<const std::uint8_t> signature);

// The algorithm and size of the key in `spki`, read from its encoding without building a key
// object, for the keys certward issues (RSA, named-curve P-256/P-384/P-521 EC, Ed25519) and only
// when decoding the key would succeed; nullopt for anything else, which the caller then decodes.
// What crypto::describe_key says of the decoded key, at a tenth of the cost.
std::optional<crypto::KeyInfo> describe_spki(const X509_PUBKEY* spki);
// The DER of a SubjectPublicKeyInfo; empty on failure. Encoding an X509_PUBKEY writes its
// stored algorithm and key bits: it never touches the key object.
Bytes spki_der(const X509_PUBKEY* spki);

// The SHA-1 of a certificate's subjectPublicKey BIT STRING (RFC 5280 4.2.1.2, method 1); empty
// if it has no key.
Bytes public_key_sha1(const X509* cert);
// The keyIdentifier that names `issuer` in what it signs (RFC 5280 4.2.1.1): its own
// subjectKeyIdentifier when it has one, so that chain builders match the two; otherwise
// public_key_sha1 (CAs older than the extension, often imported ones, lack it). Certificates
// (x509::build_tbs) and CRLs (x509::build_crl) use this one rule.
Bytes issuer_key_id(const X509* issuer);

// Encodes one SAN as a GENERAL_NAME. Errors: kInvalidArgument (kOther cannot be encoded, or
// the value is not valid for its type).
Result<crypto::Handle<GENERAL_NAME, GENERAL_NAME_free>> encode_general_name(
    const SubjectAltName& san);

}  // namespace certward::x509::internal
