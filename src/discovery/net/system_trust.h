#pragma once
// Private to discovery/net. The operating system's trust store (OpenSSL's default bundle file and
// hashed directories) as a look-up on a scan's X509_STORE that decodes a root only when a chain
// asks for its subject.
//
// Why not X509_STORE_load_file / X509_STORE_set_default_paths: loading the bundle decodes every
// root with its public key (on OpenSSL 3.0 a decoder context per key: about 100 ms of CPU for
// Debian's 140 roots, before the first connection of every scan), and the directory look-up
// lists the directory again for every issuer it does not find, which is every chain to a private
// root. Here the bundle is read once into an index by subject-name hash (only the name is
// decoded), the directories are listed once, and the roots a scan's chains name are decoded on
// first use and added to the store, where OpenSSL finds them from then on.

#include <openssl/x509_vfy.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"

namespace certward::discovery::net {

struct SystemTrustPaths {
  std::string file;               // a PEM bundle; a missing file is an empty one
  std::vector<std::string> dirs;  // hashed directories (<subject hash>.<n>), as c_rehash makes
  // SSL_CERT_FILE and SSL_CERT_DIR (colon-separated), else OpenSSL's compiled-in defaults.
  static SystemTrustPaths from_environment();
};

// Adds the look-up to `store`; it lives, and is freed, with the store. Thread-safe once added
// (the scan's threads verify chains concurrently). Errors: kUnavailable (the bundle is there but
// cannot be read, or holds a block that is not PEM).
Status add_system_trust(X509_STORE* store, const SystemTrustPaths& paths);

// The subject-name hash OpenSSL files a certificate under (X509_subject_name_hash, the <hash> of
// "<hash>.0"), read from the DER's subject Name alone without decoding the rest; nullopt when the
// bytes hold no certificate structure that far. Equal to OpenSSL's for every certificate it
// decodes (the fuzz target checks that).
std::optional<unsigned long> subject_name_hash(std::span<const std::uint8_t> der);

}  // namespace certward::discovery::net
