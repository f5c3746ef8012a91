#include "x509/csr.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>

#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509 {

using crypto::Handle;

struct Csr::State {
  crypto::X509ReqPtr req;
  Bytes der;
  CsrInfo info;
};

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

}  // namespace

X509_REQ* Csr::get() const { return state_->req.get(); }
EVP_PKEY* Csr::public_key() const { return X509_REQ_get0_pubkey(state_->req.get()); }
const CsrInfo& Csr::info() const { return state_->info; }
const Bytes& Csr::der() const { return state_->der; }

Result<Csr> parse_csr(std::span<const std::uint8_t> data) {
  if (data.empty()) return fail(ErrorCode::kMalformed, "empty certificate request");
  auto state = std::make_shared<Csr::State>();
  CW_ASSIGN_OR_RETURN(state->der, csr_der(data));
  const unsigned char* p = state->der.data();
  state->req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(state->der.size())));
  if (!state->req || p != state->der.data() + state->der.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "not a DER PKCS#10 request, or trailing data");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(state->req.get());
  if (!key) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "certificate request key is unreadable");
  }
  // Proof of possession: anything but a clean success (including "cannot tell") is refused.
  if (X509_REQ_verify(state->req.get(), key) <= 0) {
    ERR_clear_error();
    return fail(ErrorCode::kBadSignature, "certificate request signature does not verify");
  }
  CW_ASSIGN_OR_RETURN(state->info, describe(state->req.get(), key));
  ERR_clear_error();
  return Csr(std::move(state));
}

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
