#pragma once
// Java keystores as keytool writes them, read without a JVM (discovery runs on hosts that have
// none): JKS (magic 0xFEEDFEED, versions 1 and 2) and JCEKS (0xCECECECE). A PKCS#12 keystore
// (keytool -storetype pkcs12, Java's default since 9) is an ordinary .p12 and is not read here.
//
// In these formats the certificates are stored in clear: they are readable without the store
// password, which only proves integrity (the last 20 bytes are SHA-1 over the password as
// UTF-16BE, the phrase "Mighty Aphrodite" and everything before) and unlocks private keys.
// Pure functions, thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"
#include "crypto/secret_bytes.h"

namespace certward::discovery::files {

enum class KeystoreType : std::uint8_t { kJks, kJceks };
std::string_view keystore_type_name(KeystoreType t);  // "jks", "jceks"

struct KeystoreEntry {
  enum class Kind : std::uint8_t { kPrivateKey, kTrustedCertificate, kSecretKey };
  Kind kind = Kind::kTrustedCertificate;
  std::string alias;         // as stored (Java's modified UTF-8)
  std::vector<Bytes> chain;  // DER, leaf first; the one certificate of a trusted entry
  Bytes protected_key;       // kPrivateKey: the EncryptedPrivateKeyInfo as stored
};

struct JavaKeystore {
  KeystoreType type = KeystoreType::kJks;
  std::uint32_t version = 2;
  std::vector<KeystoreEntry> entries;  // file order (Java's hash-table order, not meaningful)
  // Which of the passwords tried verified the integrity digest; none when none did.
  std::optional<std::size_t> password_index;
  // A JCEKS secret-key entry is a serialised Java object with no length in front: reading
  // stops there, so entries after it are missing. The digest is still checked.
  bool stopped_at_secret_key = false;
};

// True when `data` begins with a JKS or JCEKS magic number.
bool looks_like_java_keystore(std::span<const std::uint8_t> data);

// Errors: kMalformed (no magic, unknown version or entry tag, a count or length past the end,
// fewer than 20 bytes left for the digest).
Result<JavaKeystore> parse_java_keystore(std::span<const std::uint8_t> data,
                                         std::span<const crypto::SecretBytes> passwords);

// The PKCS#8 PrivateKeyInfo (DER) inside a JKS private-key entry, protected by Sun's
// KeyProtector (OID 1.3.6.1.4.1.42.2.17.1.1: a SHA-1 keystream and a SHA-1 check value).
// Errors: kBadPassword (the check value does not match), kMalformed (not an
// EncryptedPrivateKeyInfo), kInvalidArgument (another protection, such as JCEKS's
// PBEWithMD5AndTripleDES, which is not read here).
Result<crypto::SecretBytes> decrypt_jks_private_key(std::span<const std::uint8_t> protected_key,
                                                    const crypto::SecretBytes& password);

}  // namespace certward::discovery::files
