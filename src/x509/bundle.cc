#include "x509/bundle.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <algorithm>

#include "x509/internal.h"

namespace certward::x509 {

using crypto::Handle;

namespace {

using internal::stack_at;
using internal::stack_size;

constexpr std::string_view kPkcs7SignedOid = "1.2.840.113549.1.7.2";

// One ASN.1 TLV header. Indefinite lengths (BER, as some PKCS#12 writers emit) extend to `end`.
struct Tlv {
  int tag = 0;
  bool constructed = false;
  const unsigned char* content = nullptr;
  long length = 0;
};

std::optional<Tlv> read_tlv(const unsigned char* p, const unsigned char* end) {
  Tlv tlv;
  int xclass = 0;
  const unsigned char* q = p;
  const int r = ASN1_get_object(&q, &tlv.length, &tlv.tag, &xclass, end - p);
  if (r & 0x80) {
    ERR_clear_error();
    return std::nullopt;
  }
  if (xclass != V_ASN1_UNIVERSAL) return std::nullopt;
  tlv.constructed = (r & V_ASN1_CONSTRUCTED) != 0;
  tlv.content = q;
  if (r == (V_ASN1_CONSTRUCTED | 1)) tlv.length = end - q;  // indefinite length
  return tlv;
}

// One definite-length TLV of any class, with where it ends; nullopt for anything else
// (indefinite lengths, a length past `end`).
struct Element {
  int tag = 0;
  int xclass = 0;
  bool constructed = false;
  const unsigned char* start = nullptr;
  const unsigned char* content = nullptr;
  const unsigned char* end = nullptr;
};

std::optional<Element> read_element(const unsigned char* p, const unsigned char* end) {
  if (p >= end) return std::nullopt;
  Element e;
  e.start = p;
  long length = 0;
  const unsigned char* q = p;
  const int r = ASN1_get_object(&q, &length, &e.tag, &e.xclass, end - p);
  if ((r & 0x80) || (r & 1)) {
    ERR_clear_error();
    return std::nullopt;
  }
  e.constructed = (r & V_ASN1_CONSTRUCTED) != 0;
  e.content = q;
  e.end = q + length;
  return e;
}

bool is(const std::optional<Element>& e, int xclass, int tag, bool constructed = true) {
  return e && e->xclass == xclass && e->tag == tag && e->constructed == constructed;
}

// The certificates of a SignedData (RFC 5652 5.1) as the bytes they are in `data`, found by
// walking its DER without decoding them; nullopt for anything this walk does not know (BER,
// another content type, a certificate choice other than a plain Certificate), which is then
// left to OpenSSL's decoder. Decoding the whole PKCS#7 decoded each certificate once more than
// needed, and re-encoded it.
std::optional<std::vector<std::span<const std::uint8_t>>> signed_data_certificates(
    std::span<const std::uint8_t> data) {
  static constexpr unsigned char kSignedDataOid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                     0x0d, 0x01, 0x07, 0x02};
  const unsigned char* end = data.data() + data.size();
  const auto content_info = read_element(data.data(), end);
  if (!is(content_info, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) || content_info->end != end) {
    return std::nullopt;
  }
  const auto type = read_element(content_info->content, end);
  if (!is(type, V_ASN1_UNIVERSAL, V_ASN1_OBJECT, false) ||
      !std::ranges::equal(std::span(type->content, type->end), kSignedDataOid)) {
    return std::nullopt;
  }
  const auto explicit0 = read_element(type->end, end);
  if (!is(explicit0, V_ASN1_CONTEXT_SPECIFIC, 0) || explicit0->end != end) return std::nullopt;
  const auto signed_data = read_element(explicit0->content, end);
  if (!is(signed_data, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) || signed_data->end != end) {
    return std::nullopt;
  }
  // Only the certs-only shape (`openssl crl2pkcs7 -nocrl`, make_pkcs7) is walked: a version,
  // no digest algorithm, content that is only a type, the certificates, no CRL and no signer.
  // Everything else goes through OpenSSL's decoder, which checks the whole structure.
  const auto version = read_element(signed_data->content, end);
  if (!is(version, V_ASN1_UNIVERSAL, V_ASN1_INTEGER, false) || version->content == version->end) {
    return std::nullopt;
  }
  const auto digests = read_element(version->end, end);
  if (!is(digests, V_ASN1_UNIVERSAL, V_ASN1_SET) || digests->content != digests->end) {
    return std::nullopt;
  }
  const auto encapsulated = read_element(digests->end, end);
  if (!is(encapsulated, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE)) return std::nullopt;
  const auto content_type = read_element(encapsulated->content, encapsulated->end);
  if (!is(content_type, V_ASN1_UNIVERSAL, V_ASN1_OBJECT, false) ||
      content_type->content == content_type->end || content_type->end != encapsulated->end) {
    return std::nullopt;
  }
  auto next = read_element(encapsulated->end, end);
  std::vector<std::span<const std::uint8_t>> out;
  if (is(next, V_ASN1_CONTEXT_SPECIFIC, 0)) {
    for (const unsigned char* p = next->content; p < next->end;) {
      const auto cert = read_element(p, next->end);
      if (!is(cert, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE)) return std::nullopt;
      out.emplace_back(cert->start, cert->end);
      p = cert->end;
    }
    next = read_element(next->end, end);
  }
  if (!is(next, V_ASN1_UNIVERSAL, V_ASN1_SET) || next->content != next->end || next->end != end) {
    return std::nullopt;
  }
  return out;
}

Result<Certificate> from_der(std::span<const std::uint8_t> der, Parsing parsing) {
  return parsing == Parsing::kLenient ? Certificate::from_der_lenient(der)
                                      : Certificate::from_der(der);
}

// The certificate `x` encodes, read again from its DER: for an X509 whose key was not decoded
// (the keyless context), and for lenient parsing.
Result<Certificate> from_encoding(const X509* x, Parsing parsing) {
  unsigned char* buf = nullptr;
  const int len = i2d_X509(x, &buf);
  if (len <= 0) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "certificate cannot be encoded");
  }
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  return from_der(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(len)), parsing);
}

Result<Certificate> from_x509(crypto::X509Ptr x, Parsing parsing) {
  if (parsing == Parsing::kStrict) return Certificate::from_x509(std::move(x));
  return from_encoding(x.get(), parsing);
}

Result<Certificate> parse_trusted_certificate(const Bytes& der) {
  const unsigned char* p = der.data();
  crypto::X509Ptr x(d2i_X509_AUX(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "corrupt TRUSTED CERTIFICATE block");
  }
  // from_x509 keeps the plain certificate; OpenSSL's trust settings are not ours to carry.
  return Certificate::from_x509(std::move(x));
}

Result<std::vector<Certificate>> parse_pem_bundle(std::span<const std::uint8_t> data,
                                                  Parsing parsing) {
  crypto::BioPtr bio = internal::mem_bio(data);
  std::vector<Certificate> out;
  while (true) {
    CW_ASSIGN_OR_RETURN(auto block, internal::read_pem_block(bio.get()));
    if (!block) break;
    if (block->name == "CERTIFICATE" || block->name == "X509 CERTIFICATE") {
      CW_ASSIGN_OR_RETURN(auto cert, from_der(block->der, parsing));
      out.push_back(std::move(cert));
    } else if (block->name == "TRUSTED CERTIFICATE") {
      CW_ASSIGN_OR_RETURN(auto cert, parse_trusted_certificate(block->der));
      out.push_back(std::move(cert));
    } else if (block->name == "PKCS7") {
      CW_ASSIGN_OR_RETURN(auto certs, parse_pkcs7(block->der, parsing));
      for (auto& c : certs) out.push_back(std::move(c));
    }
    // Keys, CSRs, CRLs and parameters are not certificates: skipped on purpose.
  }
  if (out.empty()) return fail(ErrorCode::kMalformed, "no certificate in the PEM data");
  return out;
}

}  // namespace

namespace internal {

Result<std::optional<PemBlock>> read_pem_block(BIO* bio) {
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* der = nullptr;
  long len = 0;
  ERR_clear_error();
  if (!PEM_read_bio(bio, &name, &header, &der, &len)) {
    const unsigned long err = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
      return std::optional<PemBlock>();
    }
    return fail(ErrorCode::kMalformed, "corrupt PEM block");
  }
  crypto::OpensslStringPtr owned_name(name);
  crypto::OpensslStringPtr owned_header(header);
  crypto::OpensslStringPtr owned_der(reinterpret_cast<char*>(der));
  return std::optional<PemBlock>(
      PemBlock{name, Bytes(der, der + static_cast<std::ptrdiff_t>(len))});
}

}  // namespace internal

std::string_view container_format_name(ContainerFormat f) {
  switch (f) {
    case ContainerFormat::kPem:
      return "pem";
    case ContainerFormat::kDer:
      return "der";
    case ContainerFormat::kPkcs7:
      return "pkcs7";
    case ContainerFormat::kPkcs12:
      return "pkcs12";
  }
  return "unknown";
}

Result<ContainerFormat> detect_format(std::span<const std::uint8_t> data) {
  if (internal::has_pem_armour(data)) return ContainerFormat::kPem;
  const unsigned char* end = data.data() + data.size();
  const auto outer = data.empty() ? std::nullopt : read_tlv(data.data(), end);
  if (!outer || outer->tag != V_ASN1_SEQUENCE || !outer->constructed) {
    return fail(ErrorCode::kMalformed, "neither PEM nor a DER structure");
  }
  const unsigned char* inner_end = outer->content + outer->length;
  const auto first = read_tlv(outer->content, inner_end);
  if (!first) return fail(ErrorCode::kMalformed, "truncated DER structure");
  // PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, ... }
  if (first->tag == V_ASN1_INTEGER && first->length == 1 && first->content[0] == 3) {
    return ContainerFormat::kPkcs12;
  }
  // ContentInfo ::= SEQUENCE { contentType OID (signedData), content [0] ... }
  if (first->tag == V_ASN1_OBJECT) {
    const unsigned char* p = outer->content;  // where the OID's own TLV starts
    Handle<ASN1_OBJECT, ASN1_OBJECT_free> oid(
        d2i_ASN1_OBJECT(nullptr, &p, inner_end - outer->content));
    ERR_clear_error();
    if (oid && internal::oid_text(oid.get()) == kPkcs7SignedOid) return ContainerFormat::kPkcs7;
    return fail(ErrorCode::kMalformed, "DER ContentInfo that is not PKCS#7 SignedData");
  }
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, ... }
  if (first->tag == V_ASN1_SEQUENCE && first->constructed) return ContainerFormat::kDer;
  return fail(ErrorCode::kMalformed, "unrecognised DER structure");
}

Result<std::vector<Certificate>> parse_certificates(std::span<const std::uint8_t> data,
                                                    Parsing parsing) {
  CW_ASSIGN_OR_RETURN(const ContainerFormat format, detect_format(data));
  switch (format) {
    case ContainerFormat::kPem:
      return parse_pem_bundle(data, parsing);
    case ContainerFormat::kPkcs7:
      return parse_pkcs7(data, parsing);
    case ContainerFormat::kDer: {
      CW_ASSIGN_OR_RETURN(auto cert, from_der(data, parsing));
      return std::vector<Certificate>{std::move(cert)};
    }
    case ContainerFormat::kPkcs12:
      break;
  }
  return fail(ErrorCode::kMalformed, "PKCS#12 needs a password: use parse_pkcs12");
}

Result<std::vector<Certificate>> parse_pkcs7(std::span<const std::uint8_t> data, Parsing parsing) {
  Bytes pem_der;
  if (internal::has_pem_armour(data)) {
    crypto::BioPtr bio = internal::mem_bio(data);
    CW_ASSIGN_OR_RETURN(auto block, internal::read_pem_block(bio.get()));
    if (!block || block->name != "PKCS7") return fail(ErrorCode::kMalformed, "no PKCS7 PEM block");
    pem_der = std::move(block->der);
    data = pem_der;
  }
  // Found in the wild: each certificate is parsed from its own bytes, like a file holding it
  // (and, like it, kept in DER: Certificate::decode).
  if (parsing == Parsing::kLenient) {
    if (auto found = signed_data_certificates(data)) {
      if (found->empty()) return fail(ErrorCode::kMalformed, "PKCS#7 holds no certificate");
      std::vector<Certificate> out;
      for (const auto der : *found) {
        CW_ASSIGN_OR_RETURN(auto cert, Certificate::from_der_lenient(der));
        out.push_back(std::move(cert));
      }
      return out;
    }
  }
  const unsigned char* p = data.data();
  // Decoded without key decoding: every certificate is re-read from its DER below, lazily.
  crypto::Pkcs7Ptr p7(reinterpret_cast<PKCS7*>(
      ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(data.size()), ASN1_ITEM_rptr(PKCS7),
                       internal::keyless_context(), nullptr)));
  if (!p7 || p != data.data() + data.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "not a DER PKCS#7 structure");
  }
  if (OBJ_obj2nid(p7->type) != NID_pkcs7_signed || !p7->d.sign) {
    return fail(ErrorCode::kMalformed, "PKCS#7 is not SignedData");
  }
  const STACK_OF(X509)* certs = p7->d.sign->cert;
  if (stack_size(certs) == 0) return fail(ErrorCode::kMalformed, "PKCS#7 holds no certificate");
  std::vector<Certificate> out;
  for (int i = 0; i < stack_size(certs); ++i) {
    // Through the DER, never as the X509 itself: that one has no decoded key.
    CW_ASSIGN_OR_RETURN(auto cert, from_encoding(stack_at<X509>(certs, i), parsing));
    out.push_back(std::move(cert));
  }
  return out;
}

Result<Bytes> make_pkcs7(std::span<const Certificate> certs) {
  // Same shape as `openssl crl2pkcs7 -nocrl`: SignedData, no content, no signers.
  crypto::Pkcs7Ptr p7(PKCS7_new());
  if (!p7 || !PKCS7_set_type(p7.get(), NID_pkcs7_signed) ||
      !PKCS7_content_new(p7.get(), NID_pkcs7_data) || !PKCS7_set_detached(p7.get(), 1)) {
    return fail(ErrorCode::kInternal, "PKCS#7 setup failed: " + crypto::openssl_error_string());
  }
  for (const Certificate& c : certs) {
    if (!PKCS7_add_certificate(p7.get(), c.get())) {
      return fail(ErrorCode::kInternal, "PKCS#7 add failed: " + crypto::openssl_error_string());
    }
  }
  unsigned char* buf = nullptr;
  const int len = i2d_PKCS7(p7.get(), &buf);
  if (len <= 0) return fail(ErrorCode::kInternal, "PKCS#7 encoding failed");
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  return Bytes(buf, buf + len);
}

namespace {
// The password as the C string PKCS12_* want, in memory that cleanses itself.
crypto::SecretBytes c_password(std::string_view password) {
  crypto::SecretBytes out(password.size() + 1);  // zero-filled: the last byte is the NUL
  std::copy(password.begin(), password.end(), out.data());
  return out;
}
const char* c_str(const crypto::SecretBytes& s) { return reinterpret_cast<const char*>(s.data()); }
}  // namespace

Result<Pkcs12Contents> parse_pkcs12(std::span<const std::uint8_t> data, std::string_view password,
                                    Parsing parsing) {
  const unsigned char* p = data.data();
  crypto::Pkcs12Ptr p12(data.empty() ? nullptr
                                     : d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
  if (!p12 || p != data.data() + data.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "not a DER PKCS#12 structure");
  }
  const crypto::SecretBytes pass = c_password(password);
  const char* pass_arg = c_str(pass);
  if (PKCS12_mac_present(p12.get())) {
    // As `openssl pkcs12` does: an empty password may have been applied as "no password"
    // (NULL, zero-length BMPString) or as "" (the two-byte BMPString terminator).
    if (password.empty() && PKCS12_verify_mac(p12.get(), nullptr, 0)) {
      pass_arg = nullptr;
    } else if (!PKCS12_verify_mac(p12.get(), c_str(pass), -1)) {
      ERR_clear_error();
      return fail(ErrorCode::kBadPassword, "PKCS#12 MAC does not verify: wrong password");
    }
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  const int parsed = PKCS12_parse(p12.get(), pass_arg, &raw_key, &raw_cert, &raw_ca);
  crypto::EvpPkeyPtr key(raw_key);
  crypto::X509Ptr cert(raw_cert);
  crypto::X509StackPtr ca(raw_ca);
  if (!parsed) {
    const std::string detail = crypto::openssl_error_string();
    // Without a MAC a wrong password shows up only as a decryption failure.
    if (!PKCS12_mac_present(p12.get())) {
      return fail(ErrorCode::kBadPassword, "PKCS#12 does not decrypt: wrong password");
    }
    return fail(ErrorCode::kMalformed,
                "PKCS#12 contents unreadable (unsupported encryption?): " + detail);
  }
  Pkcs12Contents out;
  if (key) out.key.emplace(std::move(key));
  if (cert) {
    CW_ASSIGN_OR_RETURN(auto leaf, from_x509(std::move(cert), parsing));
    out.leaf = std::move(leaf);
  }
  for (int i = 0; i < stack_size(ca.get()); ++i) {
    CW_ASSIGN_OR_RETURN(auto c, from_x509(crypto::up_ref(stack_at<X509>(ca.get(), i)), parsing));
    out.chain.push_back(std::move(c));
  }
  return out;
}

namespace {
// Like `openssl pkcs12 -export` on OpenSSL 3: PBES2/PBKDF2 with AES-256-CBC for both bags,
// default iterations, then a SHA-256 MAC over the whole. `key` and `leaf` may be null.
Result<Bytes> build_pkcs12(EVP_PKEY* key, X509* leaf, std::span<const Certificate> others,
                           std::string_view password, std::string_view friendly_name) {
  crypto::X509StackPtr ca = internal::new_x509_stack();
  for (const Certificate& c : others) {
    crypto::X509Ptr ref = crypto::up_ref(c.get());
    if (!internal::stack_push(ca.get(), ref.get()))
      return fail(ErrorCode::kInternal, "out of memory");
    ref.release();
  }
  const crypto::SecretBytes pass = c_password(password);
  const std::string name(friendly_name);
  crypto::Pkcs12Ptr p12(PKCS12_create_ex(c_str(pass), name.empty() ? nullptr : name.c_str(), key,
                                         leaf, ca.get(), NID_aes_256_cbc, NID_aes_256_cbc,
                                         PKCS12_DEFAULT_ITER, -1, 0, nullptr, nullptr));
  if (!p12)
    return fail(ErrorCode::kInternal, "PKCS#12 creation failed: " + crypto::openssl_error_string());
  if (!PKCS12_set_mac(p12.get(), c_str(pass), -1, nullptr, 0, PKCS12_DEFAULT_ITER, EVP_sha256())) {
    return fail(ErrorCode::kInternal, "PKCS#12 MAC failed: " + crypto::openssl_error_string());
  }
  unsigned char* buf = nullptr;
  const int len = i2d_PKCS12(p12.get(), &buf);
  if (len <= 0) return fail(ErrorCode::kInternal, "PKCS#12 encoding failed");
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  return Bytes(buf, buf + len);
}
}  // namespace

Result<Bytes> make_pkcs12(const crypto::PrivateKey& key, const Certificate& leaf,
                          std::span<const Certificate> chain, std::string_view password,
                          std::string_view friendly_name) {
  return build_pkcs12(key.get(), leaf.get(), chain, password, friendly_name);
}

Result<Bytes> make_pkcs12_certificates(std::span<const Certificate> certs,
                                       std::string_view password) {
  if (certs.empty()) return fail(ErrorCode::kInvalidArgument, "no certificates for the PKCS#12");
  return build_pkcs12(nullptr, nullptr, certs, password, "");
}

}  // namespace certward::x509
