#pragma once
// OpenSSH keys, certificates (PROTOCOL.certkeys) and key revocation lists (PROTOCOL.krl), as
// the SSH certificate authority makes them. Pure functions over bytes, thread-safe; the keys
// of the CA sign through crypto::Signer, so a CA key in a PKCS#11 token signs the same way.

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"
#include "crypto/crypto.h"

namespace certward::ssh {

// Whether `v` is text fit for what sshd logs and ssh-keygen prints: valid UTF-8 without C0 or
// C1 controls, DEL or the bidirectional controls that make a name read as another.
bool is_display_text(std::string_view v);

// "SHA256:" and the unpadded base64 of the blob's SHA-256, as ssh-keygen -l prints it.
std::string fingerprint_of(std::span<const std::uint8_t> blob);

// A public key as authorized_keys and *.pub files carry it.
struct PublicKey {
  std::string type;  // "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", "sk-ssh-ed25519@openssh.com"
  Bytes blob;        // its wire encoding, the type first
  int bits = 0;
  std::string comment;
  std::string fingerprint() const;  // "SHA256:" and unpadded base64, as ssh-keygen -l prints
  std::string line() const;         // "<type> <base64> [comment]"
};

// The longest line taken (an RSA-16384 key is about 2.8 KB in base64).
inline constexpr std::size_t kMaxPublicKeyLine = 8192;

// One public key in authorized_keys form (options are not allowed: this is a key to certify,
// not an authorization). Refused: certificates, DSA, RSA below 2048 or above 16384 bits, EC
// points not on their curve, unknown types, anything after the comment's line.
// Errors: kMalformed (not a key), kPolicyRejected (a key type or size certward does not certify).
Result<PublicKey> parse_public_key(std::string_view line);

// The SSH form of a CA's key (Ed25519, ECDSA P-256/P-384, RSA). Errors: kInvalidArgument.
Result<PublicKey> public_key_of(const EVP_PKEY* key);

enum class CertType : std::uint32_t { kUser = 1, kHost = 2 };
std::string_view cert_type_name(CertType t);  // "user", "host"

struct CertificateTemplate {
  CertType type = CertType::kUser;
  PublicKey key;  // the subject's
  std::uint64_t serial = 0;
  std::string key_id;
  std::vector<std::string> principals;
  SysTime valid_after{};
  SysTime valid_before{};
  std::map<std::string, std::string> critical_options;  // "force-command", "source-address"
  std::set<std::string> extensions;                      // "permit-pty", ...
};

struct Certificate {
  std::string type;  // "ssh-ed25519-cert-v01@openssh.com", ...
  Bytes blob;
  std::string line() const;  // "<type> <base64>"
  std::string fingerprint() const;
};

// Encodes and signs the certificate with the CA's signer (a random nonce first, options and
// extensions in the lexical order OpenSSH requires). RSA CAs sign with rsa-sha2-256.
// Errors: kInvalidArgument (a subject key type without a certificate form), the signer's.
Result<Certificate> sign_certificate(const CertificateTemplate& t, const crypto::Signer& ca);

// A key revocation list (OpenSSH's RevokedKeys format) revoking, for each CA, the
// certificates with these serials. `version` must grow with each change.
struct KrlEntry {
  PublicKey ca;
  std::vector<std::uint64_t> serials;
};
Bytes build_krl(std::uint64_t version, SysTime generated, std::span<const KrlEntry> entries,
                std::string_view comment);

}  // namespace certward::ssh
