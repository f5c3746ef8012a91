#include "x509/est.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "common/encoding.h"
#include "x509/der_internal.h"

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

bool asks_encrypted_key(const Csr& csr) {
  // id-aa-decryptKeyID 1.2.840.113549.1.9.16.2.37, id-aa-asymmDecryptKeyID ...2.54
  for (const char* oid : {"1.2.840.113549.1.9.16.2.37", "1.2.840.113549.1.9.16.2.54"}) {
    ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
    if (obj == nullptr) continue;
    const int at = X509_REQ_get_attr_by_OBJ(csr.get(), obj, -1);
    ASN1_OBJECT_free(obj);
    if (at >= 0) return true;
  }
  return false;
}

std::string make_serverkeygen_body(std::span<const std::uint8_t> pkcs8_der,
                                   std::span<const std::uint8_t> pkcs7_der,
                                   std::string_view boundary) {
  std::string out;
  const std::string line = "--" + std::string(boundary) + "\r\n";
  out += line;
  out += "Content-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += encode_base64_body(pkcs8_der);
  out += line;
  out +=
      "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n";
  out += encode_base64_body(pkcs7_der);
  out += "--" + std::string(boundary) + "--\r\n";
  return out;
}

}  // namespace certward::x509::est
