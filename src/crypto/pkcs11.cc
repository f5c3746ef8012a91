// PKCS#11 keys: generating and finding them in a token, and signing with them.
//
// How the signer plugs into OpenSSL: the token key is presented to OpenSSL as a legacy
// EC_KEY or RSA object that has the public key only and a method table whose private
// operation (ECDSA signing, the RSA PKCS#1 private encryption) asks the token. OpenSSL 3.0
// keeps such "foreign" keys on its legacy code path instead of handing them to a provider, so
// X509_sign, X509_CRL_sign and EVP_DigestSign work on them unchanged: the certificate and CRL
// encodings, algorithm identifiers and digests are OpenSSL's, and only the private-key
// operation happens in the token. Those APIs are deprecated in 3.0 but fully supported; they
// are used only in this file.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto/pkcs11.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "crypto/pkcs11_token.h"

namespace certward::crypto {
namespace {

using pkcs11::Session;
using pkcs11::Token;

// The error of the last token operation on this thread that failed inside an OpenSSL
// callback, which can only say "failed": the signer reports it instead of OpenSSL's.
thread_local std::optional<Error> t_token_error;

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}

Result<std::shared_ptr<Token>> token_for(const Pkcs11KeyRef& ref) {
  if (ref.token.empty()) return fail(ErrorCode::kInvalidArgument, "no PKCS#11 token named");
  return Token::get(ref.module, ref.token, ref.pin_source);
}

// Object handles matching `tmpl` (at most `max`).
Result<std::vector<CK_OBJECT_HANDLE>> find_objects(Session& s, std::vector<CK_ATTRIBUTE> tmpl,
                                                   std::size_t max = 4) {
  std::vector<CK_OBJECT_HANDLE> found(max);
  CK_ULONG n = 0;
  CK_RV rv = s.call([&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) {
    CK_RV r = fn->C_FindObjectsInit(h, tmpl.data(), static_cast<CK_ULONG>(tmpl.size()));
    if (r != CKR_OK) return r;
    r = fn->C_FindObjects(h, found.data(), static_cast<CK_ULONG>(max), &n);
    fn->C_FindObjectsFinal(h);
    return r;
  });
  if (rv != CKR_OK) {
    if (pkcs11::token_lost(rv)) return std::unexpected(s.lost(rv, "C_FindObjects"));
    return fail(ErrorCode::kInternal, "C_FindObjects failed: " + pkcs11::rv_text(rv));
  }
  found.resize(n);
  return found;
}

// One attribute's value; nullopt when the object does not have it.
Result<std::optional<Bytes>> get_attribute(Session& s, CK_OBJECT_HANDLE obj,
                                           CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = s.call([&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) {
    return fn->C_GetAttributeValue(h, obj, &a, 1);
  });
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE ||
      a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return std::optional<Bytes>();
  }
  if (rv == CKR_OK) {
    Bytes value(a.ulValueLen);
    a.pValue = value.data();
    rv = s.call([&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) {
      return fn->C_GetAttributeValue(h, obj, &a, 1);
    });
    if (rv == CKR_OK) {
      value.resize(a.ulValueLen);
      return std::optional<Bytes>(std::move(value));
    }
  }
  if (pkcs11::token_lost(rv)) return std::unexpected(s.lost(rv, "C_GetAttributeValue"));
  return fail(ErrorCode::kInternal, "C_GetAttributeValue failed: " + pkcs11::rv_text(rv));
}

Result<bool> get_bool(Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CW_ASSIGN_OR_RETURN(auto v, get_attribute(s, obj, type));
  return v && v->size() == 1 && (*v)[0] != 0;
}

Result<CK_ULONG> get_ulong(Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CW_ASSIGN_OR_RETURN(auto v, get_attribute(s, obj, type));
  if (!v || v->size() != sizeof(CK_ULONG)) {
    return fail(ErrorCode::kInternal, "token object lacks a required attribute");
  }
  CK_ULONG out = 0;
  std::memcpy(&out, v->data(), sizeof(out));
  return out;
}

// The template that names the key pair's objects of `klass`: its id and/or label.
std::vector<CK_ATTRIBUTE> key_template(const CK_OBJECT_CLASS& klass, const Bytes& id,
                                       const std::string& label) {
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &klass, sizeof(klass))};
  if (!id.empty()) t.push_back(attr(CKA_ID, id.data(), id.size()));
  if (!label.empty()) t.push_back(attr(CKA_LABEL, label.data(), label.size()));
  return t;
}

// SubjectPublicKeyInfo DER → a provider key, the form every other part of certward uses.
Result<EvpPkeyPtr> key_from_spki(EVP_PKEY* legacy) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(legacy, &der);
  if (len <= 0) return fail(ErrorCode::kInternal, "cannot encode the token's public key");
  Bytes spki(der, der + len);
  OPENSSL_free(der);
  return parse_public_key(spki);
}

// The public key of the key pair: from the public key object with the same CKA_ID, else
// (RSA) from the private key's own modulus and exponent.
Result<EvpPkeyPtr> read_public_key(Session& s, CK_OBJECT_HANDLE priv, const Bytes& id,
                                   CK_KEY_TYPE type) {
  const CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  CW_ASSIGN_OR_RETURN(auto pubs, find_objects(s, key_template(pub_class, id, ""), 2));
  const std::optional<CK_OBJECT_HANDLE> pub =
      pubs.size() == 1 ? std::optional<CK_OBJECT_HANDLE>(pubs.front()) : std::nullopt;
  if (type == CKK_RSA) {
    const CK_OBJECT_HANDLE from = pub.value_or(priv);
    CW_ASSIGN_OR_RETURN(auto n, get_attribute(s, from, CKA_MODULUS));
    CW_ASSIGN_OR_RETURN(auto e, get_attribute(s, from, CKA_PUBLIC_EXPONENT));
    if (!n || !e) return fail(ErrorCode::kNotFound, "the token does not show the RSA public key");
    Handle<RSA, RSA_free> rsa(RSA_new());
    BIGNUM* bn_n = BN_bin2bn(n->data(), static_cast<int>(n->size()), nullptr);
    BIGNUM* bn_e = BN_bin2bn(e->data(), static_cast<int>(e->size()), nullptr);
    if (!rsa || !bn_n || !bn_e || RSA_set0_key(rsa.get(), bn_n, bn_e, nullptr) != 1) {
      BN_free(bn_n);
      BN_free(bn_e);
      return fail(ErrorCode::kInternal, "out of memory");
    }
    EvpPkeyPtr legacy(EVP_PKEY_new());
    if (!legacy || EVP_PKEY_assign_RSA(legacy.get(), rsa.get()) != 1) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    rsa.release();
    return key_from_spki(legacy.get());
  }
  if (!pub) {
    return fail(ErrorCode::kNotFound,
                "the token has no public key object with the key's CKA_ID, so its EC public key "
                "cannot be read");
  }
  CW_ASSIGN_OR_RETURN(auto params, get_attribute(s, *pub, CKA_EC_PARAMS));
  CW_ASSIGN_OR_RETURN(auto point, get_attribute(s, *pub, CKA_EC_POINT));
  if (!params || !point) return fail(ErrorCode::kNotFound, "the token does not show the EC key");
  const unsigned char* p = params->data();
  Asn1ObjectPtr curve(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(params->size())));
  const int nid = curve ? OBJ_obj2nid(curve.get()) : NID_undef;
  if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
    return fail(ErrorCode::kPolicyRejected,
                "the token key is on a curve certward does not use "
                "for CAs (P-256 and P-384 only)");
  }
  // CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40); a few modules give
  // the bare point.
  Bytes raw = *point;
  const unsigned char* q = point->data();
  if (Asn1OctetStringPtr os(d2i_ASN1_OCTET_STRING(nullptr, &q, static_cast<long>(point->size())));
      os && q == point->data() + point->size()) {
    raw.assign(ASN1_STRING_get0_data(os.get()),
               ASN1_STRING_get0_data(os.get()) + ASN1_STRING_length(os.get()));
  }
  Handle<EC_KEY, EC_KEY_free> ec(EC_KEY_new_by_curve_name(nid));
  const unsigned char* r = raw.data();
  EC_KEY* ec_raw = ec.get();
  if (!ec || !o2i_ECPublicKey(&ec_raw, &r, static_cast<long>(raw.size()))) {
    return fail(ErrorCode::kMalformed, "the token's EC point does not decode");
  }
  EvpPkeyPtr legacy(EVP_PKEY_new());
  if (!legacy || EVP_PKEY_assign_EC_KEY(legacy.get(), ec.get()) != 1) {
    return fail(ErrorCode::kInternal, "out of memory");
  }
  ec.release();
  return key_from_spki(legacy.get());
}

// Labels certward writes, and keeps for keys it binds: 1 to 128 printable ASCII characters.
Status check_label(std::string_view label) {
  if (label.empty() || label.size() > 128) {
    return fail(ErrorCode::kInvalidArgument, "a token key label is 1 to 128 characters");
  }
  for (unsigned char c : label) {
    if (c < 0x20 || c > 0x7e) {
      return fail(ErrorCode::kInvalidArgument,
                  "a token key label is printable ASCII (no control or non-ASCII characters)");
    }
  }
  return ok();
}

// What a key reference names in the token.
struct FoundKey {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  CK_KEY_TYPE type = CKK_EC;
  Bytes id;
  std::string label;
};

// The one private key `ref` names (by id, label or both). With `check_policy`, also that it
// is a signing key that never leaves the token, as certward requires of a CA key.
Result<FoundKey> locate(Session& s, const Pkcs11KeyRef& ref, bool check_policy) {
  Bytes id;
  if (!ref.id_hex.empty()) {
    auto decoded = from_hex(ref.id_hex);
    if (!decoded || decoded->empty()) {
      return fail(ErrorCode::kInvalidArgument, "PKCS#11 key id '" + ref.id_hex + "' is not hex");
    }
    id = std::move(*decoded);
  }
  if (id.empty() && ref.label.empty()) {
    return fail(ErrorCode::kInvalidArgument, "name the token key by its label or id");
  }
  if (id.size() > 64) return fail(ErrorCode::kInvalidArgument, "a key id is at most 64 bytes");
  if (!ref.label.empty()) CW_RETURN_IF_ERROR(check_label(ref.label));
  const CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  CW_ASSIGN_OR_RETURN(auto found, find_objects(s, key_template(priv_class, id, ref.label), 2));
  const std::string what = "private key " + (ref.label.empty() ? "" : "'" + ref.label + "' ") +
                           (id.empty() ? "" : "(id " + ref.id_hex + ") ") + "in token '" +
                           ref.token + "'";
  if (found.empty()) return fail(ErrorCode::kNotFound, "no " + what);
  if (found.size() > 1) return fail(ErrorCode::kConflict, "more than one " + what);
  FoundKey k;
  k.handle = found.front();
  CW_ASSIGN_OR_RETURN(k.type, get_ulong(s, k.handle, CKA_KEY_TYPE));
  CW_ASSIGN_OR_RETURN(auto id_attr, get_attribute(s, k.handle, CKA_ID));
  CW_ASSIGN_OR_RETURN(auto label_attr, get_attribute(s, k.handle, CKA_LABEL));
  if (id_attr) k.id = *id_attr;
  // A label that is not printable text is not kept (the key is found again by its id).
  if (label_attr && check_label(as_chars(*label_attr))) {
    k.label.assign(label_attr->begin(), label_attr->end());
  }
  if (!check_policy) return k;
  if (k.type != CKK_RSA && k.type != CKK_EC) {
    return fail(ErrorCode::kPolicyRejected, "the " + what + " is neither RSA nor EC");
  }
  if (k.id.empty()) {
    return fail(ErrorCode::kPolicyRejected,
                "the " + what + " has no CKA_ID: certward finds keys again by their id");
  }
  CW_ASSIGN_OR_RETURN(bool sign, get_bool(s, k.handle, CKA_SIGN));
  if (!sign) return fail(ErrorCode::kPolicyRejected, "the " + what + " may not sign");
  // Sensitive and not extractable now is not enough: a key that was ever readable, or made
  // outside the token and imported, may exist elsewhere too.
  for (const auto& [attribute, name] : {std::pair{CKA_SENSITIVE, "CKA_SENSITIVE"},
                                        std::pair{CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE"},
                                        std::pair{CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE"},
                                        std::pair{CKA_LOCAL, "CKA_LOCAL"}}) {
    CW_ASSIGN_OR_RETURN(bool set, get_bool(s, k.handle, attribute));
    if (!set) {
      return fail(ErrorCode::kPolicyRejected,
                  "the " + what + " has " + name +
                      " false: a CA key held in a token must have been generated there and "
                      "never been extractable");
    }
  }
  CW_ASSIGN_OR_RETURN(bool extractable, get_bool(s, k.handle, CKA_EXTRACTABLE));
  if (extractable) {
    return fail(ErrorCode::kPolicyRejected, "the " + what + " is extractable");
  }
  // A CA key signs and does nothing else.
  for (const auto& [attribute, name] :
       {std::pair{CKA_DECRYPT, "decrypt"}, std::pair{CKA_UNWRAP, "unwrap"},
        std::pair{CKA_DERIVE, "derive"}}) {
    CW_ASSIGN_OR_RETURN(bool set, get_bool(s, k.handle, attribute));
    if (set) {
      return fail(ErrorCode::kPolicyRejected,
                  "the " + what + " may also " + name + ": a CA key must be for signing only");
    }
  }
  return k;
}

// ---- The signer ----------------------------------------------------------------------------

class Pkcs11Signer final : public Signer {
 public:
  Pkcs11Signer(std::shared_ptr<Token> token, Bytes id, EvpPkeyPtr public_key)
      : token_(std::move(token)), id_(std::move(id)), public_(std::move(public_key)) {}
  // Builds the key OpenSSL signs with; `this` must not move afterwards.
  Status attach();

  const EVP_PKEY* public_key() const override { return public_.get(); }
  Status sign_certificate(X509* cert) const override {
    return guarded([&] { return inner_->sign_certificate(cert); });
  }
  Status sign_crl(X509_CRL* crl) const override {
    return guarded([&] { return inner_->sign_crl(crl); });
  }
  Status sign_request(X509_REQ* req) const override {
    return guarded([&] { return inner_->sign_request(req); });
  }
  Result<Bytes> sign_data(std::span<const std::uint8_t> data) const override {
    return guarded([&] { return inner_->sign_data(data); });
  }

  // The token's private-key operation, called back from OpenSSL on the signing thread. The
  // signature is checked against the public key before it is used: a key replaced under the
  // same CKA_ID (or a public key object that is not the private key's) never signs anything
  // certward hands out. Errors: kUnavailable (token gone, or its key is not this one).
  Result<Bytes> token_sign(CK_MECHANISM_TYPE mechanism, std::span<const std::uint8_t> in) const;
  // One signature made and checked when the signer is opened. Errors: kPolicyRejected (the
  // public key read from the token is not the private key's), those of the token.
  Status self_test() const;

 private:
  // Runs an OpenSSL signing call and reports the token's own error when it was the token
  // that failed (an unavailable token must read as kUnavailable, not as a signing bug).
  template <typename F>
  auto guarded(F&& f) const -> decltype(f()) {
    t_token_error.reset();
    auto r = f();
    if (!r && t_token_error) {
      Error e = std::move(*t_token_error);
      t_token_error.reset();
      return std::unexpected(std::move(e));
    }
    return r;
  }
  Result<CK_OBJECT_HANDLE> key_handle(Session& s) const;
  Result<Bytes> raw_sign(CK_MECHANISM_TYPE mechanism, std::span<const std::uint8_t> in) const;
  bool verifies(std::span<const std::uint8_t> in, std::span<const std::uint8_t> sig) const;
  CK_MECHANISM_TYPE mechanism() const { return verify_ec_ ? CKM_ECDSA : CKM_RSA_PKCS; }

  std::shared_ptr<Token> token_;
  const Bytes id_;
  EvpPkeyPtr public_;
  std::unique_ptr<SoftwareSigner> inner_;
  // The public key again as a plain legacy object, to check every signature the token makes.
  Handle<EC_KEY, EC_KEY_free> verify_ec_;
  Handle<RSA, RSA_free> verify_rsa_;
  mutable common::Mutex mu_;
  // Object handles stay valid while the module is not initialised again.
  mutable std::uint64_t handle_generation_ CW_GUARDED_BY(mu_) = 0;
  mutable CK_OBJECT_HANDLE handle_ CW_GUARDED_BY(mu_) = CK_INVALID_HANDLE;
};

Result<CK_OBJECT_HANDLE> Pkcs11Signer::key_handle(Session& s) const {
  {
    common::MutexLock lock(mu_);
    if (handle_generation_ == s.generation()) return handle_;
  }
  const CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  CW_ASSIGN_OR_RETURN(auto found, find_objects(s, key_template(priv_class, id_, ""), 2));
  if (found.size() != 1) {
    return fail(ErrorCode::kUnavailable, "PKCS#11 token '" + token_->label() +
                                             "' does not hold the key (id " + to_hex(id_) + ")");
  }
  common::MutexLock lock(mu_);
  handle_generation_ = s.generation();
  handle_ = found.front();
  return handle_;
}

bool Pkcs11Signer::verifies(std::span<const std::uint8_t> in,
                            std::span<const std::uint8_t> sig) const {
  if (verify_ec_) {
    if (sig.empty() || sig.size() % 2 != 0) return false;
    const int half = static_cast<int>(sig.size() / 2);
    EcdsaSigPtr s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), half, nullptr);
    BIGNUM* sv = BN_bin2bn(sig.data() + half, half, nullptr);
    if (!s || !r || !sv || ECDSA_SIG_set0(s.get(), r, sv) != 1) {
      BN_free(r);
      BN_free(sv);
      return false;
    }
    return ECDSA_do_verify(in.data(), static_cast<int>(in.size()), s.get(), verify_ec_.get()) == 1;
  }
  if (!verify_rsa_) return false;
  Bytes out(static_cast<std::size_t>(RSA_size(verify_rsa_.get())));
  const int n = RSA_public_decrypt(static_cast<int>(sig.size()), sig.data(), out.data(),
                                   verify_rsa_.get(), RSA_PKCS1_PADDING);
  return n >= 0 && static_cast<std::size_t>(n) == in.size() &&
         std::equal(in.begin(), in.end(), out.begin());
}

Result<Bytes> Pkcs11Signer::token_sign(CK_MECHANISM_TYPE mechanism,
                                       std::span<const std::uint8_t> in) const {
  CW_ASSIGN_OR_RETURN(Bytes sig, raw_sign(mechanism, in));
  if (!verifies(in, sig)) {
    // Find the key again next time: it may have been replaced under its id.
    {
      common::MutexLock lock(mu_);
      handle_generation_ = 0;
    }
    return fail(ErrorCode::kUnavailable, "PKCS#11 token '" + token_->label() +
                                             "': the key with id " + to_hex(id_) +
                                             " no longer matches the authority's public key");
  }
  return sig;
}

Status Pkcs11Signer::self_test() const {
  const Bytes probe = sha256(random_bytes(32));
  CW_ASSIGN_OR_RETURN(Bytes sig, raw_sign(mechanism(), probe));
  if (!verifies(probe, sig)) {
    return fail(ErrorCode::kPolicyRejected,
                "the token's public key with id " + to_hex(id_) +
                    " is not the private key's: its signatures do not verify");
  }
  return ok();
}

Result<Bytes> Pkcs11Signer::raw_sign(CK_MECHANISM_TYPE mechanism,
                                     std::span<const std::uint8_t> in) const {
  // A second attempt covers a pooled session that died with an earlier reconnection; a token
  // that is really gone fails both.
  Error last{ErrorCode::kUnavailable, "PKCS#11 token '" + token_->label() + "' is unavailable"};
  for (int attempt = 0; attempt < 2; ++attempt) {
    CW_ASSIGN_OR_RETURN(Session s, token_->session());
    auto key = key_handle(s);
    if (!key) {
      last = key.error();
      continue;
    }
    Bytes sig(1024);  // RSA-4096 needs 512 bytes, P-384 96
    CK_ULONG len = static_cast<CK_ULONG>(sig.size());
    CK_MECHANISM mech{mechanism, nullptr, 0};
    const CK_RV rv = s.call([&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) {
      CK_RV r = fn->C_SignInit(h, &mech, *key);
      if (r != CKR_OK) return r;
      return fn->C_Sign(h, const_cast<CK_BYTE*>(in.data()), static_cast<CK_ULONG>(in.size()),
                        sig.data(), &len);
    });
    if (rv == CKR_OK) {
      sig.resize(len);
      return sig;
    }
    if (!pkcs11::token_lost(rv)) {
      return fail(ErrorCode::kInternal, "PKCS#11 signature failed: " + pkcs11::rv_text(rv));
    }
    last = s.lost(rv, "C_Sign");
  }
  return std::unexpected(last);
}

int ec_ex_index() {
  static const int index = EC_KEY_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int rsa_ex_index() {
  static const int index = RSA_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

ECDSA_SIG* ec_sign_sig(const unsigned char* dgst, int dgst_len, const BIGNUM*, const BIGNUM*,
                       EC_KEY* ec) {
  const auto* signer = static_cast<const Pkcs11Signer*>(EC_KEY_get_ex_data(ec, ec_ex_index()));
  if (!signer || dgst_len <= 0) return nullptr;
  auto raw = signer->token_sign(
      CKM_ECDSA, std::span<const std::uint8_t>(dgst, static_cast<std::size_t>(dgst_len)));
  if (!raw) {
    t_token_error = raw.error();
    return nullptr;
  }
  // CKM_ECDSA answers r || s, each as long as the group order.
  if (raw->empty() || raw->size() % 2 != 0) {
    t_token_error = Error{ErrorCode::kInternal, "the token returned a malformed ECDSA signature"};
    return nullptr;
  }
  const int half = static_cast<int>(raw->size() / 2);
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw->data(), half, nullptr);
  BIGNUM* s = BN_bin2bn(raw->data() + half, half, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return nullptr;
  }
  return sig.release();
}

int ec_sign(int, const unsigned char* dgst, int dlen, unsigned char* out, unsigned int* outlen,
            const BIGNUM* kinv, const BIGNUM* r, EC_KEY* ec) {
  EcdsaSigPtr sig(ec_sign_sig(dgst, dlen, kinv, r, ec));
  if (!sig) return 0;
  unsigned char* p = out;
  const int n = i2d_ECDSA_SIG(sig.get(), &p);
  if (n <= 0) return 0;
  *outlen = static_cast<unsigned int>(n);
  return 1;
}

// OpenSSL hands PKCS#1 v1.5 signing the DigestInfo to be padded and raised to d: CKM_RSA_PKCS
// does exactly that in the token.
int rsa_priv_enc(int flen, const unsigned char* from, unsigned char* to, RSA* rsa, int padding) {
  if (padding != RSA_PKCS1_PADDING) {
    t_token_error =
        Error{ErrorCode::kInvalidArgument, "a PKCS#11 RSA key signs with PKCS#1 v1.5 padding only"};
    return -1;
  }
  const auto* signer = static_cast<const Pkcs11Signer*>(RSA_get_ex_data(rsa, rsa_ex_index()));
  if (!signer || flen <= 0) return -1;
  auto raw = signer->token_sign(
      CKM_RSA_PKCS, std::span<const std::uint8_t>(from, static_cast<std::size_t>(flen)));
  if (!raw) {
    t_token_error = raw.error();
    return -1;
  }
  if (raw->size() > static_cast<std::size_t>(RSA_size(rsa))) return -1;
  std::memcpy(to, raw->data(), raw->size());
  return static_cast<int>(raw->size());
}

// A CA key never decrypts.
int rsa_priv_dec(int, const unsigned char*, unsigned char*, RSA*, int) { return -1; }

const EC_KEY_METHOD* ec_method() {
  static EC_KEY_METHOD* const method = [] {
    EC_KEY_METHOD* m = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
    CW_CHECK(m != nullptr);
    int (*sign)(int, const unsigned char*, int, unsigned char*, unsigned int*, const BIGNUM*,
                const BIGNUM*, EC_KEY*) = nullptr;
    int (*setup)(EC_KEY*, BN_CTX*, BIGNUM**, BIGNUM**) = nullptr;
    ECDSA_SIG* (*sign_sig)(const unsigned char*, int, const BIGNUM*, const BIGNUM*, EC_KEY*) =
        nullptr;
    EC_KEY_METHOD_get_sign(m, &sign, &setup, &sign_sig);
    EC_KEY_METHOD_set_sign(m, ec_sign, setup, ec_sign_sig);
    return m;
  }();
  return method;
}

const RSA_METHOD* rsa_method() {
  static RSA_METHOD* const method = [] {
    RSA_METHOD* m = RSA_meth_dup(RSA_PKCS1_OpenSSL());
    CW_CHECK(m != nullptr);
    RSA_meth_set1_name(m, "certward PKCS#11");
    RSA_meth_set_priv_enc(m, rsa_priv_enc);
    RSA_meth_set_priv_dec(m, rsa_priv_dec);
    return m;
  }();
  return method;
}

Status Pkcs11Signer::attach() {
  EvpPkeyPtr key(EVP_PKEY_new());
  if (!key) return fail(ErrorCode::kInternal, "out of memory");
  // Fresh legacy objects: the provider key's own legacy cache must not get our method.
  if (EVP_PKEY_get_base_id(public_.get()) == EVP_PKEY_EC) {
    const EC_KEY* src = EVP_PKEY_get0_EC_KEY(public_.get());
    Handle<EC_KEY, EC_KEY_free> ec(EC_KEY_new());
    if (!src || !ec || EC_KEY_set_method(ec.get(), ec_method()) != 1 ||
        EC_KEY_set_group(ec.get(), EC_KEY_get0_group(src)) != 1 ||
        EC_KEY_set_public_key(ec.get(), EC_KEY_get0_public_key(src)) != 1 ||
        EC_KEY_set_ex_data(ec.get(), ec_ex_index(), this) != 1 ||
        EVP_PKEY_assign_EC_KEY(key.get(), ec.get()) != 1) {
      return fail(ErrorCode::kInternal,
                  "cannot set up the token EC key: " + openssl_error_string());
    }
    ec.release();
  } else {
    const RSA* src = EVP_PKEY_get0_RSA(public_.get());
    Handle<RSA, RSA_free> rsa(RSA_new());
    const BIGNUM *n = nullptr, *e = nullptr;
    if (src) RSA_get0_key(src, &n, &e, nullptr);
    BIGNUM* n2 = n ? BN_dup(n) : nullptr;
    BIGNUM* e2 = e ? BN_dup(e) : nullptr;
    if (!rsa || !n2 || !e2 || RSA_set_method(rsa.get(), rsa_method()) != 1 ||
        RSA_set0_key(rsa.get(), n2, e2, nullptr) != 1) {
      BN_free(n2);
      BN_free(e2);
      return fail(ErrorCode::kInternal, "cannot set up the token RSA key");
    }
    if (RSA_set_ex_data(rsa.get(), rsa_ex_index(), this) != 1 ||
        EVP_PKEY_assign_RSA(key.get(), rsa.get()) != 1) {
      return fail(ErrorCode::kInternal, "cannot set up the token RSA key");
    }
    rsa.release();
  }
  inner_ = std::make_unique<SoftwareSigner>(std::make_shared<const PrivateKey>(std::move(key)));
  if (EVP_PKEY_get_base_id(public_.get()) == EVP_PKEY_EC) {
    verify_ec_.reset(EVP_PKEY_get1_EC_KEY(public_.get()));
  } else {
    verify_rsa_.reset(EVP_PKEY_get1_RSA(public_.get()));
  }
  if (!verify_ec_ && !verify_rsa_) return fail(ErrorCode::kInternal, "cannot read the public key");
  return ok();
}

}  // namespace

std::string pkcs11_key_ref_json(const Pkcs11KeyRef& r) {
  return nlohmann::json{{"module", r.module},
                        {"token", r.token},
                        {"label", r.label},
                        {"id", r.id_hex},
                        {"pin_source", r.pin_source}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Pkcs11KeyRef> parse_pkcs11_key_ref(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  const auto str = [&](const char* k) -> std::optional<std::string> {
    if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  Pkcs11KeyRef r;
  auto module = str("module"), token = str("token"), label = str("label"), id = str("id"),
       pin = str("pin_source");
  if (!module || !token || !label || !id || !pin) {
    return fail(ErrorCode::kMalformed, "malformed PKCS#11 key reference");
  }
  r.module = *module;
  r.token = *token;
  r.label = *label;
  r.id_hex = *id;
  r.pin_source = *pin;
  return r;
}

Result<SecretBytes> read_pin(std::string_view source) {
  if (source.starts_with("env:")) {
    const std::string name(source.substr(4));
    const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
    if (!v || !*v) {
      return fail(ErrorCode::kNotFound, "environment variable " + name + " (the PIN) is not set");
    }
    return SecretBytes::copy_of(v);
  }
  if (source.starts_with("file:")) {
    const std::string path(source.substr(5));
    std::ifstream in(path, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return fail(ErrorCode::kNotFound, "cannot read the PIN file " + path);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return fail(ErrorCode::kNotFound, "the PIN file " + path + " is empty");
    return SecretBytes::take(line);
  }
  return fail(ErrorCode::kInvalidArgument,
              "a PIN source is env:NAME or file:/path, not '" + std::string(source) + "'");
}

Result<Pkcs11KeyRef> pkcs11_generate_key(Pkcs11KeyRef ref, KeyType type) {
  CK_ULONG bits = 0;
  int nid = NID_undef;
  switch (type) {
    case KeyType::kRsa2048:
      bits = 2048;
      break;
    case KeyType::kRsa3072:
      bits = 3072;
      break;
    case KeyType::kRsa4096:
      bits = 4096;
      break;
    case KeyType::kEcP256:
      nid = NID_X9_62_prime256v1;
      break;
    case KeyType::kEcP384:
      nid = NID_secp384r1;
      break;
    default:
      return fail(ErrorCode::kInvalidArgument,
                  "a PKCS#11 CA key is rsa-2048, rsa-3072, rsa-4096, ec-p256 or ec-p384, not " +
                      std::string(key_type_name(type)));
  }
  CW_RETURN_IF_ERROR(check_label(ref.label));
  CW_ASSIGN_OR_RETURN(auto token, token_for(ref));
  // One generation at a time per process: the label check and the generation are not one
  // token operation, and two requests for one label must not both pass the check.
  static common::Mutex generating;
  common::MutexLock serial(generating);
  CW_ASSIGN_OR_RETURN(Session s, token->session());
  // Labels are how operators tell keys apart in the token's own tools: never two alike.
  const CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
  for (const CK_OBJECT_CLASS* klass : {&priv_class, &pub_class}) {
    CW_ASSIGN_OR_RETURN(auto same, find_objects(s, key_template(*klass, {}, ref.label), 1));
    if (!same.empty()) {
      return fail(ErrorCode::kConflict,
                  "token '" + ref.token + "' already holds a key labelled '" + ref.label + "'");
    }
  }
  const Bytes id = random_bytes(16);
  ref.id_hex = to_hex(id);
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  Bytes curve;
  if (nid != NID_undef) {
    unsigned char* der = nullptr;
    const int len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der);
    if (len <= 0) return fail(ErrorCode::kInternal, "cannot encode the curve");
    curve.assign(der, der + len);
    OPENSSL_free(der);
  }
  const unsigned char exponent[] = {0x01, 0x00, 0x01};
  std::vector<CK_ATTRIBUTE> pub = {attr(CKA_TOKEN, &yes, sizeof(yes)),
                                   attr(CKA_VERIFY, &yes, sizeof(yes)),
                                   attr(CKA_ENCRYPT, &no, sizeof(no)),
                                   attr(CKA_WRAP, &no, sizeof(no)),
                                   attr(CKA_LABEL, ref.label.data(), ref.label.size()),
                                   attr(CKA_ID, id.data(), id.size())};
  if (nid != NID_undef) {
    pub.push_back(attr(CKA_EC_PARAMS, curve.data(), curve.size()));
  } else {
    pub.push_back(attr(CKA_MODULUS_BITS, &bits, sizeof(bits)));
    pub.push_back(attr(CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)));
  }
  std::vector<CK_ATTRIBUTE> priv = {attr(CKA_TOKEN, &yes, sizeof(yes)),
                                    attr(CKA_PRIVATE, &yes, sizeof(yes)),
                                    attr(CKA_SENSITIVE, &yes, sizeof(yes)),
                                    attr(CKA_EXTRACTABLE, &no, sizeof(no)),
                                    attr(CKA_SIGN, &yes, sizeof(yes)),
                                    attr(CKA_DECRYPT, &no, sizeof(no)),
                                    attr(CKA_UNWRAP, &no, sizeof(no)),
                                    attr(CKA_DERIVE, &no, sizeof(no)),
                                    attr(CKA_LABEL, ref.label.data(), ref.label.size()),
                                    attr(CKA_ID, id.data(), id.size())};
  CK_MECHANISM mech{nid != NID_undef ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
  const CK_RV rv = s.call([&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) {
    return fn->C_GenerateKeyPair(h, &mech, pub.data(), static_cast<CK_ULONG>(pub.size()),
                                 priv.data(), static_cast<CK_ULONG>(priv.size()), &pub_h, &priv_h);
  });
  if (rv != CKR_OK) {
    if (pkcs11::token_lost(rv)) return std::unexpected(s.lost(rv, "C_GenerateKeyPair"));
    return fail(ErrorCode::kInternal,
                "the token could not generate the key: " + pkcs11::rv_text(rv));
  }
  return ref;
}

Result<Pkcs11KeyRef> pkcs11_find_key(Pkcs11KeyRef ref) {
  CW_ASSIGN_OR_RETURN(auto token, token_for(ref));
  CW_ASSIGN_OR_RETURN(Session s, token->session());
  CW_ASSIGN_OR_RETURN(FoundKey k, locate(s, ref, true));
  CW_ASSIGN_OR_RETURN(EvpPkeyPtr pub, read_public_key(s, k.handle, k.id, k.type));
  const KeyInfo info = describe_key(pub.get());
  if (!info.key_type() || (info.algorithm == KeyAlgorithm::kRsa && info.bits > 4096)) {
    return fail(ErrorCode::kPolicyRejected, "the token key is " + info.name() +
                                                ": a CA key is RSA 2048 to 4096, P-256 or P-384");
  }
  ref.id_hex = to_hex(k.id);
  ref.label = k.label;
  return ref;
}

Status pkcs11_destroy_key(const Pkcs11KeyRef& ref) {
  CW_ASSIGN_OR_RETURN(auto token, token_for(ref));
  CW_ASSIGN_OR_RETURN(Session s, token->session());
  CW_ASSIGN_OR_RETURN(Bytes id, from_hex(ref.id_hex));
  if (id.empty()) return fail(ErrorCode::kInvalidArgument, "no key id to destroy");
  const CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY, pub_class = CKO_PUBLIC_KEY;
  for (const CK_OBJECT_CLASS* klass : {&priv_class, &pub_class}) {
    CW_ASSIGN_OR_RETURN(auto objects, find_objects(s, key_template(*klass, id, ref.label), 4));
    for (CK_OBJECT_HANDLE o : objects) {
      const CK_RV rv = s.call(
          [&](CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE h) { return fn->C_DestroyObject(h, o); });
      if (rv != CKR_OK) {
        if (pkcs11::token_lost(rv)) return std::unexpected(s.lost(rv, "C_DestroyObject"));
        return fail(ErrorCode::kInternal, "C_DestroyObject failed: " + pkcs11::rv_text(rv));
      }
    }
  }
  return ok();
}

Result<std::shared_ptr<const Signer>> open_pkcs11_signer(const Pkcs11KeyRef& ref) {
  CW_ASSIGN_OR_RETURN(auto token, token_for(ref));
  EvpPkeyPtr pub;
  Bytes id;
  {
    CW_ASSIGN_OR_RETURN(Session s, token->session());
    CW_ASSIGN_OR_RETURN(FoundKey k, locate(s, ref, false));
    CW_ASSIGN_OR_RETURN(pub, read_public_key(s, k.handle, k.id, k.type));
    id = std::move(k.id);
  }
  auto signer = std::make_shared<Pkcs11Signer>(std::move(token), std::move(id), std::move(pub));
  CW_RETURN_IF_ERROR(signer->attach());
  CW_RETURN_IF_ERROR(signer->self_test());
  return std::shared_ptr<const Signer>(std::move(signer));
}

}  // namespace certward::crypto
