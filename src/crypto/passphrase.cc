#include "crypto/passphrase.h"

#include <openssl/evp.h>

namespace certward::crypto {

namespace {
// At most twice the default's memory (128 MiB) and four passes: a restore that reads the
// parameters from a file costs at most a few seconds, whatever the file says.
constexpr std::uint64_t kMaxWork = std::uint64_t{128} << 20;
constexpr std::uint64_t kMaxMemory = std::uint64_t{256} << 20;
}  // namespace

Result<SecretBytes> derive_key_scrypt(std::string_view passphrase,
                                      std::span<const std::uint8_t> salt,
                                      const ScryptParams& params) {
  // Bounded here because the parameters may come from a file someone else wrote.
  const bool power_of_two = params.n > 1 && (params.n & (params.n - 1)) == 0;
  if (!power_of_two || params.n > (std::uint64_t{1} << 20) || params.r == 0 || params.r > 32 ||
      params.p == 0 || params.p > 4 || 128 * params.r * params.n > kMaxWork) {
    return fail(ErrorCode::kInvalidArgument, "scrypt parameters out of range");
  }
  SecretBytes key(32);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt.data(), salt.size(), params.n,
                     params.r, params.p, kMaxMemory, key.data(), key.size()) != 1) {
    return fail(ErrorCode::kInternal, "scrypt failed");
  }
  return key;
}

}  // namespace certward::crypto
