// Installing an already-decoded SubjectPublicKeyInfo into a certificate cheaply, and describing
// one without decoding it into a key object.
//
// Why this file exists: on OpenSSL 3.0, X509_set_pubkey() with a provider key (every key we
// generate or decode) encodes the key through OSSL_ENCODER and decodes the result back
// through OSSL_DECODER, and each of those builds a fresh encoder/decoder context by walking
// every provider algorithm. That was about half of the CPU of an issuance (docs/benchmarks.md).
// When the key arrives as a SubjectPublicKeyInfo we already hold (a CSR's), the certificate
// can take the same algorithm and key bits through OpenSSL's legacy EC_KEY path instead,
// which is a point decode and a re-encode.
//
// The legacy EC_KEY API is deprecated in OpenSSL 3.0 but fully supported there; it is used
// only in this file, only for named-curve EC keys, and the result is checked byte for byte
// against the source SubjectPublicKeyInfo, so the certificate is the one X509_set_pubkey
// would have made. Anything else is left to X509_set_pubkey by the caller.
//
// The same decoder context is why describe_spki exists: decoding a certificate's key costs about
// 85 of the 95 µs of a d2i_X509 on this machine, and an inventory import or a scan needs only the
// key's algorithm and size.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <optional>

#include "x509/der_internal.h"
#include "x509/internal.h"

namespace certward::x509::internal {
namespace {

// One EC_GROUP per curve we issue for, made once. EC_KEY_set_group copies it, and
// EC_GROUP_dup only reads its source, so sharing it between threads is safe.
const EC_GROUP* named_group(int curve_nid) {
  static const EC_GROUP* const p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  static const EC_GROUP* const p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
  static const EC_GROUP* const p521 = EC_GROUP_new_by_curve_name(NID_secp521r1);
  switch (curve_nid) {
    case NID_X9_62_prime256v1:
      return p256;
    case NID_secp384r1:
      return p384;
    case NID_secp521r1:
      return p521;
    default:
      return nullptr;
  }
}

}  // namespace

crypto::EvpPkeyPtr legacy_ec_key(int curve_nid, std::span<const std::uint8_t> point) {
  const EC_GROUP* group = named_group(curve_nid);
  if (!group || point.empty()) return nullptr;
  crypto::Handle<EC_KEY, EC_KEY_free> ec(EC_KEY_new());
  // EC_KEY_oct2key checks that the point is on the curve and keeps its encoding form
  // (compressed or not), as the provider decoder does.
  if (!ec || !EC_KEY_set_group(ec.get(), group) ||
      !EC_KEY_oct2key(ec.get(), point.data(), point.size(), nullptr)) {
    return nullptr;
  }
  crypto::EvpPkeyPtr key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign(key.get(), EVP_PKEY_EC, ec.get())) return nullptr;
  ec.release();  // owned by key now
  return key;
}

std::optional<bool> verify_ecdsa_legacy(EVP_PKEY* key, std::span<const std::uint8_t> algorithm,
                                        std::span<const std::uint8_t> signed_bytes,
                                        std::span<const std::uint8_t> signature) {
  // SEQUENCE { OID ecdsa-with-SHAxxx } (1.2.840.10045.4.3.2-4): RFC 5758 3.2 says the
  // parameters are absent, and anything else is left to EVP to judge.
  static constexpr std::uint8_t kPrefix[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                             0x48, 0xce, 0x3d, 0x04, 0x03};
  if (algorithm.size() != sizeof kPrefix + 1 ||
      !std::equal(std::begin(kPrefix), std::end(kPrefix), algorithm.begin())) {
    return std::nullopt;
  }
  unsigned char digest[SHA512_DIGEST_LENGTH];
  std::size_t digest_size = 0;
  switch (algorithm.back()) {
    case 0x02:
      SHA256(signed_bytes.data(), signed_bytes.size(), digest);
      digest_size = SHA256_DIGEST_LENGTH;
      break;
    case 0x03:
      SHA384(signed_bytes.data(), signed_bytes.size(), digest);
      digest_size = SHA384_DIGEST_LENGTH;
      break;
    case 0x04:
      SHA512(signed_bytes.data(), signed_bytes.size(), digest);
      digest_size = SHA512_DIGEST_LENGTH;
      break;
    default:
      return std::nullopt;
  }
  // Only a key legacy_ec_key made holds an EC_KEY without a provider behind it.
  const EC_KEY* ec = EVP_PKEY_get0(key) ? EVP_PKEY_get0_EC_KEY(key) : nullptr;
  if (!ec || signature.size() > INT_MAX) return std::nullopt;
  // ECDSA_verify refuses a signature that is not DER (it re-encodes and compares), as the
  // EVP path does: the same function judges both.
  // (ECDSA_verify only reads the key; its prototype predates const.)
  const int rc = ECDSA_verify(0, digest, static_cast<int>(digest_size), signature.data(),
                              static_cast<int>(signature.size()), const_cast<EC_KEY*>(ec));
  return rc == 1;
}

namespace {

// A public-only legacy EVP_PKEY for a named-curve EC key, or null.
crypto::EvpPkeyPtr legacy_ec_key(const X509_PUBKEY* spki) {
  ASN1_OBJECT* alg_obj = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* alg = nullptr;
  if (!X509_PUBKEY_get0_param(&alg_obj, &bits, &bits_len, &alg, spki) ||
      OBJ_obj2nid(alg_obj) != NID_X9_62_id_ecPublicKey || bits_len <= 0) {
    return nullptr;
  }
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param, alg);
  if (param_type != V_ASN1_OBJECT) return nullptr;  // explicit or absent curve parameters
  return internal::legacy_ec_key(OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param)),
                                 std::span(bits, static_cast<std::size_t>(bits_len)));
}

// The size in bits of an RSAPublicKey's modulus (RFC 8017 A.1.1), as BN_num_bits would count it;
// nullopt unless the structure is strict DER with a positive modulus.
std::optional<int> rsa_modulus_bits(std::span<const std::uint8_t> key) {
  der::Reader outer(key, "RSAPublicKey");
  auto body = outer.read(der::kSequence);
  if (!body || !outer.finish()) return std::nullopt;
  der::Reader fields(*body, "RSAPublicKey");
  auto n = fields.read(der::kInteger);
  if (!n) return std::nullopt;
  auto magnitude = der::nonnegative_integer(*n, "modulus");
  auto e = fields.read(der::kInteger);
  if (!magnitude || magnitude->empty() || !e || !der::nonnegative_integer(*e, "exponent") ||
      !fields.finish()) {
    return std::nullopt;
  }
  return static_cast<int>(8 * (magnitude->size() - 1)) +
         std::bit_width(static_cast<unsigned>(magnitude->front()));
}

std::string curve_name(int curve_nid) {
  switch (curve_nid) {
    case NID_X9_62_prime256v1:
      return "P-256";
    case NID_secp384r1:
      return "P-384";
    default:
      return "P-521";
  }
}

}  // namespace

Bytes spki_der(const X509_PUBKEY* spki) {
  unsigned char* buf = nullptr;
  const int len = i2d_X509_PUBKEY(spki, &buf);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  return Bytes(buf, buf + len);
}

std::optional<crypto::KeyInfo> describe_spki(const X509_PUBKEY* spki) {
  ASN1_OBJECT* alg_obj = nullptr;
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  X509_ALGOR* alg = nullptr;
  if (!spki || !X509_PUBKEY_get0_param(&alg_obj, &bits, &bits_len, &alg, spki) || bits_len <= 0) {
    return std::nullopt;
  }
  int param_type = V_ASN1_UNDEF;
  const void* param = nullptr;
  X509_ALGOR_get0(nullptr, &param_type, &param, alg);
  const std::span<const std::uint8_t> key(bits, static_cast<std::size_t>(bits_len));
  switch (OBJ_obj2nid(alg_obj)) {
    case NID_rsaEncryption: {
      if (param_type != V_ASN1_NULL && param_type != V_ASN1_UNDEF) return std::nullopt;
      const auto modulus = rsa_modulus_bits(key);
      if (!modulus) return std::nullopt;
      return crypto::KeyInfo{.algorithm = crypto::KeyAlgorithm::kRsa, .bits = *modulus, .curve = {}};
    }
    case NID_X9_62_id_ecPublicKey: {
      if (param_type != V_ASN1_OBJECT) return std::nullopt;
      const int curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(param));
      const EC_GROUP* group = named_group(curve);
      if (!group) return std::nullopt;
      // The provider decoder refuses a point that is not on the curve, and so does this: the
      // key is described only when decoding it would have succeeded. EC_POINT_oct2point only
      // reads the shared group.
      ERR_set_mark();
      crypto::Handle<EC_POINT, EC_POINT_free> point(EC_POINT_new(group));
      const bool on_curve =
          point && EC_POINT_oct2point(group, point.get(), bits, key.size(), nullptr) == 1;
      ERR_pop_to_mark();
      if (!on_curve) return std::nullopt;
      return crypto::KeyInfo{.algorithm = crypto::KeyAlgorithm::kEcdsa,
                             .bits = EC_GROUP_get_degree(group),
                             .curve = curve_name(curve)};
    }
    case NID_ED25519:
      if (param_type != V_ASN1_UNDEF || key.size() != 32) return std::nullopt;
      return crypto::KeyInfo{.algorithm = crypto::KeyAlgorithm::kEd25519, .bits = 256, .curve = {}};
    default:
      return std::nullopt;
  }
}

bool set_public_key_from_spki(X509* cert, const X509_PUBKEY* spki) {
  if (!cert || !spki) return false;
  ERR_set_mark();
  bool done = false;
  if (crypto::EvpPkeyPtr key = legacy_ec_key(spki)) {
    // A legacy key takes X509_PUBKEY_set's ameth->pub_encode path, and the certificate's
    // X509_PUBKEY keeps a reference to this public-only key, so X509_get0_pubkey works on
    // the built certificate without any decoding.
    if (X509_set_pubkey(cert, key.get())) {
      const Bytes want = spki_der(spki);
      const Bytes got = spki_der(X509_get_X509_PUBKEY(cert));
      done = !want.empty() && want == got;
    }
  }
  // Failures here are not errors: the caller falls back to X509_set_pubkey.
  ERR_pop_to_mark();
  return done;
}

}  // namespace certward::x509::internal
