// libFuzzer target: feeds outside bytes to the same public function the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: discovery::parse_ssh_key_blob (every host key a scanned SSH server sends and
// every key in an authorized_keys or known_hosts file), with the invariants its callers rely
// on: a decoded key keeps exactly its input, its fingerprint is the input's, and its findings
// can be computed.

#include <cstddef>
#include <cstdint>
#include <span>

#include "discovery/ssh_key.h"

namespace discovery = certward::discovery;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  auto key = discovery::parse_ssh_key_blob(in);
  if (!key) return 0;
  if (key->blob.size() != size || !std::equal(key->blob.begin(), key->blob.end(), data)) {
    __builtin_trap();
  }
  if (key->fingerprint != discovery::ssh_fingerprint(in)) __builtin_trap();
  if (key->bits <= 0) __builtin_trap();
  (void)discovery::ssh_key_findings(*key, certward::SysTime{});
  return 0;
}
