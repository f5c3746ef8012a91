#include "x509/certificate.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <ctime>
#include <limits>
#include <mutex>

#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509 {

using crypto::Handle;

struct Certificate::State {
  // A parsed certificate is described from an object that has no key (see decode); the full
  // object is made once, when something first asks for it.
  mutable std::once_flag full;
  mutable crypto::X509Ptr x509;
  Bytes der;
  CertificateInfo info;
};

namespace {

using internal::decode_ext;
using internal::stack_at;
using internal::stack_size;

// Where a lenient parse notes what it could not read; null in a strict parse, which fails.
using Oddities = std::vector<ParseOddity>*;

void note(Oddities odd, std::string code, std::string detail) {
  odd->push_back(ParseOddity{.code = std::move(code), .detail = std::move(detail)});
}

// decode_ext, except that a lenient parse goes on without an extension it cannot read (which
// note_extension_oddities has noted already).
template <typename T, auto FreeFn>
Result<Handle<T, FreeFn>> decode_or_note(const STACK_OF(X509_EXTENSION) * exts, int nid,
                                         Oddities odd, bool* critical = nullptr) {
  auto value = decode_ext<T, FreeFn>(exts, nid, critical);
  if (value || odd == nullptr) return value;
  return Handle<T, FreeFn>();
}

Result<SysTime> to_sys_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return fail(ErrorCode::kMalformed, "bad validity time");
  const std::chrono::year_month_day ymd{std::chrono::year(tm.tm_year + 1900),
                                        std::chrono::month(static_cast<unsigned>(tm.tm_mon + 1)),
                                        std::chrono::day(static_cast<unsigned>(tm.tm_mday))};
  if (!ymd.ok()) return fail(ErrorCode::kMalformed, "bad validity time");
  return SysTime(std::chrono::sys_days(ymd).time_since_epoch()) + std::chrono::hours(tm.tm_hour) +
         std::chrono::minutes(tm.tm_min) + std::chrono::seconds(tm.tm_sec);
}

std::string hex_of(const ASN1_STRING* s) {
  if (!s) return {};
  return to_hex(std::span<const std::uint8_t>(ASN1_STRING_get0_data(s),
                                              static_cast<std::size_t>(ASN1_STRING_length(s))));
}

void fill_serial(const X509* x, CertificateInfo& info) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x);
  info.serial_negative = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
  info.serial_hex = hex_of(serial);
  // Magnitude without leading zero octets; zero itself is "00".
  while (info.serial_hex.size() > 2 && info.serial_hex.starts_with("00")) {
    info.serial_hex.erase(0, 2);
  }
  if (info.serial_hex.empty()) info.serial_hex = "00";
}

std::string signature_algorithm_name(int nid, const X509_ALGOR* alg) {
  if (nid != NID_undef) return OBJ_nid2ln(nid);
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  return obj ? internal::oid_text(obj) : std::string("unknown");
}

std::vector<std::string> uris_of(const GENERAL_NAMES* names) {
  std::vector<std::string> out;
  for (const SubjectAltName& san : decode_general_names(names)) {
    if (san.type == SanType::kUri) out.push_back(san.value);
  }
  return out;
}

// Prefix length of a netmask, or -1 if the mask is not contiguous.
int prefix_length(std::span<const std::uint8_t> mask) {
  int bits = 0;
  bool ended = false;
  for (std::uint8_t b : mask) {
    const int ones = std::countl_one(b);
    if (ended && b != 0) return -1;
    if (ones < 8 && static_cast<std::uint8_t>(b << ones) != 0) return -1;
    bits += ones;
    ended = ones < 8;
  }
  return bits;
}

// One name-constraints subtree in OpenSSL's text style: "DNS:x", "IP:10.0.0.0/8", "DirName:..".
std::string subtree_text(const GENERAL_NAME* gen) {
  if (gen->type == GEN_IPADD) {
    const ASN1_OCTET_STRING* ip = gen->d.iPAddress;
    const std::span<const std::uint8_t> raw(ASN1_STRING_get0_data(ip),
                                            static_cast<std::size_t>(ASN1_STRING_length(ip)));
    const int family = raw.size() == 8 ? AF_INET : raw.size() == 32 ? AF_INET6 : 0;
    char text[INET6_ADDRSTRLEN];
    const int prefix = family ? prefix_length(raw.subspan(raw.size() / 2)) : -1;
    if (prefix < 0 || !inet_ntop(family, raw.data(), text, sizeof text)) return "IP:" + to_hex(raw);
    return "IP:" + std::string(text) + "/" + std::to_string(prefix);
  }
  // Every other type goes through the one GENERAL_NAME decoder.
  Handle<GENERAL_NAMES, GENERAL_NAMES_free> one(GENERAL_NAMES_new());
  Handle<GENERAL_NAME, GENERAL_NAME_free> copy(GENERAL_NAME_dup(gen));
  if (!one || !copy || !internal::stack_push(one.get(), copy.get())) return "unknown";
  copy.release();
  const SubjectAltName san = decode_general_names(one.get()).front();
  switch (san.type) {
    case SanType::kDns:
      return "DNS:" + san.value;
    case SanType::kEmail:
      return "email:" + san.value;
    case SanType::kUri:
      return "URI:" + san.value;
    case SanType::kIp:
    case SanType::kOther:
      break;
  }
  return san.value;
}

std::vector<std::string> subtrees_text(const STACK_OF(GENERAL_SUBTREE) * trees) {
  std::vector<std::string> out;
  for (int i = 0; i < stack_size(trees); ++i) {
    out.push_back(subtree_text(stack_at<GENERAL_SUBTREE>(trees, i)->base));
  }
  return out;
}

// What a lenient parse notes about the extension list as a whole: the same extension twice
// (RFC 5280 4.2 forbids it; OpenSSL then reads neither), one OpenSSL knows but cannot decode,
// and a critical one nobody here understands.
void note_extension_oddities(const STACK_OF(X509_EXTENSION) * exts, Oddities odd) {
  std::vector<std::string> seen;
  for (int i = 0; i < stack_size(exts); ++i) {
    X509_EXTENSION* ext = stack_at<X509_EXTENSION>(exts, i);
    const std::string oid = internal::oid_text(X509_EXTENSION_get_object(ext));
    if (std::ranges::find(seen, oid) != seen.end()) {
      note(odd, "duplicate_extension", oid);
      continue;
    }
    seen.push_back(oid);
    const X509V3_EXT_METHOD* method = X509V3_EXT_get(ext);
    if (!method) {
      if (X509_EXTENSION_get_critical(ext) == 1) note(odd, "unknown_critical_extension", oid);
      continue;
    }
    const crypto::ExtValuePtr decoded(X509V3_EXT_d2i(ext), crypto::ExtValueDeleter{method});
    if (!decoded) {
      ERR_clear_error();
      note(odd, "malformed_extension", "undecodable " + oid + " extension");
    }
  }
}

// The extensions whose contents CertificateInfo carries; every other one is only summarized.
Status fill_extensions(const X509* x, CertificateInfo& info, Oddities odd) {
  const STACK_OF(X509_EXTENSION)* exts = X509_get0_extensions(x);
  if (odd) {
    note_extension_oddities(exts, odd);
  } else {
    CW_RETURN_IF_ERROR(internal::check_extensions_decode(exts));
  }
  info.extensions = internal::summarize_extensions(exts);

  CW_ASSIGN_OR_RETURN(auto san, (decode_or_note<GENERAL_NAMES, GENERAL_NAMES_free>(
                                    exts, NID_subject_alt_name, odd)));
  info.sans = decode_general_names(san.get());
  if (odd) {
    for (const SubjectAltName& name : info.sans) {
      if (name.type == SanType::kOther) note(odd, "unusual_san", name.value);
    }
  }

  CW_ASSIGN_OR_RETURN(auto ku, (decode_or_note<ASN1_BIT_STRING, ASN1_BIT_STRING_free>(
                                   exts, NID_key_usage, odd, &info.key_usage_critical)));
  info.key_usage = internal::key_usage_names(ku.get());

  CW_ASSIGN_OR_RETURN(auto eku, (decode_or_note<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>(
                                    exts, NID_ext_key_usage, odd)));
  info.extended_key_usage = internal::eku_names(eku.get());

  bool bc_critical = false;
  CW_ASSIGN_OR_RETURN(auto bc, (decode_or_note<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>(
                                   exts, NID_basic_constraints, odd, &bc_critical)));
  if (bc) {
    BasicConstraints out{.ca = bc->ca != 0, .path_length = std::nullopt, .critical = bc_critical};
    if (bc->pathlen) {
      const long len = ASN1_INTEGER_get(bc->pathlen);
      if (len < 0 || len > std::numeric_limits<int>::max()) {
        if (!odd) return fail(ErrorCode::kMalformed, "bad basicConstraints path length");
        note(odd, "malformed_extension", "bad basicConstraints path length");
      } else {
        out.path_length = static_cast<int>(len);
      }
    }
    info.basic_constraints = out;
  }

  CW_ASSIGN_OR_RETURN(auto ski, (decode_or_note<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>(
                                    exts, NID_subject_key_identifier, odd)));
  info.subject_key_id = hex_of(ski.get());
  CW_ASSIGN_OR_RETURN(auto aki, (decode_or_note<AUTHORITY_KEYID, AUTHORITY_KEYID_free>(
                                    exts, NID_authority_key_identifier, odd)));
  if (aki) info.authority_key_id = hex_of(aki->keyid);

  CW_ASSIGN_OR_RETURN(auto cdp, (decode_or_note<CRL_DIST_POINTS, CRL_DIST_POINTS_free>(
                                    exts, NID_crl_distribution_points, odd)));
  for (int i = 0; i < stack_size(cdp.get()); ++i) {
    const DIST_POINT* dp = stack_at<DIST_POINT>(cdp.get(), i);
    if (dp->distpoint && dp->distpoint->type == 0) {
      for (auto& uri : uris_of(dp->distpoint->name.fullname)) {
        info.crl_distribution_points.push_back(std::move(uri));
      }
    }
  }

  CW_ASSIGN_OR_RETURN(auto aia, (decode_or_note<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>(
                                    exts, NID_info_access, odd)));
  for (int i = 0; i < stack_size(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = stack_at<ACCESS_DESCRIPTION>(aia.get(), i);
    if (ad->location->type != GEN_URI) continue;
    const std::string uri = internal::asn1_string_utf8(ad->location->d.uniformResourceIdentifier);
    const int method = OBJ_obj2nid(ad->method);
    if (method == NID_ad_OCSP) info.ocsp_urls.push_back(uri);
    if (method == NID_ad_ca_issuers) info.ca_issuers_urls.push_back(uri);
  }

  CW_ASSIGN_OR_RETURN(auto policies, (decode_or_note<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>(
                                         exts, NID_certificate_policies, odd)));
  for (int i = 0; i < stack_size(policies.get()); ++i) {
    info.policies.push_back(internal::oid_text(stack_at<POLICYINFO>(policies.get(), i)->policyid));
  }

  CW_ASSIGN_OR_RETURN(auto nc, (decode_or_note<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>(
                                   exts, NID_name_constraints, odd)));
  if (nc) {
    info.name_constraints = NameConstraints{.permitted = subtrees_text(nc->permittedSubtrees),
                                            .excluded = subtrees_text(nc->excludedSubtrees)};
  }
  return ok();
}

// d2i_X509 of exactly `der` in `libctx` (null: the default one); null when it is not one
// certificate and nothing else. Sets `trailing` when a certificate was followed by more bytes.
// What OpenSSL queued on the way is left for the caller to clear.
crypto::X509Ptr parse_x509(std::span<const std::uint8_t> der, OSSL_LIB_CTX* libctx,
                           bool* trailing = nullptr) {
  crypto::X509Ptr x(X509_new_ex(libctx, nullptr));
  if (!x) return nullptr;
  const unsigned char* p = der.data();
  X509* into = x.get();
  // Decoding into an object is the only way to give it the library context. A failed decode
  // frees that object and clears `into`; whatever the return value, `into` says which.
  (void)d2i_X509(&into, &p, static_cast<long>(der.size()));
  if (into == nullptr) {
    (void)x.release();
    return nullptr;
  }
  if (p != der.data() + der.size()) {
    if (trailing != nullptr) *trailing = true;
    return nullptr;
  }
  return x;
}

// `key` is the key's description when the caller has it already (describe_spki); otherwise it
// is read from the object's decoded key. `x` may come from the keyless context: it then has no
// key, and OpenSSL's SHA-1 fingerprint and self-signed flag are not set, so nothing here may
// use X509_get0_pubkey, X509_self_signed, EXFLAG_SS or X509_digest.
Result<CertificateInfo> describe(X509* x, const Bytes& der, bool lenient = false,
                                 const std::optional<crypto::KeyInfo>& key = std::nullopt) {
  CertificateInfo info;
  const Oddities odd = lenient ? &info.oddities : nullptr;
  // Strict parsing refuses what OpenSSL's extension cache marks EXFLAG_INVALID. Lenient
  // parsing (import, discovery) would accept it anyway and notes what is odd itself
  // (note_extension_oddities), so it does not fill that cache: in the keyless context the
  // cache's SHA-1 fetch fails and queues an error every time, a tenth of an import's parsing.
  if (!lenient) {
    X509_check_purpose(x, -1, 0);
    if (X509_get_extension_flags(x) & EXFLAG_INVALID) {
      ERR_clear_error();
      return fail(ErrorCode::kMalformed, "certificate has invalid or undecodable extensions");
    }
  }
  info.version = static_cast<int>(X509_get_version(x)) + 1;
  info.subject = format_name(X509_get_subject_name(x));
  info.issuer = format_name(X509_get_issuer_name(x));
  info.subject_cn = internal::first_cn(X509_get_subject_name(x));
  fill_serial(x, info);
  CW_ASSIGN_OR_RETURN(info.not_before, to_sys_time(X509_get0_notBefore(x)));
  CW_ASSIGN_OR_RETURN(info.not_after, to_sys_time(X509_get0_notAfter(x)));
  info.key = key ? *key : crypto::describe_key(X509_get0_pubkey(x));
  const X509_ALGOR* sig_alg = nullptr;
  X509_get0_signature(nullptr, &sig_alg, x);
  info.signature_algorithm = signature_algorithm_name(X509_get_signature_nid(x), sig_alg);
  CW_RETURN_IF_ERROR(fill_extensions(x, info, odd));
  info.sha256_hex = to_hex(crypto::sha256(der));
  info.sha1_hex = to_hex(crypto::sha1(der));
  if (const Bytes spki = internal::spki_der(X509_get_X509_PUBKEY(x)); !spki.empty())
    info.spki_sha256_hex = to_hex(crypto::sha256(spki));
  info.self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
  ERR_clear_error();
  return info;
}

}  // namespace

namespace internal {

// A library context with no algorithms (only the "null" provider, so that none is loaded
// by default). A certificate decoded in it keeps its SubjectPublicKeyInfo as bytes: on OpenSSL
// 3.0 decoding the key builds a decoder context over every provider algorithm, nine tenths of
// a d2i_X509, and describing a certificate needs only the key's algorithm and size. Made once
// and kept for the life of the process; decoding in it is thread-safe like any libctx.
OSSL_LIB_CTX* keyless_context() {
  static OSSL_LIB_CTX* const ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    // Without it the context would load the default provider at first use: slow, not wrong.
    if (c != nullptr && OSSL_PROVIDER_load(c, "null") == nullptr) ERR_clear_error();
    return c;
  }();
  return ctx;
}

Status check_extensions_decode(const STACK_OF(X509_EXTENSION) * exts) {
  for (int i = 0; i < stack_size(exts); ++i) {
    X509_EXTENSION* ext = stack_at<X509_EXTENSION>(exts, i);
    const X509V3_EXT_METHOD* method = X509V3_EXT_get(ext);
    if (!method) continue;  // unknown to OpenSSL: carried opaquely, nothing to decode
    const crypto::ExtValuePtr decoded(X509V3_EXT_d2i(ext), crypto::ExtValueDeleter{method});
    if (!decoded) {
      ERR_clear_error();
      return fail(ErrorCode::kMalformed,
                  "undecodable " + oid_text(X509_EXTENSION_get_object(ext)) + " extension");
    }
  }
  return ok();
}

std::vector<ExtensionSummary> summarize_extensions(const STACK_OF(X509_EXTENSION) * exts) {
  std::vector<ExtensionSummary> out;
  for (int i = 0; i < stack_size(exts); ++i) {
    X509_EXTENSION* ext = stack_at<X509_EXTENSION>(exts, i);
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    const int nid = OBJ_obj2nid(obj);
    ExtensionSummary summary{.oid = oid_text(obj), .name = {}, .critical = false};
    summary.name = nid != NID_undef ? OBJ_nid2sn(nid) : summary.oid;
    summary.critical = X509_EXTENSION_get_critical(ext) == 1;
    out.push_back(std::move(summary));
  }
  return out;
}

std::vector<std::string> key_usage_names(const ASN1_BIT_STRING* ku) {
  // RFC 5280 4.2.1.3 bit order; bit 1 is "contentCommitment" (formerly nonRepudiation).
  static constexpr std::string_view kNames[] = {
      "digitalSignature", "contentCommitment", "keyEncipherment",
      "dataEncipherment", "keyAgreement",      "keyCertSign",
      "cRLSign",          "encipherOnly",      "decipherOnly",
  };
  std::vector<std::string> out;
  if (!ku) return out;
  for (int bit = 0; bit < static_cast<int>(std::size(kNames)); ++bit) {
    if (ASN1_BIT_STRING_get_bit(ku, bit)) out.emplace_back(kNames[bit]);
  }
  return out;
}

std::vector<std::string> eku_names(const EXTENDED_KEY_USAGE* eku) {
  struct Known {
    int nid;
    std::string_view name;
  };
  static constexpr Known kKnown[] = {
      {NID_server_auth, "serverAuth"},
      {NID_client_auth, "clientAuth"},
      {NID_code_sign, "codeSigning"},
      {NID_email_protect, "emailProtection"},
      {NID_time_stamp, "timeStamping"},
      {NID_OCSP_sign, "OCSPSigning"},
      {NID_anyExtendedKeyUsage, "anyExtendedKeyUsage"},
  };
  std::vector<std::string> out;
  for (int i = 0; i < stack_size(eku); ++i) {
    const ASN1_OBJECT* obj = stack_at<ASN1_OBJECT>(eku, i);
    const int nid = OBJ_obj2nid(obj);
    std::string name = oid_text(obj);
    for (const Known& k : kKnown) {
      if (k.nid == nid) name = k.name;
    }
    out.push_back(std::move(name));
  }
  return out;
}

}  // namespace internal

std::string_view san_type_name(SanType t) {
  switch (t) {
    case SanType::kDns:
      return "dns";
    case SanType::kIp:
      return "ip";
    case SanType::kEmail:
      return "email";
    case SanType::kUri:
      return "uri";
    case SanType::kOther:
      return "other";
  }
  return "other";
}

Result<Certificate> Certificate::decode(std::span<const std::uint8_t> der, bool lenient) {
  if (der.empty()) return fail(ErrorCode::kMalformed, "empty certificate");
  bool trailing = false;
  crypto::X509Ptr x = parse_x509(der, internal::keyless_context(), &trailing);
  ERR_clear_error();
  // Even leniently: bytes after the certificate make the input something else than a
  // certificate, whose fingerprint no tool would agree with.
  if (trailing) return fail(ErrorCode::kMalformed, "trailing data after the certificate");
  if (!x) return fail(ErrorCode::kMalformed, "not a DER certificate");
  // A certificate found in the wild may be BER around its signed part (a long-form length, say),
  // which no signature covers. It is kept, and fingerprinted, as the DER every other tool
  // hashes (OpenSSL's own encoding keeps the signed part's bytes as they are), so that one
  // certificate has one fingerprint whatever its file or container. Equal lengths mean equal
  // bytes in all but contrived cases, and asking for the length costs no allocation.
  Bytes canonical;
  if (lenient) {
    const int length = i2d_X509(x.get(), nullptr);
    if (length > 0 && static_cast<std::size_t>(length) != der.size()) {
      canonical.resize(static_cast<std::size_t>(length));
      unsigned char* out = canonical.data();
      if (i2d_X509(x.get(), &out) != length) {
        ERR_clear_error();
        return fail(ErrorCode::kMalformed, "certificate cannot be encoded");
      }
      der = canonical;
    }
  }
  const std::optional<crypto::KeyInfo> key = internal::describe_spki(X509_get_X509_PUBKEY(x.get()));
  // A key describe_spki does not know (or would not decode) is described from the decoded key,
  // exactly as before; that object is then the one kept.
  if (!key) x = parse_x509(der, nullptr);
  ERR_clear_error();
  if (!x) return fail(ErrorCode::kMalformed, "not a DER certificate");
  auto state = std::make_shared<State>();
  state->der.assign(der.begin(), der.end());
  CW_ASSIGN_OR_RETURN(state->info, describe(x.get(), state->der, lenient, key));
  if (!key) state->x509 = std::move(x);
  return Certificate(std::move(state));
}

Result<Certificate> Certificate::from_der(std::span<const std::uint8_t> der) {
  return decode(der, /*lenient=*/false);
}

Result<Certificate> Certificate::from_der_lenient(std::span<const std::uint8_t> der) {
  return decode(der, /*lenient=*/true);
}

Result<Certificate> Certificate::from_x509(crypto::X509Ptr cert) {
  if (!cert) return fail(ErrorCode::kInvalidArgument, "null certificate");
  unsigned char* buf = nullptr;
  const int len = i2d_X509(cert.get(), &buf);
  if (len <= 0) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "certificate cannot be encoded");
  }
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  // Re-decoding makes the kept object exactly the DER we hand out: an object built in memory
  // may carry caches (extension flags, hashes) computed before its last change.
  return from_der(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(len)));
}

Result<Certificate> Certificate::from_signed(crypto::X509Ptr cert) {
  if (!cert) return fail(ErrorCode::kInvalidArgument, "null certificate");
  unsigned char* buf = nullptr;
  const int len = i2d_X509(cert.get(), &buf);
  if (len <= 0) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "certificate cannot be encoded");
  }
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(buf));
  // Unlike from_x509, the object is kept rather than re-decoded. That is sound only for what
  // x509::sign hands in: an X509 that build_tbs made field by field, whose public key object
  // is a public-only copy made for it, that nothing has asked for OpenSSL's extension cache
  // (X509_check_purpose and friends) before it was signed, and that is not changed after
  // this point. describe() fills that cache now, from the final, signed fields; i2d of the
  // same object is the DER kept here, and every field the DER holds is the one describe reads.
  auto state = std::make_shared<State>();
  state->der.assign(buf, buf + len);
  CW_ASSIGN_OR_RETURN(state->info, describe(cert.get(), state->der));
  state->x509 = std::move(cert);
  return Certificate(std::move(state));
}

X509* Certificate::get() const {
  std::call_once(state_->full, [&] {
    if (state_->x509) return;
    // The caller's error queue is its own: the decode's leftovers go, anything before stays.
    ERR_set_mark();
    state_->x509 = parse_x509(state_->der, nullptr);
    ERR_pop_to_mark();
    // These bytes decoded once already, in a context with fewer algorithms; only a failed
    // allocation can refuse them now, and callers rely on a certificate's object existing.
    CW_CHECK(state_->x509 != nullptr);
  });
  return state_->x509.get();
}
const Bytes& Certificate::der() const { return state_->der; }
const CertificateInfo& Certificate::info() const { return state_->info; }
EVP_PKEY* Certificate::public_key() const { return X509_get0_pubkey(get()); }

std::string Certificate::pem() const {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  // From the DER we hold (whose hash is the fingerprint), without decoding the key.
  PEM_write_bio(bio.get(), PEM_STRING_X509, "", state_->der.data(),
                static_cast<long>(state_->der.size()));
  return internal::bio_string(bio.get());
}

std::string to_pem(std::span<const Certificate> certs) {
  std::string out;
  for (const Certificate& c : certs) out += c.pem();
  return out;
}

}  // namespace certward::x509
