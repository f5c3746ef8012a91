#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/buffer.hpp>
#include <boost/system/system_error.hpp>

#include "crypto/handles.h"
#include "http/tls_impl.h"

namespace certward::http {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla "intermediate" for TLS 1.2 without finite-field DHE; TLS 1.3 suites stay default.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr unsigned char kSessionIdContext[] = "certward";

// Adds every certificate of `pem` as a trust anchor and as an acceptable CA name sent in the
// CertificateRequest. Returns how many were added.
int add_client_cas(SSL_CTX* ctx, const std::string& pem) {
  int count = 0;
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return 0;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  // Both calls take their own reference to the certificate.
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(store, cert.get()) != 1 ||
        SSL_CTX_add_client_CA(ctx, cert.get()) != 1) {
      count = 0;
      break;
    }
    ++count;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  return count;
}

// Adds every certificate of `pem` as an acceptable CA name only. Returns how many were added.
int add_client_ca_names(SSL_CTX* ctx, const std::string& pem) {
  int count = 0;
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return 0;
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (SSL_CTX_add_client_CA(ctx, cert.get()) == 1) ++count;
  }
  ERR_clear_error();  // the loop ends on a "no start line" error
  return count;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const TlsSettings& settings) {
  try {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX* native = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
      return fail(ErrorCode::kInternal, "tls: cannot configure protocol versions or ciphers");
    }
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
    ctx->use_certificate_chain(boost::asio::buffer(settings.certificate_chain_pem));
    ctx->use_private_key(boost::asio::buffer(settings.private_key_pem), ssl::context::pem);
    if (SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return fail(ErrorCode::kInvalidArgument, "tls: private key does not match the certificate");
    }
    if (settings.client_ca_pem) {
      if (add_client_cas(native, *settings.client_ca_pem) == 0) {
        return fail(ErrorCode::kInvalidArgument, "tls: client CA bundle holds no certificate");
      }
      // Ask for a certificate; do not require one (fail_if_no_peer_cert stays off).
      ctx->set_verify_mode(ssl::verify_peer);
      // Session resumption with client certificates needs a session id context.
      SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof kSessionIdContext - 1);
    } else if (settings.request_client_certificate) {
      ctx->set_verify_mode(ssl::verify_peer);
      SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof kSessionIdContext - 1);
    } else {
      ctx->set_verify_mode(ssl::verify_none);
    }
    if (settings.request_client_certificate)
      add_client_ca_names(native, settings.requested_client_ca_names_pem);
    return ctx;
  } catch (const boost::system::system_error& e) {
    ERR_clear_error();
    // The message names the failing step only; it never carries key material.
    return fail(ErrorCode::kInvalidArgument, std::string("tls: ") + e.code().message());
  }
}

}  // namespace certward::http
