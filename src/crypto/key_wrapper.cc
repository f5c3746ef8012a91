#include "crypto/crypto.h"

namespace certward::crypto {
namespace {
constexpr std::string_view kMagic = "CW1";
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;
}  // namespace

Result<KeyWrapper> KeyWrapper::create(SecretBytes key) {
  if (key.size() != kKeySize) {
    return fail(ErrorCode::kInvalidArgument, "master key must be exactly 32 bytes");
  }
  return KeyWrapper(std::move(key));
}

Result<Bytes> KeyWrapper::seal(std::span<const std::uint8_t> plaintext,
                               std::string_view aad) const {
  Bytes out(kMagic.size() + kNonceSize + plaintext.size() + kTagSize);
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  std::uint8_t* nonce = out.data() + kMagic.size();
  random_bytes(std::span<std::uint8_t>(nonce, kNonceSize));
  std::uint8_t* ct = nonce + kNonceSize;

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, ct + plaintext.size()) != 1) {
    return fail(ErrorCode::kInternal, "AES-256-GCM seal failed: " + openssl_error_string());
  }
  return out;
}

Result<SecretBytes> KeyWrapper::open(std::span<const std::uint8_t> sealed,
                                     std::string_view aad) const {
  const std::size_t overhead = kMagic.size() + kNonceSize + kTagSize;
  if (sealed.size() < overhead || as_chars(sealed.first(kMagic.size())) != kMagic) {
    return fail(ErrorCode::kMalformed, "not a sealed key blob");
  }
  const std::uint8_t* nonce = sealed.data() + kMagic.size();
  const std::uint8_t* ct = nonce + kNonceSize;
  const std::size_t ct_len = sealed.size() - overhead;
  SecretBytes plain(ct_len);
  Bytes tag(ct + ct_len, ct + ct_len + kTagSize);

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &len, ct, static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1) {
    return fail(ErrorCode::kInternal, "AES-256-GCM open failed: " + openssl_error_string());
  }
  if (EVP_DecryptFinal_ex(ctx.get(), plain.data() + len, &len) != 1) {
    return fail(ErrorCode::kBadPassword,
                "sealed blob does not authenticate (wrong master key or altered data)");
  }
  return plain;
}

}  // namespace certward::crypto
