#include "x509/verify.h"

#include <arpa/inet.h>
#include <openssl/err.h>

#include "x509/internal.h"

namespace certward::x509 {
namespace {

using internal::stack_at;
using internal::stack_size;

// OpenSSL 3.0 has no code-signing purpose; every other purpose maps onto one of its own.
int openssl_purpose(Purpose p) {
  switch (p) {
    case Purpose::kTlsServer:
      return X509_PURPOSE_SSL_SERVER;
    case Purpose::kTlsClient:
      return X509_PURPOSE_SSL_CLIENT;
    case Purpose::kSmime:
      return X509_PURPOSE_SMIME_SIGN;
    case Purpose::kAny:
    case Purpose::kCodeSigning:
      break;
  }
  return 0;
}

// Code signing, checked as OpenSSL checks the other purposes: every certificate below the
// trust anchor that carries EKU must allow codeSigning (or any), and the leaf's keyUsage, if
// present, must allow digitalSignature.
Status check_code_signing(const std::vector<Certificate>& path) {
  for (std::size_t i = 0; i + 1 < path.size() || (i == 0 && path.size() == 1); ++i) {
    X509* x = path[i].get();
    const std::uint32_t eku = X509_get_extended_key_usage(x);
    if (!(eku & (XKU_CODE_SIGN | XKU_ANYEKU))) {
      return fail(ErrorCode::kBadSignature,
                  "certificate " + std::to_string(i) + " in the path does not allow codeSigning");
    }
  }
  if (!(X509_get_key_usage(path.front().get()) & KU_DIGITAL_SIGNATURE)) {
    return fail(ErrorCode::kBadSignature, "leaf keyUsage does not allow digitalSignature");
  }
  return ok();
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Status configure(X509_STORE_CTX* ctx, const VerifyOptions& options) {
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  // Whatever the caller passes as a root is a trust anchor, self-signed or not.
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (options.at) X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(to_unix(*options.at)));
  if (const int purpose = openssl_purpose(options.purpose);
      purpose != 0 && !X509_STORE_CTX_set_purpose(ctx, purpose)) {
    return fail(ErrorCode::kInternal, "cannot set purpose: " + crypto::openssl_error_string());
  }
  if (options.check_hostname) {
    if (options.hostname.empty()) {
      return fail(ErrorCode::kInvalidArgument, "check_hostname without a hostname");
    }
    // An IP literal is matched against IP SANs, never as a DNS name.
    const int set =
        is_ip_address(options.hostname)
            ? X509_VERIFY_PARAM_set1_ip_asc(param, options.hostname.c_str())
            : X509_VERIFY_PARAM_set1_host(param, options.hostname.data(), options.hostname.size());
    if (set != 1)
      return fail(ErrorCode::kInvalidArgument, "bad hostname '" + options.hostname + "'");
  }
  return ok();
}

// The Certificate the caller gave us for `x`, if any, so the path shares their parsed state.
const Certificate* find_known(X509* x, const Certificate& leaf,
                              std::span<const Certificate> untrusted,
                              std::span<const Certificate> roots) {
  if (leaf.get() == x) return &leaf;
  for (const auto* group : {&untrusted, &roots}) {
    for (const Certificate& c : *group) {
      if (c.get() == x) return &c;
    }
  }
  return nullptr;
}

}  // namespace

Result<VerifiedChain> verify_chain(const Certificate& leaf, std::span<const Certificate> untrusted,
                                   std::span<const Certificate> roots,
                                   const VerifyOptions& options) {
  crypto::X509StorePtr store(X509_STORE_new());
  crypto::X509StackPtr chain_in = internal::new_x509_stack();
  crypto::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !chain_in || !ctx) return fail(ErrorCode::kInternal, "out of memory");
  for (const Certificate& root : roots) {
    if (!X509_STORE_add_cert(store.get(), root.get())) ERR_clear_error();  // duplicates are fine
  }
  for (const Certificate& c : untrusted) {
    crypto::X509Ptr ref = crypto::up_ref(c.get());
    if (!internal::stack_push(chain_in.get(), ref.get()))
      return fail(ErrorCode::kInternal, "out of memory");
    ref.release();
  }
  if (!X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), chain_in.get())) {
    return fail(ErrorCode::kInternal, "verify setup failed: " + crypto::openssl_error_string());
  }
  CW_RETURN_IF_ERROR(configure(ctx.get(), options));

  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    ERR_clear_error();
    return fail(ErrorCode::kBadSignature, std::string(X509_verify_cert_error_string(err)) +
                                              " (depth " + std::to_string(depth) + ")");
  }
  crypto::X509StackPtr built(X509_STORE_CTX_get1_chain(ctx.get()));
  VerifiedChain out;
  for (int i = 0; i < stack_size(built.get()); ++i) {
    X509* x = stack_at<X509>(built.get(), i);
    if (const Certificate* known = find_known(x, leaf, untrusted, roots)) {
      out.path.push_back(*known);
      continue;
    }
    CW_ASSIGN_OR_RETURN(auto cert, Certificate::from_x509(crypto::up_ref(x)));
    out.path.push_back(std::move(cert));
  }
  if (options.purpose == Purpose::kCodeSigning) CW_RETURN_IF_ERROR(check_code_signing(out.path));
  return out;
}

}  // namespace certward::x509
