#pragma once
// What the CMP service asks of OpenSSL's CMP beyond its server (OSSL_CMP_SRV_CTX): the
// PKIStatusInfo of an answer, the checks of a request's protection made before the server's
// own, and conversions between OpenSSL's types and the inventory's.

#include <openssl/cmp.h>

#include <span>
#include <string>

#include "common/error.h"
#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "crypto/secret_bytes.h"
#include "x509/certificate.h"

namespace certward::protocols::cmp {

using CtxPtr = crypto::Handle<OSSL_CMP_CTX, OSSL_CMP_CTX_free>;

// PKIStatusInfo answers; the caller (OpenSSL's server) owns them. rejected() logs `text`.
OSSL_CMP_PKISI* accepted();
OSSL_CMP_PKISI* waiting();
OSSL_CMP_PKISI* rejected(int fail_info, const std::string& text);
// The failInfo an RA error maps to.
int fail_info_of(const Error& e);

// OpenSSL's CMP log (its server prints the error queue through it) goes to ours.
int log_cb(const char* func, const char* file, int line, OSSL_CMP_severity level, const char* msg);

// Whether `req` is signed by exactly this certificate (pinned: no path is built).
bool signed_by(const OSSL_CMP_MSG* req, const x509::Certificate& cert);
// Whether `req`'s MAC verifies with `secret`, checked apart so that a wrong secret is answered
// with an error signed by the RA rather than MACed with a secret the client does not have.
bool mac_ok(const OSSL_CMP_MSG* req, const crypto::SecretBytes& secret);

// The certificates as a new stack the caller owns; null on failure.
STACK_OF(X509) * stack_of(std::span<const x509::Certificate> certs);
// A serial number as the inventory writes it (lowercase hex).
std::string serial_hex(const ASN1_INTEGER* serial);
// The digest certHash uses: the one the certificate is signed with (RFC 4210 5.3.18).
const EVP_MD* cert_hash_digest(const x509::Certificate& cert);

}  // namespace certward::protocols::cmp
