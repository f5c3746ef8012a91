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

}  // namespace certward::ca
