#include "x509/cmp.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>

#include <algorithm>

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
constexpr std::uint8_t kPbmac1Oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e};
constexpr std::uint8_t kPbkdf2[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c};
constexpr std::uint8_t kHmacSha256[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09};
constexpr std::uint8_t kHmacSha384[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0a};
constexpr std::uint8_t kHmacSha512[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b};
constexpr std::uint8_t kSha256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};

// The HMAC an AlgorithmIdentifier names, among those read: SHA-256, SHA-384, SHA-512.
const EVP_MD* hmac_digest(std::span<const std::uint8_t> alg_id_content) {
  der::Reader r(alg_id_content, "HMAC algorithm");
  auto oid = r.read(der::kOid);
  if (!oid) return nullptr;
  if (der::is_oid(*oid, kHmacSha256)) return EVP_sha256();
  if (der::is_oid(*oid, kHmacSha384)) return EVP_sha384();
  if (der::is_oid(*oid, kHmacSha512)) return EVP_sha512();
  return nullptr;
}

std::span<const std::uint8_t> hmac_oid(const EVP_MD* md) {
  if (md == EVP_sha384()) return kHmacSha384;
  if (md == EVP_sha512()) return kHmacSha512;
  return kHmacSha256;
}

// A non-negative INTEGER of at most 4 octets; nullopt otherwise.
std::optional<long> small_integer(std::span<const std::uint8_t> content) {
  if (content.empty() || content.size() > 4 || (content[0] & 0x80) != 0) return std::nullopt;
  long n = 0;
  for (std::uint8_t b : content) n = (n << 8) | b;
  return n;
}

// PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier {id-PBKDF2, PBKDF2-params},
// messageAuthScheme AlgorithmIdentifier }; PBKDF2-params ::= SEQUENCE { salt OCTET STRING,
// iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT
// hmacWithSHA1 }. nullopt: unreadable, or a hash not read here (SHA-1 among them).
std::optional<Pbmac1> read_pbmac1(der::Reader& alg) {
  auto params = alg.read(der::kSequence);
  if (!params) return std::nullopt;
  der::Reader p(*params, "PBMAC1-params");
  auto kdf = p.read(der::kSequence);
  auto scheme = p.read(der::kSequence);
  if (!kdf || !scheme || !p.empty()) return std::nullopt;
  der::Reader k(*kdf, "keyDerivationFunc");
  auto kdf_oid = k.read(der::kOid);
  auto kdf_params = k.read(der::kSequence);
  if (!kdf_oid || !der::is_oid(*kdf_oid, kPbkdf2) || !kdf_params) return std::nullopt;
  der::Reader pb(*kdf_params, "PBKDF2-params");
  auto salt = pb.read(der::kOctetString);
  auto count = pb.read(der::kInteger);
  if (!salt || !count) return std::nullopt;
  Pbmac1 out;
  out.salt = Bytes(salt->begin(), salt->end());
  auto iterations = small_integer(*count);
  if (!iterations || *iterations < 1 || out.salt.empty() || out.salt.size() > 64)
    return std::nullopt;
  out.iterations = *iterations;
  if (pb.next_is(der::kInteger)) {
    auto len_der = pb.read(der::kInteger);
    auto len = len_der ? small_integer(*len_der) : std::nullopt;
    if (!len || *len < 16 || *len > 64) return std::nullopt;
    out.key_length = static_cast<std::size_t>(*len);
  }
  if (!pb.next_is(der::kSequence)) return std::nullopt;  // hmacWithSHA1, the default: refused
  auto prf = pb.read(der::kSequence);
  if (!prf) return std::nullopt;
  out.prf = hmac_digest(*prf);
  out.mac = hmac_digest(*scheme);
  if (out.prf == nullptr || out.mac == nullptr || !pb.empty()) return std::nullopt;
  if (out.key_length == 0) out.key_length = static_cast<std::size_t>(EVP_MD_get_size(out.mac));
  return out;
}

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
  der::Tlv header;
  std::span<const std::uint8_t> body;
  std::optional<std::span<const std::uint8_t>> protection;   // [0]'s content
  std::optional<std::span<const std::uint8_t>> extra_certs;  // [1]'s content
};

Result<Parts> parts(std::span<const std::uint8_t> der) {
  der::Reader top(der, "PKIMessage");
  CW_ASSIGN_OR_RETURN(auto msg, top.read(der::kSequence));
  if (!top.empty()) return fail(ErrorCode::kMalformed, "PKIMessage: bytes after it");
  der::Reader r(msg, "PKIMessage");
  Parts out;
  CW_ASSIGN_OR_RETURN(out.header, r.next());
  CW_ASSIGN_OR_RETURN(auto body, r.next());
  out.body = body.whole;
  CW_ASSIGN_OR_RETURN(out.protection, r.optional(der::context(0)));
  CW_ASSIGN_OR_RETURN(out.extra_certs, r.optional(der::context(1)));
  return out;
}

// ProtectedPart ::= SEQUENCE { header, body }: what a MAC or a signature covers.
Bytes protected_part(std::span<const std::uint8_t> header, std::span<const std::uint8_t> body) {
  Bytes out;
  der::Writer w(out);
  const std::size_t seq = w.begin(der::kSequence);
  w.raw(header);
  w.raw(body);
  w.end(seq);
  return out;
}

// The header with its protectionAlg ([1]) replaced by `alg`, the fields kept in tag order.
Result<Bytes> with_protection_alg(const der::Tlv& header, std::span<const std::uint8_t> alg) {
  der::Reader r(header.content, "PKIHeader");
  Bytes out;
  der::Writer w(out);
  const std::size_t seq = w.begin(der::kSequence);
  for (int i = 0; i < 3; ++i) {
    CW_ASSIGN_OR_RETURN(auto f, r.next());
    w.raw(f.whole);
  }
  bool written = false;
  auto write_alg = [&] {
    w.tlv(der::context(1), alg);
    written = true;
  };
  while (!r.empty()) {
    CW_ASSIGN_OR_RETURN(auto f, r.next());
    if (f.tag == der::context(1)) continue;
    if (!written && f.tag > der::context(1)) write_alg();
    w.raw(f.whole);
  }
  if (!written) write_alg();
  w.end(seq);
  return out;
}

// The PKIMessage with `header`, its body and extraCerts, and `mac` as its protection.
Bytes assemble(std::span<const std::uint8_t> header, const Parts& p,
               std::span<const std::uint8_t> mac) {
  Bytes out;
  der::Writer w(out);
  const std::size_t seq = w.begin(der::kSequence);
  w.raw(header);
  w.raw(p.body);
  const std::size_t prot = w.begin(der::context(0));
  Bytes bits{0};
  bits.insert(bits.end(), mac.begin(), mac.end());
  w.tlv(der::kBitString, bits);
  w.end(prot);
  if (p.extra_certs) w.tlv(der::context(1), *p.extra_certs);
  w.end(seq);
  return out;
}

Result<Bytes> hmac(const EVP_MD* md, std::span<const std::uint8_t> key,
                   std::span<const std::uint8_t> data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out, &len) ==
      nullptr)
    return fail(ErrorCode::kInternal, "HMAC failed");
  return Bytes(out, out + len);
}

Result<Bytes> pbmac1_mac(const Pbmac1& p, std::span<const std::uint8_t> secret,
                         std::span<const std::uint8_t> data) {
  crypto::SecretBytes key(p.key_length);
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(secret.data()),
                        static_cast<int>(secret.size()), p.salt.data(),
                        static_cast<int>(p.salt.size()), static_cast<int>(p.iterations), p.prf,
                        static_cast<int>(p.key_length), key.data()) != 1)
    return fail(ErrorCode::kInternal, "PBKDF2 failed");
  return hmac(p.mac, key.span(), data);
}

Bytes pbmac1_algorithm(const Pbmac1& p) {
  Bytes out;
  der::Writer w(out);
  auto alg_id = [&w](std::span<const std::uint8_t> oid) {
    const std::size_t a = w.begin(der::kSequence);
    w.oid(oid);
    w.null();
    w.end(a);
  };
  const std::size_t top = w.begin(der::kSequence);
  w.oid(kPbmac1Oid);
  const std::size_t params = w.begin(der::kSequence);
  const std::size_t kdf = w.begin(der::kSequence);
  w.oid(kPbkdf2);
  const std::size_t pb = w.begin(der::kSequence);
  w.tlv(der::kOctetString, p.salt);
  const auto be = [](long v) {
    Bytes b;
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>(v >> shift));
    return b;
  };
  w.integer(be(p.iterations));
  w.integer(be(static_cast<long>(p.key_length)));
  alg_id(hmac_oid(p.prf));
  w.end(pb);
  w.end(kdf);
  alg_id(hmac_oid(p.mac));
  w.end(params);
  w.end(top);
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
        if (der::is_oid(oid, kPbmac1Oid)) {
          h.pbmac1 = read_pbmac1(alg);
          if (h.pbmac1) h.pbm_iterations = h.pbmac1->iterations;
        } else if (der::is_oid(oid, kPbm) && alg.next_is(der::kSequence)) {
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

bool pbmac1_verifies(std::span<const std::uint8_t> der, const Pbmac1& p,
                     std::span<const std::uint8_t> secret) {
  auto m = parts(der);
  if (!m || !m->protection) return false;
  der::Reader r(*m->protection, "protection");
  auto bits = r.read(der::kBitString);
  if (!bits || bits->size() < 2 || (*bits)[0] != 0) return false;
  auto mac = pbmac1_mac(p, secret, protected_part(m->header.whole, m->body));
  return mac && mac->size() == bits->size() - 1 &&
         CRYPTO_memcmp(mac->data(), bits->data() + 1, mac->size()) == 0;
}

Result<Bytes> protect_pbmac1(std::span<const std::uint8_t> der, const Pbmac1& p,
                             std::span<const std::uint8_t> secret) {
  CW_ASSIGN_OR_RETURN(auto m, parts(der));
  Pbmac1 fresh = p;
  fresh.salt = crypto::random_bytes(16);
  CW_ASSIGN_OR_RETURN(auto header, with_protection_alg(m.header, pbmac1_algorithm(fresh)));
  CW_ASSIGN_OR_RETURN(auto mac, pbmac1_mac(fresh, secret, protected_part(header, m.body)));
  return assemble(header, m, mac);
}

Result<Bytes> protect_pbm(std::span<const std::uint8_t> der, std::span<const std::uint8_t> secret,
                          long iterations) {
  // At least OpenSSL's minimum; the message is stored with this MAC (a transaction's
  // request), where it must cost a guesser as much as the client's own did.
  const long count = std::clamp(iterations, 100L, 10'000L);
  CW_ASSIGN_OR_RETURN(auto m, parts(der));
  const Bytes salt = crypto::random_bytes(16);
  // PBMParameter ::= SEQUENCE { salt, owf AlgorithmIdentifier, iterationCount, mac }
  Bytes alg;
  der::Writer w(alg);
  const std::size_t top = w.begin(der::kSequence);
  w.oid(kPbm);
  const std::size_t params = w.begin(der::kSequence);
  w.tlv(der::kOctetString, salt);
  const std::size_t owf = w.begin(der::kSequence);
  w.oid(kSha256);
  w.end(owf);
  const Bytes count_be = {static_cast<std::uint8_t>(count >> 8), static_cast<std::uint8_t>(count)};
  w.integer(count_be);
  const std::size_t mac_alg = w.begin(der::kSequence);
  w.oid(kHmacSha256);
  w.end(mac_alg);
  w.end(params);
  w.end(top);
  CW_ASSIGN_OR_RETURN(auto header, with_protection_alg(m.header, alg));
  // RFC 4210 5.1.3.1: the key is OWF^iterationCount(secret || salt).
  crypto::SecretBytes key(secret.size() + salt.size());
  std::copy(secret.begin(), secret.end(), key.data());
  std::copy(salt.begin(), salt.end(), key.data() + secret.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(key.data(), key.span().size(), digest, &len, EVP_sha256(), nullptr) != 1)
    return fail(ErrorCode::kInternal, "PBM: digest failed");
  for (long i = 1; i < count; ++i) {
    if (EVP_Digest(digest, len, digest, &len, EVP_sha256(), nullptr) != 1)
      return fail(ErrorCode::kInternal, "PBM: digest failed");
  }
  auto mac = hmac(EVP_sha256(), std::span<const std::uint8_t>(digest, len),
                  protected_part(header, m.body));
  OPENSSL_cleanse(digest, sizeof digest);
  if (!mac) return std::unexpected(mac.error());
  return assemble(header, m, *mac);
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
