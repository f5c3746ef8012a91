#pragma once
// SSH public keys and certificates in their wire format (RFC 4253 6.6, RFC 5656, RFC 8709,
// OpenSSH PROTOCOL.certkeys), as host keys arrive in a key exchange and as authorized_keys and
// known_hosts carry them (base64). Pure functions, thread-safe.

#include <span>
#include <string_view>

#include "discovery/discovery.h"

namespace certward::discovery {

// Decodes one key or certificate blob: type, size, "SHA256:" fingerprint and, for a
// certificate, its fields and the signing CA's fingerprint. The blob is kept in SshKey::blob.
// Errors: kMalformed (truncated, trailing data, a field of the wrong shape, an unknown type).
Result<SshKey> parse_ssh_key_blob(std::span<const std::uint8_t> blob);

// "SHA256:" and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it.
std::string ssh_fingerprint(std::span<const std::uint8_t> blob);

// Findings about the key itself: DSA keys ("weak_ssh_key", high), RSA below 2048 bits
// ("weak_ssh_key", high), and for certificates "expired" / "not_yet_valid" at `now`.
std::vector<Finding> ssh_key_findings(const SshKey& key, SysTime now);

}  // namespace certward::discovery
