#include "x509/names.h"

#include <arpa/inet.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "x509/internal.h"
#include "x509/name_syntax.h"

namespace certward::x509 {

using crypto::Handle;
using crypto::X509NamePtr;

namespace {

// One attribute of a relative distinguished name, before it is added to a name.
struct Ava {
  std::string type;
  std::string value;
};
using Rdn = std::vector<Ava>;

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits RFC 4514 text into RDNs of AVAs, resolving escapes ("\," "\2C"). `rdn_sep` is ','
// for RFC 4514 and '/' for OpenSSL's form; '+' joins AVAs into one RDN only in RFC 4514.
Result<std::vector<Rdn>> split_name(std::string_view text, char rdn_sep, bool multi_valued) {
  std::vector<Rdn> rdns(1);
  Ava ava;
  bool in_value = false;
  std::vector<bool> escaped;  // per value char: escaped chars are never trimmed
  auto finish_ava = [&]() -> Status {
    const std::string_view type = trim(ava.type);
    if (!in_value || type.empty()) return fail(ErrorCode::kMalformed, "attribute without '='");
    std::size_t begin = 0;
    std::size_t end = ava.value.size();
    while (begin < end && is_space(ava.value[begin]) && !escaped[begin]) ++begin;
    while (end > begin && is_space(ava.value[end - 1]) && !escaped[end - 1]) --end;
    if (begin == end) return fail(ErrorCode::kMalformed, "empty value for " + std::string(type));
    rdns.back().push_back({std::string(type), ava.value.substr(begin, end - begin)});
    ava = {};
    escaped.clear();
    in_value = false;
    return ok();
  };
  auto append = [&](char c, bool was_escaped) {
    if (!in_value) {
      ava.type += c;
      return;
    }
    ava.value += c;
    escaped.push_back(was_escaped);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 >= text.size()) return fail(ErrorCode::kMalformed, "dangling '\\' in name");
      const int hi = hex_value(text[i + 1]);
      const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
      char out;
      if (hi >= 0 && lo >= 0) {
        out = static_cast<char>(hi * 16 + lo);
        i += 2;
      } else if (std::string_view(",+\"\\<>;=/# ").find(text[i + 1]) != std::string_view::npos) {
        out = text[++i];
      } else {
        return fail(ErrorCode::kMalformed, "bad escape in name");
      }
      append(out, true);
    } else if (c == '=' && !in_value) {
      in_value = true;
    } else if (c == rdn_sep) {
      CW_RETURN_IF_ERROR(finish_ava());
      rdns.emplace_back();
    } else if (c == '+' && multi_valued) {
      CW_RETURN_IF_ERROR(finish_ava());
    } else {
      append(c, false);
    }
  }
  CW_RETURN_IF_ERROR(finish_ava());
  return rdns;
}

bool is_dotted_oid(std::string_view s) {
  return !s.empty() && std::isdigit(static_cast<unsigned char>(s.front())) &&
         s.find_first_not_of("0123456789.") == std::string_view::npos;
}

// Resolves an attribute type: X.520 attributes (2.5.4.*) by short or long name, the few
// non-X.520 ones used in DNs, or any dotted OID. Anything else is a typo, not an attribute.
Result<Handle<ASN1_OBJECT, ASN1_OBJECT_free>> attribute_object(const std::string& type) {
  if (is_dotted_oid(type)) {
    Handle<ASN1_OBJECT, ASN1_OBJECT_free> obj(OBJ_txt2obj(type.c_str(), 1));
    if (!obj) return fail(ErrorCode::kMalformed, "bad attribute OID '" + type + "'");
    return obj;
  }
  const int nid = type == "E" ? NID_pkcs9_emailAddress : OBJ_txt2nid(type.c_str());
  if (nid == NID_undef) return fail(ErrorCode::kMalformed, "unknown attribute '" + type + "'");
  static constexpr int kNonX520[] = {NID_pkcs9_emailAddress, NID_domainComponent, NID_userId,
                                     NID_pkcs9_unstructuredName};
  Handle<ASN1_OBJECT, ASN1_OBJECT_free> obj(OBJ_dup(OBJ_nid2obj(nid)));
  const bool x520 = internal::oid_text(obj.get()).starts_with("2.5.4.");
  if (!x520 && std::find(std::begin(kNonX520), std::end(kNonX520), nid) == std::end(kNonX520)) {
    return fail(ErrorCode::kMalformed, "'" + type + "' is not a name attribute");
  }
  return obj;
}

Status add_rdn(X509_NAME* name, const Rdn& rdn) {
  for (std::size_t i = 0; i < rdn.size(); ++i) {
    CW_ASSIGN_OR_RETURN(auto obj, attribute_object(rdn[i].type));
    const auto& v = rdn[i].value;
    if (!X509_NAME_add_entry_by_OBJ(name, obj.get(), MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(v.data()),
                                    static_cast<int>(v.size()), -1, i == 0 ? 0 : -1)) {
      ERR_clear_error();
      return fail(ErrorCode::kMalformed, "bad value for " + rdn[i].type);
    }
  }
  return ok();
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const unsigned char* p = ASN1_STRING_get0_data(ip);
  const int len = ASN1_STRING_length(ip);
  char out[INET6_ADDRSTRLEN];
  if (len == 4 && inet_ntop(AF_INET, p, out, sizeof out)) return out;
  if (len == 16 && inet_ntop(AF_INET6, p, out, sizeof out)) return out;
  return to_hex(std::span<const std::uint8_t>(p, static_cast<std::size_t>(len)));
}

SubjectAltName decode_other_name(const OTHERNAME* other) {
  std::string text = "othername:" + internal::oid_text(other->type_id);
  const ASN1_TYPE* v = other->value;
  if (v && (v->type == V_ASN1_UTF8STRING || v->type == V_ASN1_IA5STRING ||
            v->type == V_ASN1_PRINTABLESTRING)) {
    text += ":" + internal::asn1_string_utf8(v->value.asn1_string);
  }
  return {SanType::kOther, text};
}

}  // namespace

namespace internal {

std::string oid_text(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buf)
    return std::string(buf, static_cast<std::size_t>(n));
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, obj, 1);
  big.resize(static_cast<std::size_t>(n));
  return big;
}

std::string asn1_string_utf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  crypto::OpensslStringPtr owned(reinterpret_cast<char*>(out));
  return std::string(owned.get(), static_cast<std::size_t>(n));
}

std::string first_cn(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  return asn1_string_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
}

Result<crypto::Handle<GENERAL_NAME, GENERAL_NAME_free>> encode_general_name(
    const SubjectAltName& san) {
  crypto::Handle<GENERAL_NAME, GENERAL_NAME_free> gen(GENERAL_NAME_new());
  if (san.type == SanType::kIp) {
    Handle<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> ip(a2i_IPADDRESS(san.value.c_str()));
    if (!ip) {
      ERR_clear_error();
      return fail(ErrorCode::kInvalidArgument, "bad IP address '" + san.value + "'");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, ip.release());
    return gen;
  }
  int type = 0;
  switch (san.type) {
    case SanType::kDns:
      type = GEN_DNS;
      break;
    case SanType::kEmail:
      type = GEN_EMAIL;
      break;
    case SanType::kUri:
      type = GEN_URI;
      break;
    default:
      return fail(ErrorCode::kInvalidArgument, "cannot encode SAN '" + san.value + "'");
  }
  Handle<ASN1_IA5STRING, ASN1_IA5STRING_free> ia5(ASN1_IA5STRING_new());
  if (!ia5 || !ASN1_STRING_set(ia5.get(), san.value.data(), static_cast<int>(san.value.size()))) {
    return fail(ErrorCode::kInternal, "out of memory");
  }
  GENERAL_NAME_set0_value(gen.get(), type, ia5.release());
  return gen;
}

}  // namespace internal

Result<X509NamePtr> parse_name(std::string_view text) {
  text = trim(text);
  X509NamePtr name(X509_NAME_new());
  if (!name) return fail(ErrorCode::kInternal, "out of memory");
  if (text.empty() || text == "/") return name;
  // OpenSSL's "/C=US/O=x/CN=y" lists RDNs in DER order; RFC 4514 text lists them reversed.
  const bool slash_form = text.front() == '/';
  if (slash_form) text.remove_prefix(1);
  CW_ASSIGN_OR_RETURN(auto rdns, split_name(text, slash_form ? '/' : ',', !slash_form));
  if (!slash_form) std::reverse(rdns.begin(), rdns.end());
  for (const Rdn& rdn : rdns) CW_RETURN_IF_ERROR(add_rdn(name.get(), rdn));
  return name;
}

std::string format_name(const X509_NAME* name) {
  if (!name) return {};
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  // RFC 2253 but with UTF-8 kept as UTF-8 (RFC 4514 allows it) rather than "\C3\A9" escapes,
  // so names read naturally and parse_name() takes them back unchanged.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return internal::bio_string(bio.get());
}

Result<SubjectAltName> check_san(const SubjectAltName& san) {
  switch (san.type) {
    case SanType::kDns: {
      CW_ASSIGN_OR_RETURN(auto dns, internal::normalize_dns_name(
                                        san.value, internal::Wildcard::kAllowLeftmostLabel));
      return SubjectAltName{SanType::kDns, std::move(dns)};
    }
    case SanType::kIp: {
      // A CSR's address of the wrong length decodes to hex, which is no address at all.
      const auto ip = internal::canonical_ip(san.value);
      if (!ip || *ip != san.value) {
        return fail(ErrorCode::kMalformed, "bad IP address '" + escape_name_text(san.value) + "'");
      }
      return san;
    }
    case SanType::kEmail: {
      CW_ASSIGN_OR_RETURN(auto email, internal::normalize_mailbox(san.value));
      return SubjectAltName{SanType::kEmail, std::move(email)};
    }
    case SanType::kUri: {
      CW_ASSIGN_OR_RETURN(auto uri, internal::normalize_uri(san.value));
      return SubjectAltName{SanType::kUri, std::move(uri)};
    }
    case SanType::kOther:
      break;
  }
  return fail(ErrorCode::kMalformed, "unsupported name '" + escape_name_text(san.value) +
                                         "': certward issues DNS, IP, email and URI names");
}

Result<SubjectAltName> parse_san(std::string_view text) {
  text = trim(text);
  static constexpr std::pair<std::string_view, SanType> kPrefixes[] = {
      {"dns:", SanType::kDns},
      {"ip:", SanType::kIp},
      {"email:", SanType::kEmail},
      {"uri:", SanType::kUri},
  };
  std::optional<SanType> type;
  for (const auto& [prefix, t] : kPrefixes) {
    if (text.size() >= prefix.size() &&
        std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      type = t;
      text.remove_prefix(prefix.size());
      break;
    }
  }
  if (text.empty()) return fail(ErrorCode::kMalformed, "empty name");
  if (!type) {
    type = internal::canonical_ip(text)                 ? SanType::kIp
           : text.find("://") != std::string_view::npos ? SanType::kUri
           : text.find('@') != std::string_view::npos   ? SanType::kEmail
                                                        : SanType::kDns;
  }
  std::string value(text);
  if (*type == SanType::kIp) {
    const auto ip = internal::canonical_ip(text);
    if (!ip) return fail(ErrorCode::kMalformed, "bad IP address '" + escape_name_text(text) + "'");
    value = *ip;
  }
  return check_san({*type, std::move(value)});
}

std::string escape_name_text(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string uri_host(std::string_view uri) { return internal::uri_host(uri); }

std::string format_san(const SubjectAltName& san) {
  return std::string(san_type_name(san.type)) + ":" + escape_name_text(san.value);
}

std::optional<SubjectAltName> parse_formatted_san(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view type = text.substr(0, colon);
  SanType t = SanType::kOther;
  for (auto candidate :
       {SanType::kDns, SanType::kIp, SanType::kEmail, SanType::kUri, SanType::kOther}) {
    if (san_type_name(candidate) == type) t = candidate;
  }
  if (san_type_name(t) != type) return std::nullopt;
  std::string value;
  const std::string_view escaped = text.substr(colon + 1);
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && i + 3 < escaped.size() && escaped[i + 1] == 'x' &&
        hex_value(escaped[i + 2]) >= 0 && hex_value(escaped[i + 3]) >= 0) {
      value.push_back(
          static_cast<char>(hex_value(escaped[i + 2]) * 16 + hex_value(escaped[i + 3])));
      i += 3;
    } else {
      value.push_back(escaped[i]);
    }
  }
  return SubjectAltName{t, std::move(value)};
}

std::vector<SubjectAltName> decode_general_names(const GENERAL_NAMES* names) {
  std::vector<SubjectAltName> out;
  for (int i = 0; i < internal::stack_size(names); ++i) {
    const GENERAL_NAME* gen = internal::stack_at<GENERAL_NAME>(names, i);
    switch (gen->type) {
      case GEN_DNS:
        out.push_back({SanType::kDns, internal::asn1_string_utf8(gen->d.dNSName)});
        break;
      case GEN_IPADD:
        out.push_back({SanType::kIp, ip_text(gen->d.iPAddress)});
        break;
      case GEN_EMAIL:
        out.push_back({SanType::kEmail, internal::asn1_string_utf8(gen->d.rfc822Name)});
        break;
      case GEN_URI:
        out.push_back(
            {SanType::kUri, internal::asn1_string_utf8(gen->d.uniformResourceIdentifier)});
        break;
      case GEN_DIRNAME:
        out.push_back({SanType::kOther, "DirName:" + format_name(gen->d.directoryName)});
        break;
      case GEN_OTHERNAME:
        out.push_back(decode_other_name(gen->d.otherName));
        break;
      case GEN_RID:
        out.push_back({SanType::kOther, "RID:" + internal::oid_text(gen->d.registeredID)});
        break;
      case GEN_X400:
        out.push_back({SanType::kOther, "X400Name"});
        break;
      case GEN_EDIPARTY:
        out.push_back({SanType::kOther, "EdiPartyName"});
        break;
      default:
        out.push_back({SanType::kOther, "unknown"});
        break;
    }
  }
  return out;
}

}  // namespace certward::x509
