#pragma once
// The crypto module's face: keys, signers, randomness, digests and key wrapping, all on
// OpenSSL 3. Every function is thread-safe unless its comment says otherwise.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/error.h"
#include "crypto/handles.h"
#include "crypto/secret_bytes.h"

namespace certward::crypto {

// kRsaPss is an RSA key restricted to RSASSA-PSS signatures (id-RSASSA-PSS in its
// SubjectPublicKeyInfo, RFC 4055): unlike kRsa it can never encipher, so it is its own
// algorithm, never mistaken for a plain RSA key.
enum class KeyAlgorithm : std::uint8_t { kRsa, kRsaPss, kEcdsa, kEd25519, kUnknown };

// A concrete key shape: what profiles allow and what key generation accepts.
enum class KeyType : std::uint8_t {
  kRsa2048,
  kRsa3072,
  kRsa4096,
  kEcP256,
  kEcP384,
  kEd25519,
  // RSA-PSS keys: no built-in profile allows them; a configured profile may.
  kRsaPss2048,
  kRsaPss3072,
  kRsaPss4096,
};

std::string_view key_type_name(KeyType t);  // "rsa-2048", "ec-p256", "rsa-pss-2048", ...
Result<KeyType> parse_key_type(std::string_view name);

// What can be said about any public key, including ones we cannot use (discovered certs).
struct KeyInfo {
  KeyAlgorithm algorithm = KeyAlgorithm::kUnknown;
  int bits = 0;              // modulus size for RSA(-PSS), field size for EC, 256 for Ed25519
  std::string curve;         // "P-256", "P-384", "P-521" for ECDSA; empty otherwise
  std::string name() const;  // "RSA 2048", "RSA-PSS 2048", "ECDSA P-256", "Ed25519"
  // The KeyType this key is, if it is one we issue for.
  std::optional<KeyType> key_type() const;
};

KeyInfo describe_key(const EVP_PKEY* key);
// "rsa", "rsa-pss", "ecdsa", "ed25519", "unknown": the inventory's key_algorithm values.
std::string_view key_algorithm_name(KeyAlgorithm a);

// A private key held in memory. Immutable after creation; safe to share across threads.
class PrivateKey {
 public:
  explicit PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  EVP_PKEY* get() const { return key_.get(); }
  KeyInfo info() const { return describe_key(key_.get()); }

  // PKCS#8, PEM ("PRIVATE KEY") or DER; encrypted with AES-256-CBC/PBKDF2 when a
  // passphrase is given ("ENCRYPTED PRIVATE KEY").
  Result<SecretBytes> to_pkcs8_pem(std::optional<std::string_view> passphrase = {}) const;
  Result<SecretBytes> to_pkcs8_der(std::optional<std::string_view> passphrase = {}) const;
  Bytes public_key_der() const;  // SubjectPublicKeyInfo
  std::string public_key_pem() const;

 private:
  EvpPkeyPtr key_;
};

Result<PrivateKey> generate_key(KeyType type);

// Accepts PEM (PKCS#8 plain or encrypted, traditional RSA/EC) or DER (PKCS#8 plain or
// encrypted, traditional). Errors: kMalformed, kBadPassword (encrypted and the passphrase is
// missing or wrong).
Result<PrivateKey> parse_private_key(std::span<const std::uint8_t> data,
                                     std::optional<std::string_view> passphrase = {});
// Accepts a SubjectPublicKeyInfo in PEM or DER. Errors: kMalformed.
Result<EvpPkeyPtr> parse_public_key(std::span<const std::uint8_t> data);

bool same_public_key(const EVP_PKEY* a, const EVP_PKEY* b);

// Signs X.509 structures and raw data with one key. The software key is one implementation;
// an HSM-held key is another, and nothing above this interface notices the difference.
// Implementations are thread-safe: one Signer serves many concurrent issuances.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual const EVP_PKEY* public_key() const = 0;
  // Sets the signature algorithm and signature on `cert` (SHA-256 for P-256 and RSA,
  // SHA-384 for P-384, none for Ed25519).
  virtual Status sign_certificate(X509* cert) const = 0;
  virtual Status sign_crl(X509_CRL* crl) const = 0;
  virtual Status sign_request(X509_REQ* req) const = 0;
  virtual Result<Bytes> sign_data(std::span<const std::uint8_t> data) const = 0;
};

class SoftwareSigner final : public Signer {
 public:
  explicit SoftwareSigner(std::shared_ptr<const PrivateKey> key) : key_(std::move(key)) {}
  const EVP_PKEY* public_key() const override { return key_->get(); }
  Status sign_certificate(X509* cert) const override;
  Status sign_crl(X509_CRL* crl) const override;
  Status sign_request(X509_REQ* req) const override;
  Result<Bytes> sign_data(std::span<const std::uint8_t> data) const override;

 private:
  std::shared_ptr<const PrivateKey> key_;
};

// The digest a signature by `key` should use (nullptr for Ed25519, which has its own).
const EVP_MD* digest_for(const EVP_PKEY* key);

// Digests and randomness.
Bytes sha256(std::span<const std::uint8_t> data);
Bytes sha1(std::span<const std::uint8_t> data);
// Cryptographically secure random bytes (OpenSSL's DRBG). Aborts if the DRBG fails: issuing
// without randomness is never acceptable.
void random_bytes(std::span<std::uint8_t> out);
Bytes random_bytes(std::size_t n);

// Drains OpenSSL's error queue into one line, for error messages.
std::string openssl_error_string();

// Authenticated encryption of secrets at rest: AES-256-GCM under a 32-byte key.
// Output layout: "CW1" || 12-byte nonce || ciphertext || 16-byte tag. The associated data
// binds a blob to its owner (e.g. "authority:<id>") so blobs cannot be swapped between rows.
class KeyWrapper {
 public:
  static constexpr std::size_t kKeySize = 32;
  // Errors: kInvalidArgument if the key is not 32 bytes.
  static Result<KeyWrapper> create(SecretBytes key);
  Result<Bytes> seal(std::span<const std::uint8_t> plaintext, std::string_view aad) const;
  // Errors: kMalformed (not a sealed blob), kBadPassword (wrong key, altered, or wrong aad).
  Result<SecretBytes> open(std::span<const std::uint8_t> sealed, std::string_view aad) const;

 private:
  explicit KeyWrapper(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

}  // namespace certward::crypto
