#include "x509/est.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "common/encoding.h"
#include "x509/der_internal.h"
#include "x509/internal.h"

namespace certward::x509::est {
namespace {

// 1.2.840.10045.2.1 id-ecPublicKey, 1.2.840.10045.3.1.7 secp256r1, 1.3.132.0.34 secp384r1,
// 1.2.840.10045.4.3.2/3 ecdsa-with-SHA256/384, 1.2.840.113549.1.1.1 rsaEncryption,
// 1.2.840.113549.1.1.11 sha256WithRSAEncryption, 1.3.101.112 Ed25519.
constexpr std::uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::uint8_t kP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::uint8_t kP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr std::uint8_t kEcdsaSha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
constexpr std::uint8_t kEcdsaSha384[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
constexpr std::uint8_t kRsaEncryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
constexpr std::uint8_t kSha256WithRsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
constexpr std::uint8_t kEd25519[] = {0x2b, 0x65, 0x70};

// id-aa-decryptKeyID, id-aa-asymmDecryptKeyID (RFC 7030 4.4.1), id-ct-KP-aKeyPackage (RFC 5958).
constexpr const char* kDecryptKeyId = "1.2.840.113549.1.9.16.2.37";
constexpr const char* kAsymmDecryptKeyId = "1.2.840.113549.1.9.16.2.54";
constexpr const char* kKeyPackage = "2.16.840.1.101.2.1.2.78.5";

// Attribute ::= SEQUENCE { type OID, values SET OF OID }
void attribute(der::Writer& w, std::span<const std::uint8_t> type,
               std::span<const std::uint8_t> value) {
  const std::size_t seq = w.begin(der::kSequence);
  w.oid(type);
  const std::size_t set = w.begin(0x31);
  w.oid(value);
  w.end(set);
  w.end(seq);
}

}  // namespace

Result<Bytes> decode_base64_body(std::string_view body) {
  if (body.size() > kMaxBody * 4 / 3 + 4096)
    return fail(ErrorCode::kMalformed, "the body is too large");
  // Only the base64 alphabet and line breaks: a PEM header or binary DER is a client error.
  for (char c : body) {
    const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/' || c == '=';
    if (!b64 && c != '\r' && c != '\n' && c != ' ' && c != '\t')
      return fail(ErrorCode::kMalformed, "the body is not base64 (RFC 7030 4.2.1)");
  }
  auto der = from_base64(body);
  if (!der) return fail(ErrorCode::kMalformed, "the body is not valid base64");
  if (der->empty()) return fail(ErrorCode::kMalformed, "the body is empty");
  if (der->size() > kMaxBody) return fail(ErrorCode::kMalformed, "the body is too large");
  return der;
}

std::string encode_base64_body(std::span<const std::uint8_t> der) {
  const std::string flat = to_base64(der);
  std::string out;
  out.reserve(flat.size() + flat.size() / 32 + 2);
  for (std::size_t i = 0; i < flat.size(); i += 64) {
    out.append(flat, i, 64);
    out += '\n';
  }
  return out;
}

Result<Csr> parse_csr_body(std::string_view body) {
  CW_ASSIGN_OR_RETURN(Bytes der, decode_base64_body(body));
  // parse_csr also takes PEM; a base64 body must hold DER, which starts with a SEQUENCE.
  if (der.front() != der::kSequence)
    return fail(ErrorCode::kMalformed, "the body does not hold a DER certificate request");
  return parse_csr(der);
}

Bytes make_csr_attrs(std::span<const crypto::KeyType> allowed) {
  Bytes out;
  der::Writer w(out);
  const std::size_t top = w.begin(der::kSequence);
  const crypto::KeyType first = allowed.empty() ? crypto::KeyType::kEcP256 : allowed.front();
  switch (first) {
    case crypto::KeyType::kEcP256:
      w.oid(kEcdsaSha256);
      attribute(w, kEcPublicKey, kP256);
      break;
    case crypto::KeyType::kEcP384:
      w.oid(kEcdsaSha384);
      attribute(w, kEcPublicKey, kP384);
      break;
    case crypto::KeyType::kEd25519:
      w.oid(kEd25519);
      break;
    default:
      w.oid(kSha256WithRsa);
      w.oid(kRsaEncryption);
      break;
  }
  w.end(top);
  return out;
}

Result<std::optional<DecryptKeyRequest>> decrypt_key_request(const Csr& csr) {
  for (const auto& [oid, symmetric] :
       {std::pair{kDecryptKeyId, true}, {kAsymmDecryptKeyId, false}}) {
    crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
    if (!obj) return fail(ErrorCode::kInternal, "out of memory");
    const int at = X509_REQ_get_attr_by_OBJ(csr.get(), obj.get(), -1);
    if (at < 0) continue;
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(csr.get(), at);
    const ASN1_TYPE* v = attr != nullptr && X509_ATTRIBUTE_count(attr) == 1
                             ? X509_ATTRIBUTE_get0_type(attr, 0)
                             : nullptr;
    if (v == nullptr || v->type != V_ASN1_OCTET_STRING || v->value.octet_string->length <= 0 ||
        v->value.octet_string->length > 256)
      return fail(ErrorCode::kMalformed,
                  "the CSR's DecryptKeyIdentifier is not one OCTET STRING of 1-256 bytes");
    const ASN1_OCTET_STRING* id = v->value.octet_string;
    return std::optional(DecryptKeyRequest{symmetric, Bytes(id->data, id->data + id->length)});
  }
  return std::optional<DecryptKeyRequest>();
}

bool names_key(const Certificate& cert, std::span<const std::uint8_t> key_id) {
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert.get());
  if (ski != nullptr &&
      std::equal(key_id.begin(), key_id.end(), ski->data, ski->data + ski->length))
    return true;
  unsigned char md[SHA_DIGEST_LENGTH];
  unsigned int len = 0;
  return X509_pubkey_digest(cert.get(), EVP_sha1(), md, &len) == 1 &&
         std::equal(key_id.begin(), key_id.end(), md, md + len);
}

bool can_encrypt_to(const Certificate& cert) {
  crypto::X509StackPtr to = internal::new_x509_stack();
  if (!internal::push_x509(to.get(), cert.get())) return false;
  static constexpr std::uint8_t kProbe[] = {0};
  crypto::BioPtr in(BIO_new_mem_buf(kProbe, sizeof kProbe));
  crypto::CmsPtr env(in ? CMS_encrypt(to.get(), in.get(), EVP_aes_256_cbc(), CMS_BINARY) : nullptr);
  ERR_clear_error();
  return env != nullptr;
}

Result<Bytes> make_encrypted_key(std::span<const std::uint8_t> pkcs8_der, const Certificate& signer,
                                 const crypto::PrivateKey& signer_key,
                                 std::span<const Certificate> signer_chain,
                                 const Certificate& recipient) {
  auto failed = [](std::string_view what) {
    return fail(ErrorCode::kInternal, std::string(what) + ": " + crypto::openssl_error_string());
  };
  // AsymmetricKeyPackage ::= SEQUENCE SIZE (1..MAX) OF OneAsymmetricKey; PKCS#8's
  // PrivateKeyInfo is a OneAsymmetricKey of version 1.
  Bytes raw;
  raw.reserve(pkcs8_der.size() + 8);  // no reallocation: no copy of the key left behind
  der::Writer w(raw);
  const std::size_t seq = w.begin(der::kSequence);
  w.raw(pkcs8_der);
  w.end(seq);
  crypto::SecretBytes package(std::move(raw));

  crypto::Asn1ObjectPtr key_package(OBJ_txt2obj(kKeyPackage, 1));
  crypto::BioPtr in(
      BIO_new_mem_buf(package.span().data(), static_cast<int>(package.span().size())));
  crypto::X509StackPtr chain = internal::new_x509_stack();
  for (const Certificate& c : signer_chain) {
    if (!internal::push_x509(chain.get(), c.get())) return failed("the signer's chain");
  }
  crypto::CmsPtr signed_data(
      CMS_sign(signer.get(), signer_key.get(), chain.get(), nullptr, CMS_PARTIAL | CMS_BINARY));
  if (!key_package || !in || !signed_data ||
      CMS_set1_eContentType(signed_data.get(), key_package.get()) != 1 ||
      CMS_final(signed_data.get(), in.get(), nullptr, CMS_BINARY) != 1)
    return failed("signing the key package");
  unsigned char* buf = nullptr;
  const int n = i2d_CMS_ContentInfo(signed_data.get(), &buf);
  if (n <= 0) return failed("encoding the key package");
  // The signed package holds the key in the clear: wiped once enveloped.
  crypto::SecretBytes signed_der(Bytes(buf, buf + n));
  OPENSSL_cleanse(buf, static_cast<std::size_t>(n));
  OPENSSL_free(buf);

  crypto::X509StackPtr to = internal::new_x509_stack();
  if (!internal::push_x509(to.get(), recipient.get())) return failed("the recipient");
  crypto::BioPtr content(
      BIO_new_mem_buf(signed_der.span().data(), static_cast<int>(signed_der.span().size())));
  crypto::CmsPtr env(CMS_encrypt(to.get(), nullptr, EVP_aes_256_cbc(), CMS_PARTIAL | CMS_BINARY));
  if (!content || !env || CMS_set1_eContentType(env.get(), OBJ_nid2obj(NID_pkcs7_signed)) != 1 ||
      CMS_final(env.get(), content.get(), nullptr, CMS_BINARY) != 1)
    return failed("enveloping the key package");
  buf = nullptr;
  const int m = i2d_CMS_ContentInfo(env.get(), &buf);
  if (m <= 0) return failed("encoding the enveloped key");
  Bytes out(buf, buf + m);
  OPENSSL_free(buf);
  return out;
}

std::string make_serverkeygen_body(std::span<const std::uint8_t> key_der,
                                   std::span<const std::uint8_t> pkcs7_der,
                                   std::string_view boundary, bool encrypted) {
  std::string out;
  const std::string line = "--" + std::string(boundary) + "\r\n";
  out += line;
  out += encrypted ? "Content-Type: application/pkcs7-mime; smime-type=server-generated-key\r\n"
                   : "Content-Type: application/pkcs8\r\n";
  out += "Content-Transfer-Encoding: base64\r\n\r\n";
  out += encode_base64_body(key_der);
  out += line;
  out +=
      "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n";
  out += encode_base64_body(pkcs7_der);
  out += "--" + std::string(boundary) + "--\r\n";
  return out;
}

}  // namespace certward::x509::est
