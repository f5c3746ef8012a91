#pragma once
// The JWS and JWK layer of the ACME server (RFC 8555 section 6.2 and 7.3.4; RFC 7515, 7517,
// 7518, 7638, 8037): parses the flattened JSON serialization a client POSTs, the account keys
// it carries, verifies signatures, and checks an External Account Binding.
//
// Parsing promises structure only: parse_jws checks the shape of the JWS and its protected
// header but not the signature, the nonce or whether the url is the request's; verify() checks
// the signature; the nonce, the url and the account named by "kid" are the caller's.
//
// Errors carry the ACME problem type the server answers with (JwsProblem); the detail is for
// humans, never contains key material, and may change freely.
//
// Every function is pure and thread-safe; a Jwk is immutable and may be shared across threads.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "crypto/handles.h"
#include "crypto/secret_bytes.h"

namespace certward::protocols::acme {

// The ACME error types (RFC 8555 section 6.7) this layer reports.
enum class JwsProblem : std::uint8_t {
  // The JWS or a JWK is not well-formed, or the signature does not verify. RFC 8555 names no
  // type for a bad signature; like Boulder and Pebble we answer "malformed".
  kMalformed,
  // "alg" is not one we accept (supported_algorithms()), or does not fit the key. The problem
  // document must then list supported_algorithms() in its "algorithms" field.
  kBadSignatureAlgorithm,
  // A well-formed JWK that is no acceptable public key: unknown kty or crv, RSA outside
  // 2048..8192 bits or with a bad exponent, an EC point off its curve, private members present.
  kBadPublicKey,
  // An External Account Binding whose MAC does not verify, or whose key id is unknown.
  kUnauthorized,
};

// The ACME type name, without the "urn:ietf:params:acme:error:" prefix ("malformed", ...).
std::string_view jws_problem_name(JwsProblem problem);

struct JwsError {
  JwsProblem type;
  std::string detail;
};

template <typename T>
using JwsResult = std::expected<T, JwsError>;

// The largest JWS parse_jws reads, checked before any parsing. A CSR with an 8192-bit key and
// many names is well below it.
inline constexpr std::size_t kMaxJwsBytes = 64 * 1024;

// The algorithms an account key may sign with. MAC algorithms and "none" are never accepted
// for account requests (RFC 8555 section 6.2).
enum class JwsAlgorithm : std::uint8_t { kRs256, kEs256, kEs384, kEs512, kEdDsa };

std::string_view jws_algorithm_name(JwsAlgorithm alg);  // "RS256", "ES256", ..., "EdDSA"
// The "alg" values accepted, for the "algorithms" field of a badSignatureAlgorithm problem:
// RS256 ES256 ES384 ES512 EdDSA.
std::span<const std::string_view> supported_algorithms();

// The key types accepted; each signs with exactly one JwsAlgorithm.
enum class JwkKind : std::uint8_t { kRsa, kEcP256, kEcP384, kEcP521, kEd25519 };

// A public key taken from a JWK (or from a certificate, to compare with one). Made only by
// parse_jwk and jwk_from_public_key, which guarantee that the key is public-only and
// acceptable (see JwsProblem::kBadPublicKey), and that json() and thumbprint() describe it.
// Cheap to copy (the EVP_PKEY is shared); immutable.
class Jwk {
 public:
  JwkKind kind() const { return kind_; }
  std::string_view kty() const;    // "RSA", "EC" or "OKP"
  JwsAlgorithm algorithm() const;  // the one "alg" a JWS signed by this key may use
  EVP_PKEY* key() const { return key_.get(); }
  // The RFC 7638 thumbprint: base64url of SHA-256 over the canonical JSON. Identifies the
  // key: two Jwk are the same key exactly when their thumbprints are equal.
  const std::string& thumbprint() const { return thumbprint_; }
  // The canonical public JWK: the required members only (RSA: e, kty, n; EC: crv, kty, x, y;
  // OKP: crv, kty, x), integers without leading zero octets. Store this, not what the client
  // sent: parse_jwk(json()) gives the same key back.
  const nlohmann::json& json() const { return json_; }

  friend bool operator==(const Jwk& a, const Jwk& b) { return a.thumbprint_ == b.thumbprint_; }

 private:
  friend JwsResult<Jwk> parse_jwk(const nlohmann::json& jwk);
  Jwk(std::shared_ptr<EVP_PKEY> key, JwkKind kind, nlohmann::json json, std::string thumbprint)
      : key_(std::move(key)),
        kind_(kind),
        json_(std::move(json)),
        thumbprint_(std::move(thumbprint)) {}

  std::shared_ptr<EVP_PKEY> key_;
  JwkKind kind_;
  nlohmann::json json_;
  std::string thumbprint_;
};

// Parses a public JWK: kty "RSA" (n, e), "EC" (crv P-256, P-384 or P-521; x and y of exactly
// the curve's size), "OKP" (crv Ed25519, x of 32 octets). Members other than the required
// ones are ignored (RFC 7517 section 4), except private ones (d, p, q, dp, dq, qi, oth, k).
// Errors: kMalformed (not an object, a required member missing, not a string or not
// base64url); kBadPublicKey (anything else that is not an acceptable public key; n or e with
// a leading zero octet too, since RFC 7518 section 2 forbids it and the thumbprint the client
// computes would not match ours).
[[nodiscard]] JwsResult<Jwk> parse_jwk(const nlohmann::json& jwk);

// The Jwk of a public key held by OpenSSL (a certificate's, for revokeCert signed by the
// certificate key). The same key rules apply. Errors: kBadPublicKey.
[[nodiscard]] JwsResult<Jwk> jwk_from_public_key(const EVP_PKEY* key);

// Whether `jwk` and `key` are the same public key (EVP_PKEY_eq).
bool same_key(const Jwk& jwk, const EVP_PKEY* key);

// One account request: a JWS in the flattened JSON serialization (RFC 7515 section 7.2.2).
struct Jws {
  JwsAlgorithm alg;
  std::string url;                   // required; the caller checks it is the request's URL
  std::optional<std::string> nonce;  // the caller checks it (absent: badNonce)
  // Exactly one of kid (an account URL, for the caller to look up) and jwk (for newAccount
  // and revokeCert; parse it with parse_jwk).
  std::optional<std::string> kid;
  std::optional<nlohmann::json> jwk;
  // The members as received: the signing input is protected_b64 '.' payload_b64.
  std::string protected_b64;
  std::string payload_b64;
  std::string payload;  // decoded; empty for POST-as-GET
  Bytes signature;      // decoded

  // RFC 8555 section 6.3: an empty payload (not "{}") asks for the resource.
  bool post_as_get() const { return payload_b64.empty(); }
};

// Parses a request body as a flattened JSON JWS. Refused with kMalformed: a body larger than
// kMaxJwsBytes; the compact and the general serialization ("signatures"); an unprotected
// "header" (RFC 8555 section 6.2); members of the wrong type; bad base64url anywhere
// (padding, '+' or '/', non-canonical trailing bits); a member name repeated in the body or
// in the protected header (RFC 7515 section 4 allows refusing it); a protected header that is
// not a JSON object, or has "b64" or "crit" (no extension is understood), no "url", or both or
// neither of "kid" and "jwk".
// Refused with kBadSignatureAlgorithm: an "alg" that is not a JwsAlgorithm ("none", HS256,
// PS256, ...). Other top-level and header members are ignored (RFC 7515 sections 4 and 7.2.1).
// Does not verify the signature.
[[nodiscard]] JwsResult<Jws> parse_jws(std::string_view body);

// The payload as a JSON object (every ACME request other than POST-as-GET sends one), with
// repeated member names refused. Errors: kMalformed.
[[nodiscard]] JwsResult<nlohmann::json> payload_json(const Jws& jws);

// Verifies the signature of `jws` with `key` (the jwk of the request, or the account's key).
// The alg must be the key's: RS256 for RSA, ES256/ES384/ES512 for P-256/P-384/P-521, EdDSA
// for Ed25519. ECDSA signatures are r || s, each of the curve's size (RFC 7518 section 3.4).
// Errors: kBadSignatureAlgorithm (alg and key do not match), kMalformed (the signature is the
// wrong size or does not verify).
[[nodiscard]] JwsResult<void> verify(const Jws& jws, const Jwk& key);

// External Account Binding (RFC 8555 section 7.3.4): the "externalAccountBinding" member of
// a newAccount payload, a flattened JWS MACed with a key the CA gave out of band.
enum class MacAlgorithm : std::uint8_t { kHs256, kHs384, kHs512 };

struct ExternalAccountBinding {
  std::string kid;  // the EAB key id, for the caller to look the MAC key up with
  MacAlgorithm alg;
  std::string signing_input;  // protected '.' payload, as received
  Bytes mac;
};

// Checks the shape of a binding made for `account_key` on a request to `outer_url`: a
// flattened JWS with no unprotected header, alg HS256/HS384/HS512, a non-empty kid, url equal
// to `outer_url`, no nonce (and no jwk, b64 or crit), and as payload a JWK of the same key as
// `account_key`. Does not check the MAC. Errors: kMalformed.
[[nodiscard]] JwsResult<ExternalAccountBinding> parse_eab(const nlohmann::json& eab,
                                                          std::string_view outer_url,
                                                          const Jwk& account_key);

// Checks the binding's MAC with the raw HMAC key (EAB keys are handed out base64url-encoded:
// decode them first), in constant time. Errors: kUnauthorized.
[[nodiscard]] JwsResult<void> verify_eab_mac(const ExternalAccountBinding& eab,
                                             std::span<const std::uint8_t> hmac_key);

// The MAC key for an EAB key id, or nullopt if there is none.
using EabKeyLookup = std::function<std::optional<crypto::SecretBytes>(std::string_view kid)>;

// parse_eab, then `lookup`, then verify_eab_mac. Returns the EAB key id. A caller whose lookup
// can fail for other reasons (a database down) calls the three itself. Errors: those of
// parse_eab; kUnauthorized (unknown kid or a MAC that does not verify).
[[nodiscard]] JwsResult<std::string> verify_eab(const nlohmann::json& eab,
                                                std::string_view outer_url, const Jwk& account_key,
                                                const EabKeyLookup& lookup);

}  // namespace certward::protocols::acme
