// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: discovery::files::parse_java_keystore (every JKS/JCEKS the file scanner meets),
// with the password the seed corpus uses ("changeit"), then the JKS key recovery on every
// private-key entry it returns. Invariants its callers rely on: the password found is one of
// those given, and every certificate returned lies inside the input.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "discovery/files/java_keystore.h"

namespace files = certward::discovery::files;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  std::vector<certward::crypto::SecretBytes> passwords;
  passwords.push_back(certward::crypto::SecretBytes::copy_of("changeit"));
  auto ks = files::parse_java_keystore(in, passwords);
  if (!ks) return 0;
  if (ks->password_index && *ks->password_index >= passwords.size()) __builtin_trap();
  for (const auto& e : ks->entries) {
    for (const auto& der : e.chain) {
      if (der.size() > size) __builtin_trap();
    }
    if (e.kind == files::KeystoreEntry::Kind::kPrivateKey) {
      (void)files::decrypt_jks_private_key(e.protected_key, passwords[0]);
    }
  }
  return 0;
}
