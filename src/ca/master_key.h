#pragma once
// The master key that seals every CA private key at rest (AES-256-GCM, crypto::KeyWrapper).
//
// Source, in order: the CERTWARD_MASTER_KEY environment variable (base64 of 32 bytes), else
// the file `ca.master_key_file` (base64 of 32 bytes, mode 0600). A file readable by group or
// others is refused, as ssh refuses such a private key.

#include <map>
#include <string>

#include "common/config.h"
#include "crypto/crypto.h"

namespace certward::ca {

enum class MasterKeyMode : std::uint8_t { kMustExist, kCreateIfMissing };

// Errors: kNotFound (no key and kMustExist), kMalformed (not base64 of 32 bytes),
// kPolicyRejected (file permissions too open), kUnavailable (I/O).
Result<crypto::KeyWrapper> load_master_key(const CaSettings& settings,
                                           const std::map<std::string, std::string>& env,
                                           MasterKeyMode mode);

// The key's 32 bytes from where load_master_key(kMustExist) would take them, for a backup
// that carries the key. Errors: as load_master_key.
Result<crypto::SecretBytes> read_master_key(const CaSettings& settings,
                                            const std::map<std::string, std::string>& env);

// Where the key is read from, for an operator: "CERTWARD_MASTER_KEY" or the file's path.
std::string master_key_source(const CaSettings& settings,
                              const std::map<std::string, std::string>& env);

// Writes a key as load_master_key reads it: base64 in a new file of mode 0600. Errors:
// kConflict (something is there already), kInvalidArgument (not 32 bytes), kUnavailable.
Status write_master_key_file(const std::string& path, const crypto::SecretBytes& key);

}  // namespace certward::ca
