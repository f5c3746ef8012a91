#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <limits>

#include "crypto/crypto.h"

namespace certward::crypto {
namespace {

struct KeyTypeName {
  KeyType type;
  std::string_view name;
};
constexpr KeyTypeName kKeyTypeNames[] = {
    {KeyType::kRsa2048, "rsa-2048"},        {KeyType::kRsa3072, "rsa-3072"},
    {KeyType::kRsa4096, "rsa-4096"},        {KeyType::kEcP256, "ec-p256"},
    {KeyType::kEcP384, "ec-p384"},          {KeyType::kEd25519, "ed25519"},
    {KeyType::kRsaPss2048, "rsa-pss-2048"}, {KeyType::kRsaPss3072, "rsa-pss-3072"},
    {KeyType::kRsaPss4096, "rsa-pss-4096"},
};

Result<PrivateKey> generate_rsa(unsigned bits) {
  EvpPkeyPtr key(EVP_RSA_gen(bits));
  if (!key) {
    return fail(ErrorCode::kInternal, "RSA key generation failed: " + openssl_error_string());
  }
  return PrivateKey(std::move(key));
}

// An RSA key restricted to PSS (RFC 4055): its SubjectPublicKeyInfo says id-RSASSA-PSS.
// EVP_PKEY_Q_keygen takes a size only for "RSA", so the context is set up by hand.
Result<PrivateKey> generate_rsa_pss(unsigned bits) {
  Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA-PSS", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return fail(ErrorCode::kInternal, "RSA-PSS key generation failed: " + openssl_error_string());
  }
  return PrivateKey(EvpPkeyPtr(raw));
}

Result<PrivateKey> generate_named(const char* type, const char* group) {
  EvpPkeyPtr key(group ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, group)
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, type));
  if (!key) return fail(ErrorCode::kInternal, "key generation failed: " + openssl_error_string());
  return PrivateKey(std::move(key));
}

BioPtr mem_bio(std::span<const std::uint8_t> data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

SecretBytes drain_secret(BIO* bio) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio, &p);
  return SecretBytes(std::span<const std::uint8_t>(reinterpret_cast<std::uint8_t*>(p),
                                                   static_cast<std::size_t>(n)));
}

bool looks_like_pem(std::span<const std::uint8_t> data) {
  const std::string_view s = as_chars(data);
  return s.find("-----BEGIN ") != std::string_view::npos;
}

// Whether the last OpenSSL failure was a decryption failure rather than bad structure.
bool is_decrypt_failure(unsigned long err) {
  const int reason = ERR_GET_REASON(err);
  return reason == PEM_R_BAD_DECRYPT || reason == EVP_R_BAD_DECRYPT ||
         reason == PEM_R_BAD_PASSWORD_READ || reason == PEM_R_PROBLEMS_GETTING_PASSWORD;
}

}  // namespace

std::string_view key_type_name(KeyType t) {
  for (const auto& e : kKeyTypeNames)
    if (e.type == t) return e.name;
  return "unknown";
}

Result<KeyType> parse_key_type(std::string_view name) {
  for (const auto& e : kKeyTypeNames)
    if (e.name == name) return e.type;
  return fail(ErrorCode::kInvalidArgument,
              "unknown key type '" + std::string(name) +
                  "' (expected rsa-2048, rsa-3072, rsa-4096, ec-p256, ec-p384, ed25519, "
                  "rsa-pss-2048, rsa-pss-3072 or rsa-pss-4096)");
}

std::string_view key_algorithm_name(KeyAlgorithm a) {
  switch (a) {
    case KeyAlgorithm::kRsa:
      return "rsa";
    case KeyAlgorithm::kRsaPss:
      return "rsa-pss";
    case KeyAlgorithm::kEcdsa:
      return "ecdsa";
    case KeyAlgorithm::kEd25519:
      return "ed25519";
    case KeyAlgorithm::kUnknown:
      break;
  }
  return "unknown";
}

std::string KeyInfo::name() const {
  switch (algorithm) {
    case KeyAlgorithm::kRsa:
      return "RSA " + std::to_string(bits);
    case KeyAlgorithm::kRsaPss:
      return "RSA-PSS " + std::to_string(bits);
    case KeyAlgorithm::kEcdsa:
      return "ECDSA " + (curve.empty() ? std::to_string(bits) : curve);
    case KeyAlgorithm::kEd25519:
      return "Ed25519";
    case KeyAlgorithm::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<KeyType> KeyInfo::key_type() const {
  switch (algorithm) {
    case KeyAlgorithm::kRsa:
      if (bits == 2048) return KeyType::kRsa2048;
      if (bits == 3072) return KeyType::kRsa3072;
      if (bits == 4096) return KeyType::kRsa4096;
      return std::nullopt;
    case KeyAlgorithm::kRsaPss:
      if (bits == 2048) return KeyType::kRsaPss2048;
      if (bits == 3072) return KeyType::kRsaPss3072;
      if (bits == 4096) return KeyType::kRsaPss4096;
      return std::nullopt;
    case KeyAlgorithm::kEcdsa:
      if (curve == "P-256") return KeyType::kEcP256;
      if (curve == "P-384") return KeyType::kEcP384;
      return std::nullopt;
    case KeyAlgorithm::kEd25519:
      return KeyType::kEd25519;
    case KeyAlgorithm::kUnknown:
      break;
  }
  return std::nullopt;
}

KeyInfo describe_key(const EVP_PKEY* key) {
  KeyInfo info;
  if (!key) return info;
  info.bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      info.algorithm = KeyAlgorithm::kRsa;
      break;
    case EVP_PKEY_RSA_PSS:
      info.algorithm = KeyAlgorithm::kRsaPss;
      break;
    case EVP_PKEY_EC: {
      info.algorithm = KeyAlgorithm::kEcdsa;
      char group[64] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                         &len)) {
        const std::string_view g(group, len);
        if (g == "prime256v1" || g == "P-256")
          info.curve = "P-256";
        else if (g == "secp384r1" || g == "P-384")
          info.curve = "P-384";
        else if (g == "secp521r1" || g == "P-521")
          info.curve = "P-521";
        else
          info.curve = std::string(g);
      }
      break;
    }
    case EVP_PKEY_ED25519:
      info.algorithm = KeyAlgorithm::kEd25519;
      break;
    default:
      info.algorithm = KeyAlgorithm::kUnknown;
      break;
  }
  return info;
}

Result<PrivateKey> generate_key(KeyType type) {
  switch (type) {
    case KeyType::kRsa2048:
      return generate_rsa(2048);
    case KeyType::kRsa3072:
      return generate_rsa(3072);
    case KeyType::kRsa4096:
      return generate_rsa(4096);
    case KeyType::kEcP256:
      return generate_named("EC", "P-256");
    case KeyType::kEcP384:
      return generate_named("EC", "P-384");
    case KeyType::kEd25519:
      return generate_named("ED25519", nullptr);
    case KeyType::kRsaPss2048:
      return generate_rsa_pss(2048);
    case KeyType::kRsaPss3072:
      return generate_rsa_pss(3072);
    case KeyType::kRsaPss4096:
      return generate_rsa_pss(4096);
  }
  return fail(ErrorCode::kInvalidArgument, "unsupported key type");
}

Result<SecretBytes> PrivateKey::to_pkcs8_pem(std::optional<std::string_view> passphrase) const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string_view pass = passphrase.value_or("");
  const EVP_CIPHER* cipher = passphrase ? EVP_aes_256_cbc() : nullptr;
  if (!PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), cipher, pass.data(),
                                     static_cast<int>(pass.size()), nullptr, nullptr)) {
    return fail(ErrorCode::kInternal, "PKCS#8 export failed: " + openssl_error_string());
  }
  return drain_secret(bio.get());
}

Result<SecretBytes> PrivateKey::to_pkcs8_der(std::optional<std::string_view> passphrase) const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string_view pass = passphrase.value_or("");
  const EVP_CIPHER* cipher = passphrase ? EVP_aes_256_cbc() : nullptr;
  if (!i2d_PKCS8PrivateKey_bio(bio.get(), key_.get(), cipher, pass.data(),
                               static_cast<int>(pass.size()), nullptr, nullptr)) {
    return fail(ErrorCode::kInternal, "PKCS#8 export failed: " + openssl_error_string());
  }
  return drain_secret(bio.get());
}

Bytes PrivateKey::public_key_der() const {
  const int n = i2d_PUBKEY(key_.get(), nullptr);
  Bytes out(static_cast<std::size_t>(n > 0 ? n : 0));
  unsigned char* p = out.data();
  i2d_PUBKEY(key_.get(), &p);
  return out;
}

std::string PrivateKey::public_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

namespace {
// True if `data` is exactly one DER EncryptedPrivateKeyInfo (PKCS#8, RFC 5958).
bool is_encrypted_pkcs8_der(std::span<const std::uint8_t> data) {
  if (data.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) return false;
  const unsigned char* p = data.data();
  const X509SigPtr sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(data.size())));
  const bool whole = sig != nullptr && p == data.data() + data.size();
  ERR_clear_error();
  return whole;
}
}  // namespace

Result<PrivateKey> parse_private_key(std::span<const std::uint8_t> data,
                                     std::optional<std::string_view> passphrase) {
  if (data.empty()) return fail(ErrorCode::kMalformed, "empty private key");
  ERR_clear_error();
  // The OSSL_DECODER path handles PEM and DER, PKCS#8 (plain and encrypted) and the
  // traditional formats in one place.
  EVP_PKEY* raw = nullptr;
  Handle<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free> dctx(
      OSSL_DECODER_CTX_new_for_pkey(&raw, looks_like_pem(data) ? "PEM" : "DER", nullptr, nullptr,
                                    EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!dctx) return fail(ErrorCode::kInternal, "no key decoder: " + openssl_error_string());
  if (passphrase) {
    OSSL_DECODER_CTX_set_passphrase(
        dctx.get(), reinterpret_cast<const unsigned char*>(passphrase->data()), passphrase->size());
  }
  const unsigned char* p = data.data();
  std::size_t len = data.size();
  const bool decoded = OSSL_DECODER_from_data(dctx.get(), &p, &len) == 1;
  EvpPkeyPtr key(raw);  // the decoder hands its result over to the caller
  if (!decoded || !key) {
    // For encrypted DER the decrypt failure is the first entry in the queue, with a generic
    // PKCS#12 "cipherfinal" error stacked on top of it: look at both ends.
    const bool decrypt_failed =
        is_decrypt_failure(ERR_peek_error()) || is_decrypt_failure(ERR_peek_last_error());
    const std::string detail = openssl_error_string();
    const bool encrypted = looks_like_pem(data)
                               ? as_chars(data).find("ENCRYPTED") != std::string_view::npos
                               : is_encrypted_pkcs8_der(data);
    // A wrong passphrase usually fails the decryption's padding check, but about one time in
    // 256 the padding happens to look right and what fails is decoding the garbage: for a
    // well-formed EncryptedPrivateKeyInfo either way means the passphrase.
    if (decrypt_failed || encrypted) {
      return fail(ErrorCode::kBadPassword,
                  passphrase ? "wrong passphrase for the encrypted private key"
                             : "the private key is encrypted: a passphrase is required");
    }
    return fail(ErrorCode::kMalformed, "not a private key (PEM or DER, PKCS#8 or traditional)" +
                                           (detail.empty() ? "" : ": " + detail));
  }
  // A DER key is one structure: bytes after it mean the input is not what it claims to be
  // (as for certificates). PEM may be followed by more blocks, as in key+certificate files.
  if (!looks_like_pem(data) && len != 0) {
    return fail(ErrorCode::kMalformed, "trailing data after the DER private key");
  }
  return PrivateKey(std::move(key));
}

Result<EvpPkeyPtr> parse_public_key(std::span<const std::uint8_t> data) {
  ERR_clear_error();
  if (looks_like_pem(data)) {
    BioPtr bio = mem_bio(data);
    EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
      return fail(ErrorCode::kMalformed, "not a SubjectPublicKeyInfo: " + openssl_error_string());
    }
    return key;
  }
  if (data.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return fail(ErrorCode::kMalformed, "public key too large");
  }
  const unsigned char* p = data.data();
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(data.size())));
  if (!key) {
    return fail(ErrorCode::kMalformed, "not a SubjectPublicKeyInfo: " + openssl_error_string());
  }
  if (p != data.data() + data.size()) {
    return fail(ErrorCode::kMalformed, "trailing data after the DER public key");
  }
  return key;
}

bool same_public_key(const EVP_PKEY* a, const EVP_PKEY* b) {
  return a && b && EVP_PKEY_eq(a, b) == 1;
}

const EVP_MD* digest_for(const EVP_PKEY* key) {
  const KeyInfo info = describe_key(key);
  if (info.algorithm == KeyAlgorithm::kEd25519) return nullptr;
  if (info.algorithm == KeyAlgorithm::kEcdsa && info.bits >= 521) return EVP_sha512();
  if (info.algorithm == KeyAlgorithm::kEcdsa && info.bits >= 384) return EVP_sha384();
  return EVP_sha256();
}

std::string openssl_error_string() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

}  // namespace certward::crypto
