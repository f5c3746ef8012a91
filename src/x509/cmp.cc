#include "x509/cmp.h"

#include <openssl/err.h>
#include <openssl/objects.h>

#include "x509/der_internal.h"
#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509::cmp {
namespace {

// OID content octets.
constexpr std::uint8_t kPbm[] = {0x2a, 0x86, 0x48, 0x86, 0xf6, 0x7d, 0x07, 0x42, 0x0d};
constexpr std::uint8_t kRegCtrlAlgId[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x05, 0x01, 0x0b};
constexpr std::uint8_t kRegCtrlRsaKeyLen[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x05, 0x01, 0x0c};
constexpr std::uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
constexpr std::uint8_t kP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::uint8_t kP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr std::uint8_t kEd25519[] = {0x2b, 0x65, 0x70};

std::string oid_text(std::span<const std::uint8_t> content) {
  Bytes der{der::kOid, static_cast<std::uint8_t>(content.size())};
  if (content.size() > 127) return {};
  der.insert(der.end(), content.begin(), content.end());
  const unsigned char* p = der.data();
  crypto::Asn1ObjectPtr obj(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(der.size())));
  if (!obj) {
    ERR_clear_error();
    return {};
  }
  char buf[128];
  OBJ_obj2txt(buf, sizeof buf, obj.get(), 1);
  return buf;
}

template <typename T, int (*Encode)(const T*, unsigned char**)>
Bytes encode(const T* value) {
  unsigned char* buf = nullptr;
  const int n = Encode(value, &buf);
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  Bytes out(buf, buf + n);
  OPENSSL_free(buf);
  return out;
}

// i2d functions of OpenSSL 3.0 that take non-const pointers, wrapped.
int i2d_header(const OSSL_CMP_PKIHEADER* h, unsigned char** out) {
  return i2d_OSSL_CMP_PKIHEADER(const_cast<OSSL_CMP_PKIHEADER*>(h), out);
}
int i2d_message(const OSSL_CMP_MSG* m, unsigned char** out) {
  return i2d_OSSL_CMP_MSG(const_cast<OSSL_CMP_MSG*>(m), out);
}
int i2d_template(const OSSL_CRMF_CERTTEMPLATE* t, unsigned char** out) {
  return i2d_OSSL_CRMF_CERTTEMPLATE(const_cast<OSSL_CRMF_CERTTEMPLATE*>(t), out);
}
int i2d_status(const OSSL_CMP_PKISI* s, unsigned char** out) {
  return i2d_OSSL_CMP_PKISI(const_cast<OSSL_CMP_PKISI*>(s), out);
}

Bytes bytes(std::span<const std::uint8_t> s) { return Bytes(s.begin(), s.end()); }

// The elements of a PKIMessage SEQUENCE { header, body, [0] protection, [1] extraCerts }.
struct Parts {
  std::span<const std::uint8_t> body;
  std::optional<std::span<const std::uint8_t>> extra_certs;
};

Result<Parts> parts(std::span<const std::uint8_t> der) {
  der::Reader top(der, "PKIMessage");
  CW_ASSIGN_OR_RETURN(auto msg, top.read(der::kSequence));
  der::Reader r(msg, "PKIMessage");
  CW_ASSIGN_OR_RETURN(auto header, r.next());
  (void)header;
  CW_ASSIGN_OR_RETURN(auto body, r.next());
  Parts out{body.whole, std::nullopt};
  CW_ASSIGN_OR_RETURN(auto protection, r.optional(der::context(0)));
  (void)protection;
  CW_ASSIGN_OR_RETURN(out.extra_certs, r.optional(der::context(1)));
  return out;
}

}  // namespace

Result<MessagePtr> parse_message(std::span<const std::uint8_t> der) {
  if (der.empty() || der.size() > kMaxMessage)
    return fail(ErrorCode::kMalformed, "CMP message: empty or larger than 64 KiB");
  const unsigned char* p = der.data();
  MessagePtr msg(d2i_OSSL_CMP_MSG(nullptr, &p, static_cast<long>(der.size())));
  if (!msg || p != der.data() + der.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "CMP message: not a PKIMessage");
  }
  return msg;
}

Result<Bytes> to_der(const OSSL_CMP_MSG* msg) {
  Bytes out = encode<OSSL_CMP_MSG, i2d_message>(msg);
  if (out.empty()) return fail(ErrorCode::kInternal, "CMP message: cannot encode");
  return out;
}

Body body_type(const OSSL_CMP_MSG* msg) {
  return static_cast<Body>(OSSL_CMP_MSG_get_bodytype(msg));
}

Result<Header> read_header(const OSSL_CMP_MSG* msg) {
  // PKIHeader ::= SEQUENCE { pvno, sender, recipient, [0] messageTime, [1] protectionAlg,
  // [2] senderKID, [3] recipKID, [4] transactionID, [5] senderNonce, [6] recipNonce,
  // [7] freeText, [8] generalInfo }, every tagged field EXPLICIT.
  const Bytes der = encode<OSSL_CMP_PKIHEADER, i2d_header>(OSSL_CMP_MSG_get0_header(msg));
  der::Reader top(der, "PKIHeader");
  CW_ASSIGN_OR_RETURN(auto seq, top.read(der::kSequence));
  der::Reader r(seq, "PKIHeader");
  for (int i = 0; i < 3; ++i) CW_RETURN_IF_ERROR(r.next());
  Header h;
  while (!r.empty()) {
    CW_ASSIGN_OR_RETURN(der::Tlv field, r.next());
    der::Reader in(field.content, "PKIHeader field");
    CW_ASSIGN_OR_RETURN(der::Tlv value, in.next());
    switch (field.tag) {
      case der::context(0):
        if (value.tag == der::kGeneralizedTime) {
          CW_ASSIGN_OR_RETURN(h.message_time, der::time(value, "messageTime"));
        }
        break;
      case der::context(1): {
        der::Reader alg(value.content, "protectionAlg");
        CW_ASSIGN_OR_RETURN(auto oid, alg.read(der::kOid));
        h.protection = oid_text(oid);
        if (der::is_oid(oid, kPbm) && alg.next_is(der::kSequence)) {
          // PBMParameter ::= SEQUENCE { salt, owf, iterationCount INTEGER, mac }
          CW_ASSIGN_OR_RETURN(auto params, alg.read(der::kSequence));
          der::Reader pbm(params, "PBMParameter");
          CW_RETURN_IF_ERROR(pbm.next());
          CW_RETURN_IF_ERROR(pbm.next());
          CW_ASSIGN_OR_RETURN(auto count, pbm.read(der::kInteger));
          if (count.empty() || (count[0] & 0x80) != 0 || count.size() > 4)
            return fail(ErrorCode::kMalformed, "PBMParameter: iterationCount out of range");
          long n = 0;
          for (std::uint8_t b : count) n = (n << 8) | b;
          h.pbm_iterations = n;
        }
        break;
      }
      case der::context(2):
        h.sender_kid = bytes(value.content);
        break;
      case der::context(4):
        h.transaction_id = bytes(value.content);
        break;
      case der::context(5):
        h.sender_nonce = bytes(value.content);
        break;
      case der::context(6):
        h.recip_nonce = bytes(value.content);
        break;
      default:
        break;
    }
  }
  return h;
}

std::vector<Certificate> extra_certs(const OSSL_CMP_MSG* msg) {
  std::vector<Certificate> out;
  const Bytes der = encode<OSSL_CMP_MSG, i2d_message>(msg);
  auto p = parts(der);
  if (!p || !p->extra_certs) return out;
  der::Reader outer(*p->extra_certs, "extraCerts");
  auto seq = outer.read(der::kSequence);
  if (!seq) return out;
  der::Reader certs(*seq, "extraCerts");
  while (!certs.empty()) {
    auto c = certs.next();
    if (!c) break;
    if (auto cert = Certificate::from_der(c->whole)) out.push_back(std::move(*cert));
  }
  return out;
}

crypto::EvpPkeyPtr template_public_key(const OSSL_CRMF_MSG* crm) {
  // CertTemplate ::= SEQUENCE { ..., [6] IMPLICIT SubjectPublicKeyInfo OPTIONAL, ... }
  const Bytes der = encode<OSSL_CRMF_CERTTEMPLATE, i2d_template>(OSSL_CRMF_MSG_get0_tmpl(crm));
  der::Reader top(der, "CertTemplate");
  auto seq = top.read(der::kSequence);
  if (!seq) return nullptr;
  der::Reader r(*seq, "CertTemplate");
  while (!r.empty()) {
    auto field = r.next();
    if (!field) return nullptr;
    if (field->tag != der::context(6)) continue;
    Bytes spki = bytes(field->whole);
    spki[0] = der::kSequence;
    const unsigned char* p = spki.data();
    crypto::EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    if (!key || p != spki.data() + spki.size()) {
      ERR_clear_error();
      return nullptr;
    }
    return key;
  }
  return nullptr;
}

Result<TemplateNames> template_names(const OSSL_CRMF_MSG* crm) {
  const OSSL_CRMF_CERTTEMPLATE* tmpl = OSSL_CRMF_MSG_get0_tmpl(crm);
  TemplateNames out;
  if (const X509_NAME* subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl)) {
    out.subject = format_name(subject);
    out.common_name = internal::first_cn(subject);
  }
  // CertTemplate ::= SEQUENCE { ..., [9] IMPLICIT Extensions OPTIONAL }
  const Bytes der = encode<OSSL_CRMF_CERTTEMPLATE, i2d_template>(tmpl);
  der::Reader top(der, "CertTemplate");
  CW_ASSIGN_OR_RETURN(auto seq, top.read(der::kSequence));
  der::Reader r(seq, "CertTemplate");
  while (!r.empty()) {
    CW_ASSIGN_OR_RETURN(der::Tlv field, r.next());
    if (field.tag != der::context(9)) continue;
    Bytes exts = bytes(field.whole);
    exts[0] = der::kSequence;
    const unsigned char* p = exts.data();
    crypto::ExtStackPtr parsed(d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(exts.size())));
    if (!parsed || p != exts.data() + exts.size()) {
      ERR_clear_error();
      return fail(ErrorCode::kMalformed, "CertTemplate: the extensions do not decode");
    }
    int critical = 0;
    crypto::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(parsed.get(), NID_subject_alt_name, &critical, nullptr)));
    if (!names && critical != -1) {
      ERR_clear_error();
      return fail(ErrorCode::kMalformed, "CertTemplate: subjectAltName does not decode");
    }
    if (names) out.sans = decode_general_names(names.get());
  }
  return out;
}

std::optional<int> revocation_reason(const OSSL_CMP_MSG* msg) {
  // body [11] RevReqContent ::= SEQUENCE OF RevDetails { certDetails, crlEntryDetails }
  const Bytes der = encode<OSSL_CMP_MSG, i2d_message>(msg);
  auto p = parts(der);
  if (!p || p->body.empty() || p->body[0] != der::context(11)) return std::nullopt;
  der::Reader body(p->body, "rr");
  auto content = body.read(der::context(11));
  if (!content) return std::nullopt;
  der::Reader revs(*content, "RevReqContent");
  auto list = revs.read(der::kSequence);
  if (!list) return std::nullopt;
  der::Reader details(*list, "RevReqContent");
  auto first = details.read(der::kSequence);
  if (!first) return std::nullopt;
  der::Reader rd(*first, "RevDetails");
  if (!rd.next()) return std::nullopt;
  auto exts = rd.optional(der::kSequence);
  if (!exts || !*exts) return std::nullopt;
  der::Reader ext_reader(**exts, "crlEntryDetails");
  while (!ext_reader.empty()) {
    auto ext = der::read_extension(ext_reader, "crlEntryDetails");
    if (!ext) return std::nullopt;
    if (!der::is_oid(ext->oid, der::oid::kReasonCode)) continue;
    der::Reader v(ext->value, "reasonCode");
    auto e = v.read(der::kEnumerated);
    if (!e || e->size() != 1 || (*e)[0] > 10) return std::nullopt;
    return (*e)[0];
  }
  return std::nullopt;
}

std::optional<int> status_of(const OSSL_CMP_PKISI* si) {
  const Bytes der = encode<OSSL_CMP_PKISI, i2d_status>(si);
  der::Reader top(der, "PKIStatusInfo");
  auto seq = top.read(der::kSequence);
  if (!seq) return std::nullopt;
  der::Reader r(*seq, "PKIStatusInfo");
  auto status = r.read(der::kInteger);
  if (!status || status->size() != 1 || (*status)[0] > 6) return std::nullopt;
  return (*status)[0];
}

OSSL_CMP_ITAV* ca_certs_itav(std::span<const Certificate> certs) {
  Bytes der;
  der::Writer w(der);
  const std::size_t mark = w.begin(der::kSequence);
  for (const Certificate& c : certs) w.raw(c.der());
  w.end(mark);
  crypto::Handle<ASN1_STRING, ASN1_STRING_free> s(ASN1_STRING_type_new(V_ASN1_SEQUENCE));
  crypto::Handle<ASN1_TYPE, ASN1_TYPE_free> value(ASN1_TYPE_new());
  if (!s || !value || !ASN1_STRING_set(s.get(), der.data(), static_cast<int>(der.size())))
    return nullptr;
  ASN1_TYPE_set(value.get(), V_ASN1_SEQUENCE, s.release());
  OSSL_CMP_ITAV* itav = OSSL_CMP_ITAV_create(OBJ_nid2obj(NID_id_it_caCerts), value.get());
  if (itav != nullptr) (void)value.release();
  return itav;
}

OSSL_CMP_ITAV* cert_req_template_itav(const std::optional<std::string>& common_name,
                                      crypto::KeyType key) {
  Bytes der;
  der::Writer w(der);
  const std::size_t content = w.begin(der::kSequence);  // CertReqTemplateContent
  const std::size_t tmpl = w.begin(der::kSequence);     // CertTemplate
  if (common_name) {
    crypto::X509NamePtr name(X509_NAME_new());
    if (!name ||
        !X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(common_name->data()),
                                    static_cast<int>(common_name->size()), -1, 0))
      return nullptr;
    unsigned char* buf = nullptr;
    const int n = i2d_X509_NAME(name.get(), &buf);
    if (n <= 0) return nullptr;
    // subject [5] Name: a CHOICE, so the tag is explicit.
    w.tlv(der::context(5), std::span<const std::uint8_t>(buf, std::size_t(n)));
    OPENSSL_free(buf);
  }
  w.end(tmpl);
  const std::size_t controls = w.begin(der::kSequence);  // keySpec
  const std::size_t control = w.begin(der::kSequence);
  switch (key) {
    case crypto::KeyType::kRsa2048:
    case crypto::KeyType::kRsa3072:
    case crypto::KeyType::kRsa4096: {
      w.oid(kRegCtrlRsaKeyLen);
      const unsigned bits = key == crypto::KeyType::kRsa2048   ? 2048
                            : key == crypto::KeyType::kRsa3072 ? 3072
                                                               : 4096;
      const std::uint8_t magnitude[] = {static_cast<std::uint8_t>(bits >> 8),
                                        static_cast<std::uint8_t>(bits & 0xff)};
      w.integer(magnitude);
      break;
    }
    default: {
      w.oid(kRegCtrlAlgId);
      const std::size_t alg = w.begin(der::kSequence);
      if (key == crypto::KeyType::kEd25519) {
        w.oid(kEd25519);
      } else {
        w.oid(kEcPublicKey);
        w.oid(key == crypto::KeyType::kEcP384 ? std::span<const std::uint8_t>(kP384)
                                              : std::span<const std::uint8_t>(kP256));
      }
      w.end(alg);
    }
  }
  w.end(control);
  w.end(controls);
  w.end(content);
  crypto::Handle<ASN1_STRING, ASN1_STRING_free> s(ASN1_STRING_type_new(V_ASN1_SEQUENCE));
  crypto::Handle<ASN1_TYPE, ASN1_TYPE_free> value(ASN1_TYPE_new());
  if (!s || !value || !ASN1_STRING_set(s.get(), der.data(), static_cast<int>(der.size())))
    return nullptr;
  ASN1_TYPE_set(value.get(), V_ASN1_SEQUENCE, s.release());
  OSSL_CMP_ITAV* itav = OSSL_CMP_ITAV_create(OBJ_nid2obj(NID_id_it_certReqTemplate), value.get());
  if (itav == nullptr) return nullptr;
  (void)value.release();
  return itav;
}

bool asks_cert_req_template(const OSSL_CMP_ITAV* itav) {
  return OBJ_obj2nid(OSSL_CMP_ITAV_get0_type(itav)) == NID_id_it_certReqTemplate;
}

}  // namespace certward::x509::cmp
