#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"

namespace certward::crypto {
namespace {
// X509_sign and friends take a non-const key but do not modify it; OpenSSL 3 keys are safe
// to use from several threads at once for signing.
EVP_PKEY* mutable_key(const PrivateKey& k) { return k.get(); }
}  // namespace

Status SoftwareSigner::sign_certificate(X509* cert) const {
  if (X509_sign(cert, mutable_key(*key_), digest_for(key_->get())) <= 0) {
    return fail(ErrorCode::kInternal, "certificate signing failed: " + openssl_error_string());
  }
  return ok();
}

Status SoftwareSigner::sign_crl(X509_CRL* crl) const {
  if (X509_CRL_sign(crl, mutable_key(*key_), digest_for(key_->get())) <= 0) {
    return fail(ErrorCode::kInternal, "CRL signing failed: " + openssl_error_string());
  }
  return ok();
}

Status SoftwareSigner::sign_request(X509_REQ* req) const {
  if (X509_REQ_sign(req, mutable_key(*key_), digest_for(key_->get())) <= 0) {
    return fail(ErrorCode::kInternal, "request signing failed: " + openssl_error_string());
  }
  return ok();
}

Result<Bytes> SoftwareSigner::sign_data(std::span<const std::uint8_t> data) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, digest_for(key_->get()), nullptr,
                                 mutable_key(*key_)) != 1) {
    return fail(ErrorCode::kInternal, "sign init failed: " + openssl_error_string());
  }
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return fail(ErrorCode::kInternal, "sign failed: " + openssl_error_string());
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
    return fail(ErrorCode::kInternal, "sign failed: " + openssl_error_string());
  }
  sig.resize(len);
  return sig;
}

Bytes sha256(std::span<const std::uint8_t> data) {
  Bytes out(32);
  EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha256(), nullptr);
  return out;
}

Bytes sha1(std::span<const std::uint8_t> data) {
  Bytes out(20);
  EVP_Digest(data.data(), data.size(), out.data(), nullptr, EVP_sha1(), nullptr);
  return out;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    CW_CHECK(false && "CSPRNG failure");
  }
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  random_bytes(std::span<std::uint8_t>(out));
  return out;
}

}  // namespace certward::crypto
