#pragma once
// Keys derived from a passphrase a person chose, for secrets that leave certward's custody (a
// backup that carries the master key).

#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"
#include "crypto/secret_bytes.h"

namespace certward::crypto {

// scrypt (RFC 7914) parameters. The defaults cost about 64 MiB and a fraction of a second
// per try: cheap once for the operator, dear for someone guessing offline.
struct ScryptParams {
  std::uint64_t n = std::uint64_t{1} << 16;
  std::uint64_t r = 8;
  std::uint64_t p = 1;
};

// A 32-byte key from `passphrase` and `salt`. Errors: kInvalidArgument (parameters out of
// range: n not a power of two in 2..2^20, r above 32, p above 4, or 128·r·n above 128 MiB),
// kInternal.
Result<SecretBytes> derive_key_scrypt(std::string_view passphrase,
                                      std::span<const std::uint8_t> salt,
                                      const ScryptParams& params = {});

}  // namespace certward::crypto
