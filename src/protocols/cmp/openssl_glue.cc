// What the CMP service asks of OpenSSL's CMP beyond its server: PKIStatusInfo answers, the
// checks of a request's protection made before the server's own, and conversions.

#include "protocols/cmp/openssl_glue.h"

#include <algorithm>

#include <openssl/cmperr.h>
#include <openssl/err.h>

#include "common/encoding.h"
#include "common/log.h"

namespace certward::protocols::cmp {

OSSL_CMP_PKISI* accepted() {
  return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_accepted, 0, nullptr);
}

OSSL_CMP_PKISI* waiting() {
  return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_waiting, 0, nullptr);
}

OSSL_CMP_PKISI* rejected(int fail_info, const std::string& text) {
  log::info("cmp_refused", {{"reason", text}});
  return OSSL_CMP_STATUSINFO_new(OSSL_CMP_PKISTATUS_rejection, 1 << fail_info, text.c_str());
}

int fail_info_of(const Error& e) {
  switch (e.code) {
    case ErrorCode::kUnauthorized:
      return OSSL_CMP_PKIFAILUREINFO_notAuthorized;
    case ErrorCode::kUnavailable:
      return OSSL_CMP_PKIFAILUREINFO_systemUnavail;
    case ErrorCode::kInternal:
      return OSSL_CMP_PKIFAILUREINFO_systemFailure;
    case ErrorCode::kBadSignature:
      return OSSL_CMP_PKIFAILUREINFO_badPOP;
    default:
      return OSSL_CMP_PKIFAILUREINFO_badCertTemplate;
  }
}

int log_cb(const char*, const char*, int, OSSL_CMP_severity level, const char* msg) {
  if (level <= OSSL_CMP_LOG_WARNING) {
    std::string text(msg != nullptr ? msg : "");
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    log::info("cmp_openssl", {{"message", text}});
  }
  return 1;
}

bool signed_by(const OSSL_CMP_MSG* req, const x509::Certificate& cert) {
  CtxPtr v(OSSL_CMP_CTX_new(nullptr, nullptr));
  if (!v) return false;
  OSSL_CMP_CTX_set_log_cb(v.get(), log_cb);
  OSSL_CMP_CTX_set_log_verbosity(v.get(), OSSL_CMP_LOG_EMERG);
  bool ok = OSSL_CMP_CTX_set1_srvCert(v.get(), cert.get()) == 1 &&
            OSSL_CMP_validate_msg(v.get(), req) == 1;
  ERR_clear_error();
  return ok;
}

bool mac_ok(const OSSL_CMP_MSG* req, const crypto::SecretBytes& secret) {
  CtxPtr v(OSSL_CMP_CTX_new(nullptr, nullptr));
  if (!v) return false;
  OSSL_CMP_CTX_set_log_cb(v.get(), log_cb);
  OSSL_CMP_CTX_set_log_verbosity(v.get(), OSSL_CMP_LOG_EMERG);
  bool ok = OSSL_CMP_CTX_set1_secretValue(v.get(), secret.span().data(),
                                          static_cast<int>(secret.span().size())) == 1 &&
            OSSL_CMP_validate_msg(v.get(), req) == 1;
  ERR_clear_error();
  return ok;
}

STACK_OF(X509) * stack_of(std::span<const x509::Certificate> certs) {
  STACK_OF(X509)* sk = sk_X509_new_null();
  for (const auto& c : certs) {
    if (sk == nullptr || !X509_up_ref(c.get()) || !sk_X509_push(sk, c.get())) {
      sk_X509_pop_free(sk, X509_free);
      return nullptr;
    }
  }
  return sk;
}

std::string serial_hex(const ASN1_INTEGER* serial) {
  crypto::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return {};
  // A zero serial still has one byte: the size is fixed before the copy.
  Bytes b(static_cast<std::size_t>(std::max(BN_num_bytes(bn.get()), 1)), 0);
  BN_bn2binpad(bn.get(), b.data(), static_cast<int>(b.size()));
  return to_hex(b);
}

const EVP_MD* cert_hash_digest(const x509::Certificate& cert) {
  int md = NID_undef;
  int pk = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(cert.get()), &md, &pk) && md != NID_undef)
    return EVP_get_digestbynid(md);
  return EVP_sha256();  // Ed25519 and the like sign without a separate digest
}

}  // namespace certward::protocols::cmp
