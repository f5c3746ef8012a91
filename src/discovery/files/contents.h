#pragma once
// What one file's bytes hold, decided from the bytes (and the file's name for OpenSSH files):
// the format, the certificates as DER, SSH keys, the private keys that could be read, and the
// problems met. Kept apart from the walker so that it can be tested and fuzzed on bytes alone.
// Private to discovery/files. Thread-safe.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "crypto/handles.h"
#include "crypto/secret_bytes.h"
#include "discovery/discovery.h"

namespace certward::discovery::files {

struct InspectOptions {
  std::span<const crypto::SecretBytes> passwords;  // tried in order on PKCS#12, JKS, keys
  SysTime now{};                                   // for SSH certificate validity
};

struct FileContents {
  std::string format;  // FileObservation::format
  std::vector<Bytes> certificates;
  std::vector<SshKey> ssh_keys;
  std::vector<Finding> findings;
  std::optional<Error> error;
  // Private keys that could be read, to match against the first certificate.
  std::vector<crypto::EvpPkeyPtr> keys;
  // The file carries private or secret key material, read or not (encrypted, wrong password).
  bool holds_key_material = false;
  // The container itself ties a key to the first certificate (a JKS private-key entry whose
  // key could not be decrypted: Java only stores a key with the chain that matches it).
  bool key_bound_to_first = false;
};

FileContents inspect_contents(std::span<const std::uint8_t> data, std::string_view file_name,
                              const InspectOptions& options);

// The unencrypted private keys in PEM text (PKCS#8 and traditional), for the sibling-file
// match: an encrypted sibling key cannot be compared and is not tried.
std::vector<crypto::EvpPkeyPtr> unencrypted_pem_keys(std::span<const std::uint8_t> data);

// Whether `key` is the private half of the certificate's (DER) public key.
bool key_matches_certificate(const EVP_PKEY* key, std::span<const std::uint8_t> cert_der);

}  // namespace certward::discovery::files
