#include "x509/crl.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "x509/der_internal.h"
#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509 {
namespace {

using der::Extension;
using der::read_extension;
using der::Reader;
using der::Tlv;
using der::Writer;

constexpr std::size_t kMaxIntegerOctets = 20;  // serials and CRL numbers (RFC 5280 4.1.2.2, 5.2.3)

constexpr std::array<std::pair<CrlReason, std::string_view>, 10> kReasonNames = {{
    {CrlReason::kUnspecified, "unspecified"},
    {CrlReason::kKeyCompromise, "keyCompromise"},
    {CrlReason::kCaCompromise, "cACompromise"},
    {CrlReason::kAffiliationChanged, "affiliationChanged"},
    {CrlReason::kSuperseded, "superseded"},
    {CrlReason::kCessationOfOperation, "cessationOfOperation"},
    {CrlReason::kCertificateHold, "certificateHold"},
    {CrlReason::kRemoveFromCrl, "removeFromCRL"},
    {CrlReason::kPrivilegeWithdrawn, "privilegeWithdrawn"},
    {CrlReason::kAaCompromise, "aACompromise"},
}};

// ---- building -----------------------------------------------------------------------------

// Sizes of the entry extensions as written below.
constexpr std::size_t kReasonExtSize = 12;      // SEQ { OID, OCTET STRING { ENUMERATED } }
constexpr std::size_t kInvalidityExtSize = 26;  // SEQ { OID, OCTET STRING { GeneralizedTime } }

bool writes_reason(const CrlEntry& e) { return e.reason && *e.reason != CrlReason::kUnspecified; }

std::size_t entry_extensions_size(const CrlEntry& e) {
  return (writes_reason(e) ? kReasonExtSize : 0) + (e.invalidity_date ? kInvalidityExtSize : 0);
}

std::size_t entry_size(const CrlEntry& e) {
  const std::size_t exts = entry_extensions_size(e);
  return der::tlv_size(der::integer_size(e.serial) + der::time_size(e.revocation_time) +
                       (exts ? der::tlv_size(exts) : 0));
}

void write_entry(Writer& w, const CrlEntry& e) {
  const std::size_t mark = w.begin(der::kSequence);
  w.integer(e.serial);
  w.time(e.revocation_time);
  if (entry_extensions_size(e) != 0) {
    const std::size_t exts = w.begin(der::kSequence);
    if (writes_reason(e)) {
      const std::size_t ext = w.begin(der::kSequence);
      w.oid(der::oid::kReasonCode);
      w.header(der::kOctetString, 3);
      w.enumerated(static_cast<std::uint8_t>(*e.reason));
      w.end(ext);
    }
    if (e.invalidity_date) {
      const std::size_t ext = w.begin(der::kSequence);
      w.oid(der::oid::kInvalidityDate);
      w.header(der::kOctetString, der::kGeneralizedTimeSize);
      w.generalized_time(*e.invalidity_date);
      w.end(ext);
    }
    w.end(exts);
  }
  w.end(mark);
}

// Entries are listed by ascending serial number. Sorting a million entries by their serials
// directly would chase a heap pointer per comparison; this key holds the serial's length and
// first eight octets, which decide almost every comparison among random serials.
struct SortKey {
  std::uint64_t prefix;
  std::uint32_t index;
  std::uint8_t size;
};

SortKey sort_key(std::span<const std::uint8_t> serial, std::uint32_t index) {
  std::uint64_t prefix = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    prefix = (prefix << 8) | (i < serial.size() ? serial[i] : 0);
  }
  return {prefix, index, static_cast<std::uint8_t>(serial.size())};
}

// Numeric order of two stripped magnitudes.
std::strong_ordering compare_serials(std::span<const std::uint8_t> a,
                                     std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return a.size() <=> b.size();
  return std::lexicographical_compare_three_way(a.begin(), a.end(), b.begin(), b.end());
}

Result<std::vector<std::uint32_t>> sorted_order(const std::vector<CrlEntry>& entries) {
  std::vector<SortKey> keys;
  keys.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    keys.push_back(
        sort_key(der::strip_leading_zeros(entries[i].serial), static_cast<std::uint32_t>(i)));
  }
  const auto serial = [&entries](const SortKey& k) {
    return der::strip_leading_zeros(entries[k.index].serial);
  };
  const auto cmp = [&serial](const SortKey& a, const SortKey& b) {
    if (a.size != b.size) return a.size < b.size;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return compare_serials(serial(a), serial(b)) < 0;
  };
  std::sort(keys.begin(), keys.end(), cmp);
  std::vector<std::uint32_t> order;
  order.reserve(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0 && keys[i - 1].size == keys[i].size && keys[i - 1].prefix == keys[i].prefix &&
        compare_serials(serial(keys[i - 1]), serial(keys[i])) == 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "serial " + to_hex(serial(keys[i])) + " is listed twice");
    }
    order.push_back(keys[i].index);
  }
  return order;
}

Status check_url(const std::string& url) {
  const bool printable =
      !url.empty() && std::ranges::all_of(url, [](char c) { return c > 0x20 && c < 0x7f; });
  if (!printable) {
    return fail(ErrorCode::kInvalidArgument, "a distribution point URL must be printable ASCII: '" +
                                                 escape_name_text(url) + "'");
  }
  return ok();
}

Status check_time(SysTime t, const char* what) {
  if (!der::time_in_range(t)) {
    return fail(ErrorCode::kInvalidArgument, std::string(what) + " is outside 0000-9999");
  }
  return ok();
}

Status check_template(const CrlTemplate& t, const crypto::Signer& signer) {
  if (t.issuer.empty()) return fail(ErrorCode::kInvalidArgument, "the CRL has no issuer");
  if (!crypto::same_public_key(signer.public_key(), t.issuer.public_key())) {
    return fail(ErrorCode::kInvalidArgument, "the signer's key is not the issuer's");
  }
  X509* issuer = t.issuer.get();
  if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(issuer) & KU_CRL_SIGN)) {
    return fail(ErrorCode::kPolicyRejected, "the issuer's keyUsage does not include cRLSign");
  }
  const auto number = der::strip_leading_zeros(t.number);
  if (number.size() > kMaxIntegerOctets) {
    return fail(ErrorCode::kInvalidArgument, "the CRL number is longer than 20 octets");
  }
  if (t.delta_base) {
    const auto base = der::strip_leading_zeros(*t.delta_base);
    if (compare_serials(base, number) >= 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "a delta CRL's base number must be below its own number");
    }
    if (!t.freshest_crl_urls.empty()) {
      return fail(ErrorCode::kInvalidArgument, "freshestCRL belongs on a full CRL, not a delta");
    }
  }
  for (const auto& url : t.freshest_crl_urls) CW_RETURN_IF_ERROR(check_url(url));
  CW_RETURN_IF_ERROR(check_time(t.this_update, "thisUpdate"));
  CW_RETURN_IF_ERROR(check_time(t.next_update, "nextUpdate"));
  if (t.next_update <= t.this_update) {
    return fail(ErrorCode::kInvalidArgument, "nextUpdate must be after thisUpdate");
  }
  if (t.entries.size() > std::numeric_limits<std::uint32_t>::max()) {
    return fail(ErrorCode::kInvalidArgument, "too many entries");
  }
  for (const CrlEntry& e : t.entries) {
    const auto serial = der::strip_leading_zeros(e.serial);
    if (serial.empty() || serial.size() > kMaxIntegerOctets) {
      return fail(
          ErrorCode::kInvalidArgument,
          "a revoked serial must be positive and at most 20 octets: '" + to_hex(e.serial) + "'");
    }
    CW_RETURN_IF_ERROR(check_time(e.revocation_time, "a revocation time"));
    if (e.invalidity_date) CW_RETURN_IF_ERROR(check_time(*e.invalidity_date, "an invalidity date"));
    if (e.reason && !crl_reason_from_code(static_cast<int>(*e.reason))) {
      return fail(ErrorCode::kInvalidArgument, "unknown revocation reason");
    }
    if (e.reason == CrlReason::kRemoveFromCrl && !t.delta_base) {
      return fail(ErrorCode::kInvalidArgument, "removeFromCRL may only appear on a delta CRL");
    }
  }
  return ok();
}

Bytes name_der(const X509_NAME* name) {
  const int n = i2d_X509_NAME(name, nullptr);
  if (n <= 0) return {};
  Bytes out(static_cast<std::size_t>(n));
  unsigned char* p = out.data();
  i2d_X509_NAME(name, &p);
  return out;
}

// SEQUENCE OF DistributionPoint, each { distributionPoint [0] { fullName [0] { URI } } }.
void write_distribution_points(Writer& w, const std::vector<std::string>& urls) {
  const std::size_t points = w.begin(der::kSequence);
  for (const auto& url : urls) {
    const std::size_t point = w.begin(der::kSequence);
    const std::size_t name = w.begin(der::context(0));
    const std::size_t full = w.begin(der::context(0));
    w.tlv(der::context_primitive(6), as_bytes(url));
    w.end(full);
    w.end(name);
    w.end(point);
  }
  w.end(points);
}

void write_crl_extensions(Writer& w, const CrlTemplate& t, std::span<const std::uint8_t> key_id) {
  const std::size_t explicit0 = w.begin(der::context(0));
  const std::size_t exts = w.begin(der::kSequence);

  std::size_t ext = w.begin(der::kSequence);
  w.oid(der::oid::kAuthorityKeyId);
  std::size_t value = w.begin(der::kOctetString);
  const std::size_t aki = w.begin(der::kSequence);
  w.tlv(der::context_primitive(0), key_id);
  w.end(aki);
  w.end(value);
  w.end(ext);

  ext = w.begin(der::kSequence);
  w.oid(der::oid::kCrlNumber);
  value = w.begin(der::kOctetString);
  w.integer(t.number);
  w.end(value);
  w.end(ext);

  if (t.delta_base) {
    ext = w.begin(der::kSequence);
    w.oid(der::oid::kDeltaCrlIndicator);
    w.boolean_true();  // critical (RFC 5280 5.2.4)
    value = w.begin(der::kOctetString);
    w.integer(*t.delta_base);
    w.end(value);
    w.end(ext);
  }

  if (!t.freshest_crl_urls.empty()) {
    ext = w.begin(der::kSequence);
    w.oid(der::oid::kFreshestCrl);
    value = w.begin(der::kOctetString);
    write_distribution_points(w, t.freshest_crl_urls);
    w.end(value);
    w.end(ext);
  }

  w.end(exts);
  w.end(explicit0);
}

// ---- parsing ------------------------------------------------------------------------------

std::string serial_hex(std::span<const std::uint8_t> magnitude) {
  return magnitude.empty() ? std::string("00") : to_hex(magnitude);
}

// The one element an extension's value holds.
Result<Tlv> single_value(std::span<const std::uint8_t> value, const char* what) {
  Reader r(value, what);
  CW_ASSIGN_OR_RETURN(const Tlv tlv, r.next());
  CW_RETURN_IF_ERROR(r.finish());
  return tlv;
}

Result<Bytes> integer_value(std::span<const std::uint8_t> value, const char* what) {
  CW_ASSIGN_OR_RETURN(const Tlv tlv, single_value(value, what));
  if (tlv.tag != der::kInteger)
    return fail(ErrorCode::kMalformed, std::string(what) + ": not an INTEGER");
  CW_ASSIGN_OR_RETURN(const auto magnitude, der::nonnegative_integer(tlv.content, what));
  return Bytes(magnitude.begin(), magnitude.end());
}

Status parse_entry_extensions(std::span<const std::uint8_t> content, CrlEntryInfo& entry) {
  constexpr const char* kWhat = "CRL entry extension";
  Reader exts(content, kWhat);
  if (exts.empty()) return exts.error("empty extension list");
  bool seen_reason = false;
  bool seen_invalidity = false;
  while (!exts.empty()) {
    CW_ASSIGN_OR_RETURN(const Extension e, read_extension(exts, kWhat));
    if (der::is_oid(e.oid, der::oid::kReasonCode)) {
      if (std::exchange(seen_reason, true)) return exts.error("duplicate reasonCode");
      CW_ASSIGN_OR_RETURN(const Tlv v, single_value(e.value, "reasonCode"));
      if (v.tag != der::kEnumerated || v.content.size() != 1) return exts.error("bad reasonCode");
      const auto reason = crl_reason_from_code(v.content[0]);
      if (!reason) return exts.error("unknown reasonCode " + std::to_string(v.content[0]));
      // An explicit "unspecified" reads like no reason at all, as it is written (RFC 5280 5.3.1).
      if (*reason != CrlReason::kUnspecified) entry.reason = reason;
    } else if (der::is_oid(e.oid, der::oid::kInvalidityDate)) {
      if (std::exchange(seen_invalidity, true)) return exts.error("duplicate invalidityDate");
      CW_ASSIGN_OR_RETURN(const Tlv v, single_value(e.value, "invalidityDate"));
      if (v.tag != der::kGeneralizedTime)
        return exts.error("invalidityDate is not GeneralizedTime");
      CW_ASSIGN_OR_RETURN(entry.invalidity_date, der::time(v, "invalidityDate"));
    } else if (der::is_oid(e.oid, der::oid::kCertificateIssuer)) {
      return fail(ErrorCode::kPolicyRejected,
                  "indirect CRLs (certificateIssuer entry extension) are not supported");
    } else if (e.critical) {
      return fail(ErrorCode::kPolicyRejected, "unrecognised critical CRL entry extension");
    }
  }
  return ok();
}

Status parse_entries(std::span<const std::uint8_t> content, int version, CrlInfo& info) {
  constexpr const char* kWhat = "CRL entry";
  // Counted first (one cheap pass over the entries' headers), so that a million entries are
  // stored without the vector's doubling holding two copies at once.
  std::size_t count = 0;
  for (Reader skim(content, kWhat); !skim.empty(); ++count) CW_RETURN_IF_ERROR(skim.next());
  info.entries.reserve(count);
  Reader list(content, kWhat);
  while (!list.empty()) {
    CW_ASSIGN_OR_RETURN(const auto seq, list.read(der::kSequence));
    Reader r(seq, kWhat);
    CrlEntryInfo entry;
    CW_ASSIGN_OR_RETURN(const auto serial, r.read(der::kInteger));
    CW_ASSIGN_OR_RETURN(const auto magnitude, der::nonnegative_integer(serial, "CRL entry serial"));
    entry.serial_hex = serial_hex(magnitude);
    CW_ASSIGN_OR_RETURN(const Tlv when, r.next());
    CW_ASSIGN_OR_RETURN(entry.revocation_time, der::time(when, "revocationDate"));
    if (!r.empty()) {
      if (version < 2) return r.error("entry extensions in a v1 CRL");
      CW_ASSIGN_OR_RETURN(const auto exts, r.read(der::kSequence));
      CW_RETURN_IF_ERROR(parse_entry_extensions(exts, entry));
    }
    CW_RETURN_IF_ERROR(r.finish());
    info.entries.push_back(std::move(entry));
  }
  return ok();
}

template <typename T, auto FreeFn, auto D2i>
Result<crypto::Handle<T, FreeFn>> d2i_value(std::span<const std::uint8_t> value, const char* what) {
  const unsigned char* p = value.data();
  crypto::Handle<T, FreeFn> out(D2i(nullptr, &p, static_cast<long>(value.size())));
  if (!out || p != value.data() + value.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, std::string("undecodable ") + what);
  }
  return out;
}

std::vector<std::string> full_name_uris(const DIST_POINT_NAME* name) {
  std::vector<std::string> out;
  if (!name || name->type != 0) return out;
  for (const SubjectAltName& san : decode_general_names(name->name.fullname)) {
    if (san.type == SanType::kUri) out.push_back(san.value);
  }
  return out;
}

Status parse_freshest(std::span<const std::uint8_t> value, CrlInfo& info) {
  CW_ASSIGN_OR_RETURN(auto points,
                      (d2i_value<CRL_DIST_POINTS, CRL_DIST_POINTS_free, d2i_CRL_DIST_POINTS>(
                          value, "freshestCRL")));
  for (int i = 0; i < internal::stack_size(points.get()); ++i) {
    const auto* point = internal::stack_at<DIST_POINT>(points.get(), i);
    for (auto& url : full_name_uris(point->distpoint)) info.freshest_crl_urls.push_back(url);
  }
  return ok();
}

Status parse_idp(std::span<const std::uint8_t> value, CrlInfo& info) {
  CW_ASSIGN_OR_RETURN(
      auto idp, (d2i_value<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free, d2i_ISSUING_DIST_POINT>(
                    value, "issuingDistributionPoint")));
  IssuingDistributionPoint out;
  out.urls = full_name_uris(idp->distpoint);
  out.only_user_certs = idp->onlyuser > 0;
  out.only_ca_certs = idp->onlyCA > 0;
  out.only_some_reasons = idp->onlysomereasons != nullptr;
  out.indirect_crl = idp->indirectCRL > 0;
  out.only_attribute_certs = idp->onlyattr > 0;
  info.issuing_distribution_point = std::move(out);
  return ok();
}

Result<std::string> key_identifier_hex(std::span<const std::uint8_t> value) {
  CW_ASSIGN_OR_RETURN(const Tlv seq, single_value(value, "authorityKeyIdentifier"));
  if (seq.tag != der::kSequence) return fail(ErrorCode::kMalformed, "bad authorityKeyIdentifier");
  Reader r(seq.content, "authorityKeyIdentifier");
  std::string out;
  while (!r.empty()) {  // keyIdentifier [0], authorityCertIssuer [1], authorityCertSerialNumber [2]
    CW_ASSIGN_OR_RETURN(const Tlv field, r.next());
    if (field.tag == der::context_primitive(0)) out = to_hex(field.content);
  }
  return out;
}

ExtensionSummary summarize(const Extension& e) {
  ExtensionSummary s;
  const unsigned char* p = e.oid_whole.data();
  crypto::Asn1ObjectPtr obj(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(e.oid_whole.size())));
  if (obj) {
    s.oid = internal::oid_text(obj.get());
    const int nid = OBJ_obj2nid(obj.get());
    s.name = nid != NID_undef ? OBJ_nid2sn(nid) : s.oid;
  } else {
    ERR_clear_error();
    s.oid = s.name = "?";
  }
  s.critical = e.critical;
  return s;
}

Status parse_crl_extensions(std::span<const std::uint8_t> content, CrlInfo& info) {
  constexpr const char* kWhat = "CRL extension";
  Reader outer(content, kWhat);
  CW_ASSIGN_OR_RETURN(const auto list, outer.read(der::kSequence));
  CW_RETURN_IF_ERROR(outer.finish());
  Reader exts(list, kWhat);
  if (exts.empty()) return exts.error("empty extension list");
  std::vector<std::span<const std::uint8_t>> seen;
  while (!exts.empty()) {
    CW_ASSIGN_OR_RETURN(const Extension e, read_extension(exts, kWhat));
    seen.push_back(e.oid);
    info.extensions.push_back(summarize(e));
    if (der::is_oid(e.oid, der::oid::kAuthorityKeyId)) {
      CW_ASSIGN_OR_RETURN(info.authority_key_id, key_identifier_hex(e.value));
    } else if (der::is_oid(e.oid, der::oid::kCrlNumber)) {
      CW_ASSIGN_OR_RETURN(info.number, integer_value(e.value, "cRLNumber"));
    } else if (der::is_oid(e.oid, der::oid::kDeltaCrlIndicator)) {
      CW_ASSIGN_OR_RETURN(info.delta_base, integer_value(e.value, "deltaCRLIndicator"));
    } else if (der::is_oid(e.oid, der::oid::kFreshestCrl)) {
      CW_RETURN_IF_ERROR(parse_freshest(e.value, info));
    } else if (der::is_oid(e.oid, der::oid::kIssuingDistributionPoint)) {
      CW_RETURN_IF_ERROR(parse_idp(e.value, info));
    } else if (e.critical) {
      return fail(ErrorCode::kPolicyRejected,
                  "unrecognised critical CRL extension " + info.extensions.back().oid);
    }
  }
  // RFC 5280 4.2/5.2: at most one instance of an extension. Sorted, so a CRL with many
  // extensions costs n log n, not n².
  std::ranges::sort(seen,
                    [](auto a, auto b) { return std::ranges::lexicographical_compare(a, b); });
  if (std::ranges::adjacent_find(seen, [](auto a, auto b) { return std::ranges::equal(a, b); }) !=
      seen.end()) {
    return fail(ErrorCode::kMalformed, "a CRL extension appears twice");
  }
  return ok();
}

Result<crypto::X509NamePtr> decode_name(const Tlv& name) {
  const unsigned char* p = name.whole.data();
  crypto::X509NamePtr out(d2i_X509_NAME(nullptr, &p, static_cast<long>(name.whole.size())));
  if (!out || p != name.whole.data() + name.whole.size()) {
    ERR_clear_error();
    return fail(ErrorCode::kMalformed, "CRL: undecodable issuer name");
  }
  return out;
}

// The TBSCertList's fields up to the issuer name, which both parse_crl and
// verify_crl_signature need.
struct TbsHead {
  int version = 1;
  Tlv signature;
  Tlv issuer;
};

Result<TbsHead> read_tbs_head(Reader& r) {
  TbsHead head;
  if (r.next_is(der::kInteger)) {
    CW_ASSIGN_OR_RETURN(const auto v, r.read(der::kInteger));
    // v2 is 1. OpenSSL writes v1's 0 rather than leaving the field out; accept both.
    if (v.size() != 1 || v[0] > 1) return r.error("unsupported version");
    head.version = v[0] + 1;
  }
  CW_ASSIGN_OR_RETURN(head.signature, r.next());
  CW_ASSIGN_OR_RETURN(head.issuer, r.next());
  if (head.signature.tag != der::kSequence || head.issuer.tag != der::kSequence) {
    return r.error("bad signature algorithm or issuer");
  }
  return head;
}

}  // namespace

std::string_view crl_reason_name(CrlReason reason) {
  for (const auto& [r, name] : kReasonNames) {
    if (r == reason) return name;
  }
  return "unknown";
}

Result<CrlReason> parse_crl_reason(std::string_view name) {
  const auto iequal = [](std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  for (const auto& [r, n] : kReasonNames) {
    if (iequal(n, name)) return r;
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown revocation reason '" + escape_name_text(name) +
                  "' (RFC 5280: unspecified, keyCompromise, cACompromise, affiliationChanged, "
                  "superseded, cessationOfOperation, certificateHold, removeFromCRL, "
                  "privilegeWithdrawn, aACompromise)");
}

std::optional<CrlReason> crl_reason_from_code(int code) {
  if (code < 0 || code > 10 || code == 7) return std::nullopt;
  return static_cast<CrlReason>(code);
}

Bytes crl_number_bytes(std::uint64_t n) {
  Bytes out;
  for (int shift = 56; shift >= 0; shift -= 8) {
    const auto octet = static_cast<std::uint8_t>(n >> shift);
    if (octet != 0 || !out.empty()) out.push_back(octet);
  }
  return out;
}

Result<Bytes> build_crl(const CrlTemplate& t, const crypto::Signer& signer) {
  CW_RETURN_IF_ERROR(check_template(t, signer));
  CW_ASSIGN_OR_RETURN(const Bytes algorithm, der::signature_algorithm(signer));
  const Bytes issuer = name_der(X509_get_subject_name(t.issuer.get()));
  const Bytes key_id = internal::issuer_key_id(t.issuer.get());
  if (issuer.empty() || key_id.empty()) {
    return fail(ErrorCode::kInvalidArgument, "cannot encode the issuer's name or key identifier");
  }
  CW_ASSIGN_OR_RETURN(const std::vector<std::uint32_t> order, sorted_order(t.entries));

  // One allocation for the whole CRL: the entries' exact size plus a generous bound for the
  // rest (names, extensions, URLs, an RSA-4096 signature).
  std::size_t entries_size = 0;
  for (const CrlEntry& e : t.entries) entries_size += entry_size(e);
  std::size_t urls_size = 0;
  for (const auto& url : t.freshest_crl_urls) urls_size += url.size() + 16;
  Bytes out;
  out.reserve(entries_size + issuer.size() + algorithm.size() + urls_size + 1024);

  Writer w(out);
  const std::size_t outer = w.begin(der::kSequence);
  const std::size_t tbs = w.begin(der::kSequence);
  w.small_integer(1);  // v2
  w.raw(algorithm);
  w.raw(issuer);
  w.time(t.this_update);
  w.time(t.next_update);
  if (!order.empty()) {
    const std::size_t list = w.begin(der::kSequence);
    for (const std::uint32_t i : order) write_entry(w, t.entries[i]);
    w.end(list);
  }
  write_crl_extensions(w, t, key_id);
  w.end(tbs);
  CW_RETURN_IF_ERROR(der::sign_into(w, out, tbs, algorithm, signer));
  w.end(outer);
  return out;
}

Result<CrlInfo> parse_crl(std::span<const std::uint8_t> der) {
  CW_ASSIGN_OR_RETURN(der::SignedParts parts, der::split_signed(der, "CRL"));
  CW_RETURN_IF_ERROR(parts.rest.finish());
  CrlInfo info;
  Reader r(parts.tbs.content, "CRL TBSCertList");
  CW_ASSIGN_OR_RETURN(const TbsHead head, read_tbs_head(r));
  info.version = head.version;
  if (!std::ranges::equal(head.signature.whole, parts.algorithm.whole)) {
    return r.error("signature algorithms of the TBSCertList and the CRL differ");
  }
  info.signature_algorithm = der::algorithm_name(parts.algorithm.whole);
  CW_ASSIGN_OR_RETURN(const auto issuer, decode_name(head.issuer));
  info.issuer = format_name(issuer.get());
  CW_ASSIGN_OR_RETURN(const Tlv this_update, r.next());
  CW_ASSIGN_OR_RETURN(info.this_update, der::time(this_update, "thisUpdate"));
  if (r.next_is(der::kUtcTime) || r.next_is(der::kGeneralizedTime)) {
    CW_ASSIGN_OR_RETURN(const Tlv next_update, r.next());
    CW_ASSIGN_OR_RETURN(info.next_update, der::time(next_update, "nextUpdate"));
  }
  CW_ASSIGN_OR_RETURN(const auto entries, r.optional(der::kSequence));
  // RFC 5280 5.1.2.6 wants an empty list absent; one present and empty says the same thing,
  // so it is read as no entries rather than refused.
  if (entries) CW_RETURN_IF_ERROR(parse_entries(*entries, info.version, info));
  CW_ASSIGN_OR_RETURN(const auto extensions, r.optional(der::context(0)));
  if (extensions) {
    if (info.version < 2) return r.error("extensions in a v1 CRL");
    CW_RETURN_IF_ERROR(parse_crl_extensions(*extensions, info));
  }
  CW_RETURN_IF_ERROR(r.finish());
  return info;
}

Status verify_crl_signature(std::span<const std::uint8_t> der, const Certificate& issuer) {
  CW_ASSIGN_OR_RETURN(der::SignedParts parts, der::split_signed(der, "CRL"));
  CW_RETURN_IF_ERROR(parts.rest.finish());
  Reader r(parts.tbs.content, "CRL TBSCertList");
  CW_ASSIGN_OR_RETURN(const TbsHead head, read_tbs_head(r));
  CW_ASSIGN_OR_RETURN(const auto name, decode_name(head.issuer));
  if (X509_NAME_cmp(name.get(), X509_get_subject_name(issuer.get())) != 0) {
    return fail(ErrorCode::kBadSignature, "the CRL's issuer is not " + issuer.info().subject);
  }
  return der::verify(parts.tbs.whole, parts.algorithm.whole, parts.signature, issuer.public_key());
}

}  // namespace certward::x509
