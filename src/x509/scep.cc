#include "x509/scep.h"

#include <openssl/cms.h>
#include <openssl/objects.h>

#include <algorithm>
#include <charconv>

#include "common/encoding.h"
#include "x509/internal.h"

namespace certward::x509::scep {
namespace {

using internal::bio_string;
using internal::mem_bio;
using internal::new_x509_stack;
using internal::push_x509;
using internal::stack_at;
using internal::stack_size;

// RFC 8894 3.2.1: the SCEP attributes, under id-VeriSign pki attributes.
enum class Attr : std::uint8_t {
  kMessageType,
  kPkiStatus,
  kFailInfo,
  kSenderNonce,
  kRecipientNonce,
  kTransactionId
};

const ASN1_OBJECT* oid(Attr a) {
  // Made once and never freed: ASN1_OBJECTs are immutable, so every thread may read them.
  static const std::array<ASN1_OBJECT*, 6> objects = [] {
    std::array<ASN1_OBJECT*, 6> o{};
    const char* text[] = {"2.16.840.1.113733.1.9.2", "2.16.840.1.113733.1.9.3",
                          "2.16.840.1.113733.1.9.4", "2.16.840.1.113733.1.9.5",
                          "2.16.840.1.113733.1.9.6", "2.16.840.1.113733.1.9.7"};
    for (std::size_t i = 0; i < o.size(); ++i) o[i] = OBJ_txt2obj(text[i], 1);
    return o;
  }();
  return objects[static_cast<std::size_t>(a)];
}

const char* attr_name(Attr a) {
  static constexpr const char* names[] = {"messageType", "pkiStatus",      "failInfo",
                                          "senderNonce", "recipientNonce", "transactionID"};
  return names[static_cast<std::size_t>(a)];
}

std::unexpected<Error> malformed(std::string what) {
  return fail(ErrorCode::kMalformed, "SCEP message: " + std::move(what));
}

// The attribute's one value; nullptr when it is absent. Errors: repeated or multi-valued.
Result<const ASN1_TYPE*> attribute(const CMS_SignerInfo* si, Attr a) {
  const int i = CMS_signed_get_attr_by_OBJ(si, oid(a), -1);
  if (i < 0) return nullptr;
  if (CMS_signed_get_attr_by_OBJ(si, oid(a), i) >= 0)
    return malformed(std::string(attr_name(a)) + " is repeated");
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, i);
  if (X509_ATTRIBUTE_count(attr) != 1)
    return malformed(std::string(attr_name(a)) + " must have one value");
  return X509_ATTRIBUTE_get0_type(attr, 0);
}

Result<std::optional<std::string>> string_attribute(const CMS_SignerInfo* si, Attr a) {
  CW_ASSIGN_OR_RETURN(const ASN1_TYPE* t, attribute(si, a));
  if (t == nullptr) return std::nullopt;
  if (t->type != V_ASN1_PRINTABLESTRING && t->type != V_ASN1_UTF8STRING &&
      t->type != V_ASN1_IA5STRING)
    return malformed(std::string(attr_name(a)) + " is not a string");
  const ASN1_STRING* s = t->value.asn1_string;
  std::string out(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                  static_cast<std::size_t>(ASN1_STRING_length(s)));
  if (out.empty() || out.size() > 128 ||
      !std::all_of(out.begin(), out.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    return malformed(std::string(attr_name(a)) + " must be 1 to 128 printable characters");
  return out;
}

Result<std::optional<Bytes>> nonce_attribute(const CMS_SignerInfo* si, Attr a) {
  CW_ASSIGN_OR_RETURN(const ASN1_TYPE* t, attribute(si, a));
  if (t == nullptr) return std::nullopt;
  if (t->type != V_ASN1_OCTET_STRING)
    return malformed(std::string(attr_name(a)) + " is not an OCTET STRING");
  const ASN1_STRING* s = t->value.octet_string;
  const auto* p = ASN1_STRING_get0_data(s);
  Bytes out(p, p + ASN1_STRING_length(s));
  if (out.size() < 8 || out.size() > 64)
    return malformed(std::string(attr_name(a)) + " must be 8 to 64 bytes");
  return out;
}

Result<int> number_attribute(const CMS_SignerInfo* si, Attr a) {
  CW_ASSIGN_OR_RETURN(auto s, string_attribute(si, a));
  if (!s) return malformed(std::string(attr_name(a)) + " is missing");
  int n = -1;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
  if (ec != std::errc{} || end != s->data() + s->size() || n < 0)
    return malformed(std::string(attr_name(a)) + " is not a number");
  return n;
}

const EVP_MD* md_of(Digest d) {
  switch (d) {
    case Digest::kSha1:
      return EVP_sha1();
    case Digest::kSha256:
      return EVP_sha256();
    case Digest::kSha384:
      return EVP_sha384();
    case Digest::kSha512:
      return EVP_sha512();
  }
  return EVP_sha256();
}

const EVP_CIPHER* cipher_of(Cipher c) {
  switch (c) {
    case Cipher::kAes128:
      return EVP_aes_128_cbc();
    case Cipher::kAes192:
      return EVP_aes_192_cbc();
    case Cipher::kAes256:
      return EVP_aes_256_cbc();
    case Cipher::kDes3:
      return EVP_des_ede3_cbc();
  }
  return EVP_aes_256_cbc();
}

Bytes bio_bytes(BIO* bio) {
  const std::string s = bio_string(bio);
  return Bytes(s.begin(), s.end());
}

Result<crypto::CmsPtr> read_cms(std::span<const std::uint8_t> der, int type, const char* what) {
  if (der.empty() || der.size() > kMaxMessage)
    return malformed(std::string(what) + " is empty or larger than 64 KiB");
  const unsigned char* p = der.data();
  crypto::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms || p != der.data() + der.size()) {
    ERR_clear_error();
    return malformed(std::string(what) + " is not a CMS ContentInfo");
  }
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != type)
    return malformed(std::string(what) + " has the wrong content type");
  return cms;
}

// A SignedData with one signer whose certificate it carries, its signature checked.
struct Signed {
  crypto::CmsPtr cms;
  CMS_SignerInfo* signer_info = nullptr;  // borrowed from cms
  Certificate signer;
  Bytes content;
  Digest digest = Digest::kSha256;
};

// The SignedData decoded, its signer and content found, nothing checked yet.
Result<Signed> decode_signed(std::span<const std::uint8_t> der) {
  Signed out;
  CW_ASSIGN_OR_RETURN(out.cms, read_cms(der, NID_pkcs7_signed, "pkiMessage"));
  CMS_ContentInfo* cms = out.cms.get();
  if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
    return malformed("the signed content is not data");
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  if (stack_size(infos) != 1) return malformed("there must be exactly one signer");
  out.signer_info = stack_at<CMS_SignerInfo>(infos, 0);

  X509_ALGOR* digest = nullptr;
  CMS_SignerInfo_get0_algs(out.signer_info, nullptr, nullptr, &digest, nullptr);
  switch (digest ? OBJ_obj2nid(digest->algorithm) : NID_undef) {
    case NID_sha1:
      out.digest = Digest::kSha1;
      break;
    case NID_sha256:
      out.digest = Digest::kSha256;
      break;
    case NID_sha384:
      out.digest = Digest::kSha384;
      break;
    case NID_sha512:
      out.digest = Digest::kSha512;
      break;
    default:
      return malformed("the digest must be SHA-1 or SHA-2");
  }

  crypto::X509StackPtr certs(CMS_get1_certs(cms));
  X509* signer = nullptr;
  for (int i = 0; i < stack_size(certs.get()); ++i) {
    X509* c = stack_at<X509>(certs.get(), i);
    if (CMS_SignerInfo_cert_cmp(out.signer_info, c) == 0) signer = c;
  }
  if (signer == nullptr) return malformed("it does not carry its signer's certificate");
  unsigned char* cert_der = nullptr;
  const int n = i2d_X509(signer, &cert_der);
  if (n <= 0) return malformed("the signer's certificate cannot be encoded");
  auto cert = Certificate::from_der(std::span<const std::uint8_t>(cert_der, std::size_t(n)));
  OPENSSL_free(cert_der);
  if (!cert) return malformed("the signer's certificate: " + cert.error().message);
  out.signer = std::move(*cert);

  return out;
}

Result<Signed> read_signed(std::span<const std::uint8_t> der) {
  CW_ASSIGN_OR_RETURN(Signed out, decode_signed(der));
  // The signature is checked with the certificate the message carries and nothing else; who
  // that certificate belongs to is the protocol's question.
  crypto::X509StackPtr only = new_x509_stack();
  if (!push_x509(only.get(), out.signer.get())) return fail(ErrorCode::kInternal, "out of memory");
  crypto::BioPtr content(BIO_new(BIO_s_mem()));
  if (CMS_verify(out.cms.get(), only.get(), nullptr, nullptr, content.get(),
                 CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kBadSignature, "SCEP message: the signature does not verify");
  }
  out.content = bio_bytes(content.get());
  return out;
}

Status add_string(CMS_SignerInfo* si, Attr a, std::string_view value) {
  if (CMS_signed_add1_attr_by_OBJ(si, oid(a), V_ASN1_PRINTABLESTRING, value.data(),
                                  static_cast<int>(value.size())) != 1)
    return fail(ErrorCode::kInternal, "SCEP attribute: " + crypto::openssl_error_string());
  return ok();
}

Status add_octets(CMS_SignerInfo* si, Attr a, std::span<const std::uint8_t> value) {
  if (CMS_signed_add1_attr_by_OBJ(si, oid(a), V_ASN1_OCTET_STRING, value.data(),
                                  static_cast<int>(value.size())) != 1)
    return fail(ErrorCode::kInternal, "SCEP attribute: " + crypto::openssl_error_string());
  return ok();
}

Result<Bytes> to_der(CMS_ContentInfo* cms) {
  unsigned char* buf = nullptr;
  const int n = i2d_CMS_ContentInfo(cms, &buf);
  if (n <= 0) return fail(ErrorCode::kInternal, "CMS encoding: " + crypto::openssl_error_string());
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Result<Bytes> envelope(std::span<const std::uint8_t> content, const Certificate& recipient,
                       Cipher cipher) {
  if (EVP_PKEY_get_base_id(recipient.public_key()) != EVP_PKEY_RSA)
    return fail(ErrorCode::kInvalidArgument, "SCEP: the recipient's key is not RSA");
  crypto::X509StackPtr to = new_x509_stack();
  if (!push_x509(to.get(), recipient.get())) return fail(ErrorCode::kInternal, "out of memory");
  auto in = mem_bio(content);
  crypto::CmsPtr env(CMS_encrypt(to.get(), in.get(), cipher_of(cipher), CMS_BINARY));
  if (!env) return fail(ErrorCode::kInternal, "CMS encryption: " + crypto::openssl_error_string());
  return to_der(env.get());
}

// A SignedData over `content` by `signer`, with the SCEP attributes `add` puts in.
template <typename AddAttributes>
Result<Bytes> sign(std::span<const std::uint8_t> content, const Certificate& signer,
                   const crypto::PrivateKey& key, Digest digest, AddAttributes add) {
  crypto::CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  if (!cms) return fail(ErrorCode::kInternal, "CMS: " + crypto::openssl_error_string());
  CMS_SignerInfo* si = CMS_add1_signer(cms.get(), signer.get(), key.get(), md_of(digest),
                                       CMS_BINARY | CMS_NOSMIMECAP);
  if (si == nullptr)
    return fail(ErrorCode::kInternal, "CMS signer: " + crypto::openssl_error_string());
  CW_RETURN_IF_ERROR(add(si));
  // An empty memory BIO, not mem_bio over no bytes (whose null pointer OpenSSL refuses): a
  // FAILURE or PENDING CertRep still carries eContent, empty.
  crypto::BioPtr data = content.empty() ? crypto::BioPtr(BIO_new(BIO_s_mem())) : mem_bio(content);
  if (CMS_final(cms.get(), data.get(), nullptr, CMS_BINARY) != 1)
    return fail(ErrorCode::kInternal, "CMS signing: " + crypto::openssl_error_string());
  return to_der(cms.get());
}

// The content-encryption algorithm of an EnvelopedData, read from its DER (OpenSSL 3.0 has
// no getter): ContentInfo { type, [0] EnvelopedData { version, [0] originatorInfo OPTIONAL,
// recipientInfos, EncryptedContentInfo { type, AlgorithmIdentifier { algorithm, ...
struct Element {
  int tag = 0;
  int cls = 0;
  const unsigned char* content = nullptr;
  const unsigned char* end = nullptr;
};

std::optional<Element> next_element(const unsigned char*& p, const unsigned char* end) {
  if (p >= end) return std::nullopt;
  const unsigned char* q = p;
  long len = 0;
  int tag = 0;
  int cls = 0;
  const int r = ASN1_get_object(&q, &len, &tag, &cls, end - p);
  if ((r & 0x80) != 0 || r == 0x21) {  // an error, or indefinite length
    ERR_clear_error();
    return std::nullopt;
  }
  Element e{tag, cls, q, q + len};
  p = q + len;
  return e;
}

int envelope_cipher_nid(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  const unsigned char* end = p + der.size();
  auto info = next_element(p, end);
  if (!info) return NID_undef;
  p = info->content;
  if (!next_element(p, info->end)) return NID_undef;  // contentType
  auto explicit0 = next_element(p, info->end);
  if (!explicit0 || explicit0->cls != V_ASN1_CONTEXT_SPECIFIC) return NID_undef;
  p = explicit0->content;
  auto enveloped = next_element(p, explicit0->end);
  if (!enveloped) return NID_undef;
  p = enveloped->content;
  if (!next_element(p, enveloped->end)) return NID_undef;  // version
  auto e = next_element(p, enveloped->end);
  if (e && e->cls == V_ASN1_CONTEXT_SPECIFIC) e = next_element(p, enveloped->end);  // originator
  if (!e) return NID_undef;  // recipientInfos
  auto encrypted = next_element(p, enveloped->end);
  if (!encrypted) return NID_undef;
  p = encrypted->content;
  if (!next_element(p, encrypted->end)) return NID_undef;  // contentType
  auto algorithm = next_element(p, encrypted->end);
  if (!algorithm) return NID_undef;
  p = algorithm->content;
  const unsigned char* start = p;
  auto object = next_element(p, algorithm->end);
  if (!object || object->tag != V_ASN1_OBJECT) return NID_undef;
  const unsigned char* q = start;
  crypto::Asn1ObjectPtr obj(d2i_ASN1_OBJECT(nullptr, &q, object->end - start));
  if (!obj) {
    ERR_clear_error();
    return NID_undef;
  }
  return OBJ_obj2nid(obj.get());
}

}  // namespace

std::string_view message_type_name(MessageType t) {
  switch (t) {
    case MessageType::kCertRep:
      return "CertRep";
    case MessageType::kRenewalReq:
      return "RenewalReq";
    case MessageType::kPkcsReq:
      return "PKCSReq";
    case MessageType::kCertPoll:
      return "CertPoll";
    case MessageType::kGetCert:
      return "GetCert";
    case MessageType::kGetCrl:
      return "GetCRL";
  }
  return "unknown";
}

Result<PkiMessage> parse_pki_message(std::span<const std::uint8_t> der) {
  CW_ASSIGN_OR_RETURN(Signed s, read_signed(der));
  PkiMessage m;
  CW_ASSIGN_OR_RETURN(const int type, number_attribute(s.signer_info, Attr::kMessageType));
  switch (type) {
    case 17:
    case 19:
    case 20:
    case 21:
    case 22:
      m.type = static_cast<MessageType>(type);
      break;
    default:
      return malformed("messageType " + std::to_string(type) + " is not a request");
  }
  CW_ASSIGN_OR_RETURN(auto tx, string_attribute(s.signer_info, Attr::kTransactionId));
  if (!tx) return malformed("transactionID is missing");
  CW_ASSIGN_OR_RETURN(auto nonce, nonce_attribute(s.signer_info, Attr::kSenderNonce));
  if (!nonce) return malformed("senderNonce is missing");
  if (s.content.empty()) return malformed("there is no pkcsPKIEnvelope");
  m.transaction_id = std::move(*tx);
  m.sender_nonce = std::move(*nonce);
  m.signer = std::move(s.signer);
  m.digest = s.digest;
  m.envelope = std::move(s.content);
  return m;
}

Result<Opened> open_envelope(std::span<const std::uint8_t> der,
                             std::span<const Decryptor> decryptors) {
  CW_ASSIGN_OR_RETURN(crypto::CmsPtr env, read_cms(der, NID_pkcs7_enveloped, "pkcsPKIEnvelope"));
  Opened out;
  switch (envelope_cipher_nid(der)) {
    case NID_aes_128_cbc:
      out.cipher = Cipher::kAes128;
      break;
    case NID_aes_192_cbc:
      out.cipher = Cipher::kAes192;
      break;
    case NID_aes_256_cbc:
      out.cipher = Cipher::kAes256;
      break;
    case NID_des_ede3_cbc:
      out.cipher = Cipher::kDes3;
      break;
    default:
      return fail(ErrorCode::kPolicyRejected,
                  "SCEP: the request is encrypted with neither AES-CBC nor 3DES-CBC");
  }
  STACK_OF(CMS_RecipientInfo)* recipients = CMS_get0_RecipientInfos(env.get());
  for (const Decryptor& d : decryptors) {
    bool addressed = false;
    for (int i = 0; i < stack_size(recipients) && !addressed; ++i) {
      auto* ri = stack_at<CMS_RecipientInfo>(recipients, i);
      addressed = CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
                  CMS_RecipientInfo_ktri_cert_cmp(ri, d.certificate->get()) == 0;
    }
    if (!addressed) continue;
    crypto::BioPtr content(BIO_new(BIO_s_mem()));
    if (CMS_decrypt(env.get(), d.key->get(), d.certificate->get(), nullptr, content.get(),
                    CMS_BINARY) != 1) {
      ERR_clear_error();
      return fail(ErrorCode::kBadPassword, "SCEP: the request does not decrypt");
    }
    out.content = bio_bytes(content.get());
    if (out.content.empty()) return malformed("the envelope is empty");
    return out;
  }
  ERR_clear_error();
  return fail(ErrorCode::kNotFound, "SCEP: the request is not encrypted to this server");
}

std::optional<ReplyTo> reply_to(std::span<const std::uint8_t> der) {
  auto s = decode_signed(der);
  if (!s) return std::nullopt;
  auto tx = string_attribute(s->signer_info, Attr::kTransactionId);
  auto nonce = nonce_attribute(s->signer_info, Attr::kSenderNonce);
  if (!tx || !*tx || !nonce || !*nonce) {
    ERR_clear_error();
    return std::nullopt;
  }
  return ReplyTo{std::move(**tx), std::move(**nonce), std::move(s->signer), s->digest};
}

std::string spki_sha256_hex(const Csr& csr) {
  unsigned char* buf = nullptr;
  const int n = i2d_PUBKEY(csr.public_key(), &buf);
  if (n <= 0) return {};
  std::string out = to_hex(crypto::sha256(std::span<const std::uint8_t>(buf, std::size_t(n))));
  OPENSSL_free(buf);
  return out;
}

Result<IssuerAndSerial> parse_issuer_and_serial(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  const unsigned char* end = p + der.size();
  auto seq = next_element(p, end);
  if (!seq || seq->tag != V_ASN1_SEQUENCE || p != end)
    return malformed("IssuerAndSerialNumber is not a SEQUENCE");
  p = seq->content;
  const unsigned char* name_start = p;
  auto name = next_element(p, seq->end);
  if (!name || name->tag != V_ASN1_SEQUENCE) return malformed("the issuer is not a Name");
  const unsigned char* q = name_start;
  crypto::X509NamePtr parsed(d2i_X509_NAME(nullptr, &q, name->end - name_start));
  if (!parsed || q != name->end) {
    ERR_clear_error();
    return malformed("the issuer is not a Name");
  }
  const unsigned char* serial_start = p;
  auto serial = next_element(p, seq->end);
  if (!serial || serial->tag != V_ASN1_INTEGER || p != seq->end)
    return malformed("the serial number is not an INTEGER");
  q = serial_start;
  crypto::Asn1IntegerPtr n(d2i_ASN1_INTEGER(nullptr, &q, serial->end - serial_start));
  if (!n || ASN1_STRING_length(n.get()) == 0) {
    ERR_clear_error();
    return malformed("the serial number is not an INTEGER");
  }
  const auto* digits = ASN1_STRING_get0_data(n.get());
  std::span<const std::uint8_t> magnitude(digits, std::size_t(ASN1_STRING_length(n.get())));
  while (magnitude.size() > 1 && magnitude.front() == 0) magnitude = magnitude.subspan(1);
  return IssuerAndSerial{Bytes(name_start, name->end), to_hex(magnitude)};
}

Result<IssuerAndSubject> parse_issuer_and_subject(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  const unsigned char* end = p + der.size();
  auto seq = next_element(p, end);
  if (!seq || seq->tag != V_ASN1_SEQUENCE || p != end)
    return malformed("IssuerAndSubject is not a SEQUENCE");
  p = seq->content;
  IssuerAndSubject out;
  for (Bytes* field : {&out.issuer, &out.subject}) {
    const unsigned char* start = p;
    auto name = next_element(p, seq->end);
    if (!name || name->tag != V_ASN1_SEQUENCE)
      return malformed("IssuerAndSubject holds a non-Name");
    const unsigned char* q = start;
    crypto::X509NamePtr parsed(d2i_X509_NAME(nullptr, &q, name->end - start));
    if (!parsed || q != name->end) {
      ERR_clear_error();
      return malformed("IssuerAndSubject holds a non-Name");
    }
    field->assign(start, name->end);
  }
  if (p != seq->end) return malformed("IssuerAndSubject has trailing data");
  return out;
}

bool same_name(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  const unsigned char* p = a.data();
  crypto::X509NamePtr x(d2i_X509_NAME(nullptr, &p, static_cast<long>(a.size())));
  p = b.data();
  crypto::X509NamePtr y(d2i_X509_NAME(nullptr, &p, static_cast<long>(b.size())));
  if (!x || !y) {
    ERR_clear_error();
    return false;
  }
  return X509_NAME_cmp(x.get(), y.get()) == 0;
}

Bytes subject_der(const Certificate& c) {
  unsigned char* buf = nullptr;
  const int n = i2d_X509_NAME(X509_get_subject_name(c.get()), &buf);
  if (n <= 0) return {};
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Result<Bytes> make_cert_rep(const Reply& reply, const Certificate& signer,
                            const crypto::PrivateKey& key) {
  Bytes inner;
  if (reply.status == PkiStatus::kSuccess) {
    if (reply.recipient == nullptr)
      return fail(ErrorCode::kInvalidArgument, "SCEP: a success needs a recipient");
    CW_ASSIGN_OR_RETURN(inner, envelope(reply.content, *reply.recipient, reply.cipher));
  }
  const Bytes sender_nonce = crypto::random_bytes(16);
  return sign(inner, signer, key, reply.digest, [&](CMS_SignerInfo* si) -> Status {
    CW_RETURN_IF_ERROR(add_string(si, Attr::kMessageType, "3"));
    CW_RETURN_IF_ERROR(
        add_string(si, Attr::kPkiStatus, std::to_string(static_cast<int>(reply.status))));
    if (reply.status == PkiStatus::kFailure) {
      const FailInfo f = reply.fail_info.value_or(FailInfo::kBadRequest);
      CW_RETURN_IF_ERROR(add_string(si, Attr::kFailInfo, std::to_string(static_cast<int>(f))));
    }
    CW_RETURN_IF_ERROR(add_string(si, Attr::kTransactionId, reply.transaction_id));
    CW_RETURN_IF_ERROR(add_octets(si, Attr::kSenderNonce, sender_nonce));
    if (!reply.recipient_nonce.empty())
      CW_RETURN_IF_ERROR(add_octets(si, Attr::kRecipientNonce, reply.recipient_nonce));
    return ok();
  });
}

Result<Bytes> make_crls_only(std::span<const std::uint8_t> crl_der) {
  const unsigned char* p = crl_der.data();
  crypto::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl_der.size())));
  if (!crl) return fail(ErrorCode::kInternal, "SCEP: the CRL does not decode");
  crypto::Pkcs7Ptr p7(PKCS7_new());
  if (!p7 || !PKCS7_set_type(p7.get(), NID_pkcs7_signed) ||
      !PKCS7_content_new(p7.get(), NID_pkcs7_data) || !PKCS7_set_detached(p7.get(), 1) ||
      !PKCS7_add_crl(p7.get(), crl.get()))
    return fail(ErrorCode::kInternal, "PKCS#7: " + crypto::openssl_error_string());
  unsigned char* buf = nullptr;
  const int n = i2d_PKCS7(p7.get(), &buf);
  if (n <= 0) return fail(ErrorCode::kInternal, "PKCS#7: " + crypto::openssl_error_string());
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

Result<Bytes> make_pki_message(const Request& request, const Certificate& recipient,
                               const Certificate& signer, const crypto::PrivateKey& key) {
  CW_ASSIGN_OR_RETURN(Bytes inner, envelope(request.content, recipient, request.cipher));
  return sign(inner, signer, key, request.digest, [&](CMS_SignerInfo* si) -> Status {
    CW_RETURN_IF_ERROR(
        add_string(si, Attr::kMessageType, std::to_string(static_cast<int>(request.type))));
    CW_RETURN_IF_ERROR(add_string(si, Attr::kTransactionId, request.transaction_id));
    return add_octets(si, Attr::kSenderNonce, request.sender_nonce);
  });
}

Result<CertRep> read_cert_rep(std::span<const std::uint8_t> der, const Certificate& recipient,
                              const crypto::PrivateKey& key) {
  CW_ASSIGN_OR_RETURN(Signed s, read_signed(der));
  CW_ASSIGN_OR_RETURN(const int type, number_attribute(s.signer_info, Attr::kMessageType));
  if (type != 3) return malformed("not a CertRep");
  CertRep out;
  CW_ASSIGN_OR_RETURN(const int status, number_attribute(s.signer_info, Attr::kPkiStatus));
  if (status != 0 && status != 2 && status != 3) return malformed("unknown pkiStatus");
  out.status = static_cast<PkiStatus>(status);
  if (out.status == PkiStatus::kFailure) {
    CW_ASSIGN_OR_RETURN(const int f, number_attribute(s.signer_info, Attr::kFailInfo));
    if (f > 4) return malformed("unknown failInfo");
    out.fail_info = static_cast<FailInfo>(f);
  }
  CW_ASSIGN_OR_RETURN(auto tx, string_attribute(s.signer_info, Attr::kTransactionId));
  out.transaction_id = tx.value_or("");
  CW_ASSIGN_OR_RETURN(auto nonce, nonce_attribute(s.signer_info, Attr::kRecipientNonce));
  out.recipient_nonce = nonce.value_or(Bytes{});
  out.signer = std::move(s.signer);
  if (out.status == PkiStatus::kSuccess) {
    const Decryptor d{&recipient, &key};
    CW_ASSIGN_OR_RETURN(Opened opened, open_envelope(s.content, std::span(&d, 1)));
    out.content = std::move(opened.content);
  }
  return out;
}

}  // namespace certward::x509::scep
