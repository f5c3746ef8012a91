// libFuzzer target: feeds outside bytes to the same function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: discovery::files::inspect_contents, which the file scanner calls on every file
// it reads (PEM armour, DER, PKCS#7, PKCS#12, Java keystores, OpenSSH private keys and key
// files), once under an ordinary name and once under a name that makes it an authorized_keys
// file. Invariants: a recognised certificate is never empty, and a key is only kept from a file
// that holds key material.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "discovery/files/contents.h"

namespace files = certward::discovery::files;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<certward::crypto::SecretBytes> passwords;
  passwords.push_back(certward::crypto::SecretBytes::copy_of("changeit"));
  const files::InspectOptions options{.passwords = passwords, .now = {}};
  for (const char* name : {"file", "authorized_keys"}) {
    auto c = files::inspect_contents(std::span(data, size), name, options);
    for (const auto& der : c.certificates) {
      if (der.empty()) __builtin_trap();
      for (const auto& key : c.keys) (void)files::key_matches_certificate(key.get(), der);
    }
    if (!c.keys.empty() && !c.holds_key_material) __builtin_trap();
  }
  return 0;
}
