#pragma once
// RAII owners for OpenSSL objects. An owning raw pointer never outlives the line that made it:
// wrap it in one of these at once. The deleter family is defined here and nowhere else.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/param_build.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>

namespace certward::crypto {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};
template <typename T, auto FreeFn>
using Handle = std::unique_ptr<T, Deleter<FreeFn>>;

inline void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void free_gen_names(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
inline void free_ext_stack(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
inline void free_openssl_string(char* s) { OPENSSL_free(s); }

using X509Ptr = Handle<X509, X509_free>;
using X509ReqPtr = Handle<X509_REQ, X509_REQ_free>;
using X509CrlPtr = Handle<X509_CRL, X509_CRL_free>;
using X509NamePtr = Handle<X509_NAME, X509_NAME_free>;
using X509ExtPtr = Handle<X509_EXTENSION, X509_EXTENSION_free>;
using X509StorePtr = Handle<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = Handle<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509StackPtr = Handle<STACK_OF(X509), free_x509_stack>;
using ExtStackPtr = Handle<STACK_OF(X509_EXTENSION), free_ext_stack>;
using GeneralNamesPtr = Handle<GENERAL_NAMES, free_gen_names>;
using EvpPkeyPtr = Handle<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = Handle<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = Handle<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpCipherCtxPtr = Handle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using BioPtr = Handle<BIO, BIO_free_all>;
using BignumPtr = Handle<BIGNUM, BN_free>;
using Asn1IntegerPtr = Handle<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = Handle<ASN1_TIME, ASN1_TIME_free>;
using Asn1OctetStringPtr = Handle<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Pkcs7Ptr = Handle<PKCS7, PKCS7_free>;
using CmsPtr = Handle<CMS_ContentInfo, CMS_ContentInfo_free>;
using Pkcs12Ptr = Handle<PKCS12, PKCS12_free>;
using Pkcs8InfoPtr = Handle<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>;
using OpensslStringPtr = Handle<char, free_openssl_string>;
using X509SigPtr = Handle<X509_SIG, X509_SIG_free>;
using GeneralNamePtr = Handle<GENERAL_NAME, GENERAL_NAME_free>;
using Asn1ObjectPtr = Handle<ASN1_OBJECT, ASN1_OBJECT_free>;
using PolicyInfoPtr = Handle<POLICYINFO, POLICYINFO_free>;
using EcdsaSigPtr = Handle<ECDSA_SIG, ECDSA_SIG_free>;
using OsslParamBldPtr = Handle<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using OsslParamPtr = Handle<OSSL_PARAM, OSSL_PARAM_free>;

// An extension's decoded value (X509V3_EXT_d2i), whose type only its method knows: freed the
// way that method says.
struct ExtValueDeleter {
  const X509V3_EXT_METHOD* method = nullptr;
  void operator()(void* p) const noexcept {
    if (method->it) {
      ASN1_item_free(static_cast<ASN1_VALUE*>(p), ASN1_ITEM_ptr(method->it));
    } else {
      method->ext_free(p);
    }
  }
};
using ExtValuePtr = std::unique_ptr<void, ExtValueDeleter>;

// Takes one reference on an already-owned object (EVP_PKEY and X509 are refcounted).
inline EvpPkeyPtr up_ref(EVP_PKEY* k) {
  EVP_PKEY_up_ref(k);
  return EvpPkeyPtr(k);
}
inline X509Ptr up_ref(X509* c) {
  X509_up_ref(c);
  return X509Ptr(c);
}

}  // namespace certward::crypto
