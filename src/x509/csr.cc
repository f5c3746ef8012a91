#include "x509/csr.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "x509/der_internal.h"
#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509 {

using crypto::Handle;

// Whether `spki` is an EC key at the point at infinity: SEC 1 2.3.3 encodes it as the single
// octet 0x00, and OpenSSL 3.0 decodes it as a key like any other. Every ECDSA "signature" with
// s = 1 and r = x(e·G), which anyone can compute, verifies under it: a request carrying it
// proves possession of nothing.
bool ec_point_at_infinity(const X509_PUBKEY* spki) {
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* point = nullptr;
  int point_size = 0;
  return spki && X509_PUBKEY_get0_param(&algorithm, &point, &point_size, nullptr, spki) &&
         OBJ_obj2nid(algorithm) == NID_X9_62_id_ecPublicKey && point_size == 1 && point[0] == 0;
}

// What parsing a request yields; Csr::State holds it.
struct ParsedRequest {
  crypto::X509ReqPtr req;
  Bytes der;
  CsrInfo info;
};

struct Csr::State : ParsedRequest {};

namespace {

using internal::decode_ext;

bool only_whitespace(BIO* bio) {
  char c = 0;
  while (BIO_read(bio, &c, 1) == 1) {
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The DER of the one CSR in `data`: a PEM block ("CERTIFICATE REQUEST" or the older
// "NEW CERTIFICATE REQUEST") with nothing but whitespace after it, or DER as given.
Result<Bytes> csr_der(std::span<const std::uint8_t> data) {
  if (!internal::has_pem_armour(data)) return Bytes(data.begin(), data.end());
  crypto::BioPtr bio = internal::mem_bio(data);
  CW_ASSIGN_OR_RETURN(auto block, internal::read_pem_block(bio.get()));
  if (!block ||
      (block->name != "CERTIFICATE REQUEST" && block->name != "NEW CERTIFICATE REQUEST")) {
    return fail(ErrorCode::kMalformed, "no CERTIFICATE REQUEST PEM block");
  }
  if (!only_whitespace(bio.get())) {
    return fail(ErrorCode::kMalformed, "trailing data after the certificate request");
  }
  return std::move(block->der);
}

Result<std::optional<std::string>> challenge_password(const X509_REQ* req) {
  const int idx = X509_REQ_get_attr_by_NID(req, NID_pkcs9_challengePassword, -1);
  if (idx < 0) return std::optional<std::string>();
  X509_ATTRIBUTE* attr = X509_REQ_get_attr(req, idx);
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(attr, 0);
  // DirectoryString in RFC 2985; PrintableString and UTF8String in practice, IA5 from old tools.
  static constexpr int kStringTypes[] = {V_ASN1_PRINTABLESTRING, V_ASN1_UTF8STRING,
                                         V_ASN1_IA5STRING,       V_ASN1_T61STRING,
                                         V_ASN1_BMPSTRING,       V_ASN1_UNIVERSALSTRING};
  if (!value || std::find(std::begin(kStringTypes), std::end(kStringTypes), value->type) ==
                    std::end(kStringTypes)) {
    return fail(ErrorCode::kMalformed, "challengePassword is not a string");
  }
  return std::optional<std::string>(internal::asn1_string_utf8(value->value.asn1_string));
}

// The extensions of an extensionRequest attribute; empty if there is none.
Result<crypto::ExtStackPtr> requested_extensions(X509_REQ* req) {
  crypto::ExtStackPtr exts(X509_REQ_get_extensions(req));
  if (!exts) {
    const bool present = X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
                         X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0;
    ERR_clear_error();
    if (present) return fail(ErrorCode::kMalformed, "undecodable extensionRequest attribute");
  }
  CW_RETURN_IF_ERROR(internal::check_extensions_decode(exts.get()));
  return exts;
}

Result<CsrInfo> describe(X509_REQ* req, EVP_PKEY* key) {
  CsrInfo info;
  const X509_NAME* subject = X509_REQ_get_subject_name(req);
  info.subject = format_name(subject);
  info.subject_cn = internal::first_cn(subject);
  info.key = crypto::describe_key(key);
  const int sig_nid = X509_REQ_get_signature_nid(req);
  info.signature_algorithm = sig_nid != NID_undef ? OBJ_nid2ln(sig_nid) : "unknown";
  CW_ASSIGN_OR_RETURN(info.challenge_password, challenge_password(req));

  CW_ASSIGN_OR_RETURN(auto exts, requested_extensions(req));
  info.requested_extensions = internal::summarize_extensions(exts.get());
  CW_ASSIGN_OR_RETURN(
      auto san, (decode_ext<GENERAL_NAMES, GENERAL_NAMES_free>(exts.get(), NID_subject_alt_name)));
  info.sans = decode_general_names(san.get());
  CW_ASSIGN_OR_RETURN(
      auto ku, (decode_ext<ASN1_BIT_STRING, ASN1_BIT_STRING_free>(exts.get(), NID_key_usage)));
  info.key_usage = internal::key_usage_names(ku.get());
  CW_ASSIGN_OR_RETURN(auto eku, (decode_ext<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>(
                                    exts.get(), NID_ext_key_usage)));
  info.extended_key_usage = internal::eku_names(eku.get());
  CW_ASSIGN_OR_RETURN(auto bc, (decode_ext<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>(
                                   exts.get(), NID_basic_constraints)));
  info.requests_ca = bc && bc->ca;
  return info;
}

// OpenSSL 3.0 decodes the subject key of every X509_PUBKEY it parses through a decoder context
// it builds afresh by walking every provider's decoders. Under REST issuance load that was
// about 170 of the ~300 µs a request spent in parse_csr, the largest single cost of an
// issuance (docs/benchmarks.md). Requests with a named-curve EC key (what ACME, EST and most
// REST clients send) are therefore assembled here from their parts: each part is decoded by
// OpenSSL's own d2i function, the key through the legacy EC_KEY point decode, and the
// assembled X509_REQ must encode to exactly the bytes received. Anything else (another key
// type, a shape this does not rebuild byte for byte, an encoding OpenSSL would refuse) returns
// null and goes to d2i_X509_REQ, which then accepts or refuses it as before. The signature is
// verified by the caller either way. The csr fuzz target checks that both paths agree.
struct Assembled {
  crypto::X509ReqPtr req;
  // Within the DER received: what the signature covers, its algorithm and its octets.
  std::span<const std::uint8_t> signed_info;
  std::span<const std::uint8_t> signature_algorithm;
  std::span<const std::uint8_t> signature;
};
std::optional<Assembled> assemble_named_curve_request(std::span<const std::uint8_t> der) {
  static constexpr std::uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
  static constexpr std::uint8_t kP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  static constexpr std::uint8_t kP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
  static constexpr std::uint8_t kP521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};
  const char* what = "certificate request";

  der::Reader outer(der, what);
  auto body = outer.read(der::kSequence);
  if (!body || !outer.finish()) return std::nullopt;
  der::Reader parts(*body, what);
  auto info = parts.next();
  auto sig_alg = parts.next();
  auto signature = parts.next();
  if (!info || info->tag != der::kSequence || !sig_alg || sig_alg->tag != der::kSequence ||
      !signature || signature->tag != der::kBitString || !parts.finish()) {
    return std::nullopt;
  }
  der::Reader fields(info->content, what);
  auto version = fields.read(der::kInteger);
  auto subject = fields.next();
  auto spki = fields.next();
  auto attributes = fields.next();  // [0] IMPLICIT SET OF Attribute
  if (!version || version->size() != 1 || version->front() != 0 || !subject ||
      subject->tag != der::kSequence || !spki || spki->tag != der::kSequence || !attributes ||
      attributes->tag != der::context(0) || !fields.finish()) {
    return std::nullopt;
  }

  der::Reader key_fields(spki->content, what);
  auto key_algorithm = key_fields.read(der::kSequence);
  auto key_bits = key_fields.read(der::kBitString);
  if (!key_algorithm || !key_bits || !key_fields.finish()) return std::nullopt;
  der::Reader algorithm_fields(*key_algorithm, what);
  auto key_type = algorithm_fields.read(der::kOid);
  auto curve = algorithm_fields.read(der::kOid);
  if (!key_type || !curve || !algorithm_fields.finish() || !der::is_oid(*key_type, kEcPublicKey)) {
    return std::nullopt;
  }
  const int curve_nid = der::is_oid(*curve, kP256)   ? NID_X9_62_prime256v1
                        : der::is_oid(*curve, kP384) ? NID_secp384r1
                        : der::is_oid(*curve, kP521) ? NID_secp521r1
                                                     : NID_undef;
  auto point = der::bit_string_octets(*key_bits, what);
  if (curve_nid == NID_undef || !point) return std::nullopt;
  crypto::EvpPkeyPtr key = internal::legacy_ec_key(curve_nid, *point);
  if (!key) return std::nullopt;

  // Each part must be exactly one element of its type: d2i stops at the end of the first.
  auto decoded = [](auto* d2i, const der::Tlv& tlv) {
    const unsigned char* p = tlv.whole.data();
    auto* out = d2i(nullptr, &p, static_cast<long>(tlv.whole.size()));
    return std::pair(out, out && p == tlv.whole.data() + tlv.whole.size());
  };
  crypto::X509ReqPtr req(X509_REQ_new());
  auto [name_raw, name_whole] = decoded(d2i_X509_NAME, *subject);
  crypto::X509NamePtr name(name_raw);
  if (!req || !name_whole || !X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) ||
      !X509_REQ_set_subject_name(req.get(), name.get()) ||
      // A legacy key takes X509_PUBKEY_set's ameth->pub_encode path, and the request keeps a
      // reference to it: X509_REQ_get0_pubkey needs no decoding.
      !X509_REQ_set_pubkey(req.get(), key.get())) {
    return std::nullopt;
  }
  der::Reader each(attributes->content, what);
  while (!each.empty()) {
    auto attribute = each.next();
    if (!attribute) return std::nullopt;
    auto [attr_raw, attr_whole] = decoded(d2i_X509_ATTRIBUTE, *attribute);
    crypto::Handle<X509_ATTRIBUTE, X509_ATTRIBUTE_free> attr(attr_raw);
    if (!attr_whole || !X509_REQ_add1_attr(req.get(), attr.get())) return std::nullopt;
  }
  auto [alg_raw, alg_whole] = decoded(d2i_X509_ALGOR, *sig_alg);
  crypto::Handle<X509_ALGOR, X509_ALGOR_free> alg(alg_raw);
  auto [bits_raw, bits_whole] = decoded(d2i_ASN1_BIT_STRING, *signature);
  crypto::Handle<ASN1_BIT_STRING, ASN1_BIT_STRING_free> bits(bits_raw);
  if (!alg_whole || !bits_whole || !X509_REQ_set1_signature_algo(req.get(), alg.get())) {
    return std::nullopt;
  }
  X509_REQ_set0_signature(req.get(), bits.release());
  auto signature_octets = der::bit_string_octets(signature->content, what);
  if (!signature_octets) return std::nullopt;

  // The proof that this is the request received: the same bytes, element for element (a SET OF
  // attributes out of DER order, say, re-encodes differently and takes the other path).
  unsigned char* encoded = nullptr;
  const int len = i2d_X509_REQ(req.get(), &encoded);
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(encoded));
  if (len <= 0 || static_cast<std::size_t>(len) != der.size() ||
      std::memcmp(encoded, der.data(), der.size()) != 0) {
    return std::nullopt;
  }
  return Assembled{std::move(req), info->whole, sig_alg->whole, *signature_octets};
}

// The request as d2i_X509_REQ decodes it, for every request the fast path does not rebuild.
Result<crypto::X509ReqPtr> decode_request(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  crypto::X509ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!req || p != der.data() + der.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "not a DER PKCS#10 request, or trailing data");
  }
  return req;
}

Result<ParsedRequest> parse_request(std::span<const std::uint8_t> data, bool assemble) {
  if (data.empty()) return fail(ErrorCode::kMalformed, "empty certificate request");
  ParsedRequest state;
  CW_ASSIGN_OR_RETURN(state.der, csr_der(data));
  std::optional<bool> verified;  // by the fast path's own ECDSA check, when it made one
  if (assemble) {
    ERR_set_mark();
    if (auto assembled = assemble_named_curve_request(state.der)) {
      state.req = std::move(assembled->req);
      verified = internal::verify_ecdsa_legacy(X509_REQ_get0_pubkey(state.req.get()),
                                               assembled->signature_algorithm,
                                               assembled->signed_info, assembled->signature);
    }
    ERR_pop_to_mark();
  }
  if (!state.req) {
    CW_ASSIGN_OR_RETURN(state.req, decode_request(state.der));
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(state.req.get());
  if (!key) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "certificate request key is unreadable");
  }
  if (ec_point_at_infinity(X509_REQ_get_X509_PUBKEY(state.req.get()))) {
    return fail(ErrorCode::kMalformed, "certificate request key is the EC point at infinity");
  }
  // Proof of possession: anything but a clean success (including "cannot tell") is refused.
  if (!verified) verified = X509_REQ_verify(state.req.get(), key) > 0;
  if (!*verified) {
    ERR_clear_error();
    return fail(ErrorCode::kBadSignature, "certificate request signature does not verify");
  }
  CW_ASSIGN_OR_RETURN(state.info, describe(state.req.get(), key));
  ERR_clear_error();
  return state;
}

}  // namespace

X509_REQ* Csr::get() const { return state_->req.get(); }
EVP_PKEY* Csr::public_key() const { return X509_REQ_get0_pubkey(state_->req.get()); }
const CsrInfo& Csr::info() const { return state_->info; }
const Bytes& Csr::der() const { return state_->der; }

Result<Csr> parse_csr(std::span<const std::uint8_t> data) {
  CW_ASSIGN_OR_RETURN(auto state, parse_request(data, /*assemble=*/true));
  return Csr(std::make_shared<const Csr::State>(Csr::State{std::move(state)}));
}

namespace internal {
Result<Csr> parse_csr_with_openssl(std::span<const std::uint8_t> data) {
  CW_ASSIGN_OR_RETURN(auto state, parse_request(data, /*assemble=*/false));
  return Csr(std::make_shared<const Csr::State>(Csr::State{std::move(state)}));
}
}  // namespace internal

Result<Bytes> make_csr_der(const crypto::PrivateKey& key, std::string_view subject,
                           std::span<const SubjectAltName> sans) {
  CW_ASSIGN_OR_RETURN(auto name, parse_name(subject));
  crypto::X509ReqPtr req(X509_REQ_new());
  if (!req || !X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) ||
      !X509_REQ_set_subject_name(req.get(), name.get()) ||
      !X509_REQ_set_pubkey(req.get(), key.get())) {
    return fail(ErrorCode::kInternal, "CSR setup failed: " + crypto::openssl_error_string());
  }
  if (!sans.empty()) {
    crypto::GeneralNamesPtr gens(GENERAL_NAMES_new());
    for (const SubjectAltName& san : sans) {
      CW_ASSIGN_OR_RETURN(auto gen, internal::encode_general_name(san));
      if (!internal::stack_push(gens.get(), gen.get()))
        return fail(ErrorCode::kInternal, "out of memory");
      gen.release();
    }
    STACK_OF(X509_EXTENSION)* raw_exts = nullptr;
    const int added =
        X509V3_add1_i2d(&raw_exts, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_DEFAULT);
    crypto::ExtStackPtr exts(raw_exts);
    if (added != 1 || !X509_REQ_add_extensions(req.get(), exts.get())) {
      return fail(ErrorCode::kInternal, "CSR extensions failed: " + crypto::openssl_error_string());
    }
  }
  // SHA-256/384 by key size; Ed25519 signs the message itself (null digest).
  if (X509_REQ_sign(req.get(), key.get(), crypto::digest_for(key.get())) <= 0) {
    return fail(ErrorCode::kInternal, "CSR signing failed: " + crypto::openssl_error_string());
  }
  unsigned char* buf = nullptr;
  const int len = i2d_X509_REQ(req.get(), &buf);
  if (len <= 0) return fail(ErrorCode::kInternal, "CSR encoding failed");
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  return Bytes(buf, buf + len);
}

}  // namespace certward::x509
