// The validator's checks without I/O (validator_internal.h).

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "crypto/handles.h"
#include "protocols/acme/validator_internal.h"

namespace certward::protocols::acme::validation {

using boost::system::error_code;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_base64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

// A host name as ACME identifiers and redirect targets may carry: LDH labels of 1 to 63
// characters, no hyphen at either end of a label, 253 characters at most, and a last label
// that is not all digits (RFC 3696 2), so that "127.1" is not taken for a name.
bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::string_view last = name.substr(name.rfind('.') + 1);
  if (std::all_of(last.begin(), last.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  for (std::size_t start = 0; start <= name.size();) {
    std::size_t dot = std::min(name.find('.', start), name.size());
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

// An IP literal without zone index; inet_pton's strict forms only ("127.1" is not one).
std::optional<asio::ip::address> parse_ip(std::string_view text) {
  if (text.find('%') != std::string_view::npos) return std::nullopt;
  error_code ec;
  auto address = asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return address;
}

// RFC 8738 section 6: the reverse-mapping name is the SNI of an IP identifier.
std::string reverse_name(const asio::ip::address& address) {
  std::string out;
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    for (int i = 3; i >= 0; --i) out += std::to_string(b[static_cast<std::size_t>(i)]) + ".";
    return out + "in-addr.arpa";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  auto b = address.to_v6().to_bytes();
  for (int i = 15; i >= 0; --i) {
    auto byte = b[static_cast<std::size_t>(i)];
    out += kHex[byte & 0xf];
    out += '.';
    out += kHex[byte >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

bool in_v4_range(std::uint32_t a, std::uint32_t net, int prefix) {
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == net;
}

bool is_public_v4(const asio::ip::address_v4& v4) {
  std::uint32_t a = v4.to_uint();
  static constexpr std::pair<std::uint32_t, int> kReserved[] = {
      {0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},
      {0xa9fe0000, 16}, {0xac100000, 12}, {0xc0000000, 24}, {0xc0a80000, 16},
      {0xc6120000, 15}, {0xe0000000, 4},  {0xf0000000, 4},
  };
  return std::none_of(std::begin(kReserved), std::end(kReserved),
                      [a](const auto& r) { return in_v4_range(a, r.first, r.second); });
}

bool is_public(const asio::ip::address& address) {
  if (address.is_v4()) return is_public_v4(address.to_v4());
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return is_public_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  bool unique_local = (b[0] & 0xfe) == 0xfc;                // fc00::/7
  bool link_local = b[0] == 0xfe && (b[1] & 0xc0) == 0x80;  // fe80::/10
  return !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || unique_local ||
           link_local);
}

std::string address_octets(const asio::ip::address& address) {
  if (address.is_v4()) {
    auto b = address.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  auto b = address.to_v6().to_bytes();
  return std::string(b.begin(), b.end());
}

std::string host_text(const std::string& host, const std::optional<asio::ip::address>& ip) {
  return ip && ip->is_v6() ? "[" + host + "]" : host;
}

// An http or https URL the validator may fetch: ports 80 and 443 only.

bool valid_target(std::string_view target) {
  return !target.empty() && target.front() == '/' &&
         std::all_of(target.begin(), target.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u > 0x20 && u < 0x7f;
         });
}

// Reads "host[:port]" of an absolute URL into `url`.
Status parse_authority(std::string_view authority, Url& url) {
  if (authority.find('@') != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "redirect URL carries user information");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(ErrorCode::kInvalidArgument, "bad host");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return fail(ErrorCode::kInvalidArgument, "bad host");
    }
    if (!rest.empty()) port = rest.substr(1);
    url.ip = parse_ip(host);
    if (!url.ip || !url.ip->is_v6()) return fail(ErrorCode::kInvalidArgument, "bad IPv6 host");
    url.host = url.ip->to_string();
  } else {
    std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    url.ip = parse_ip(host);
    if (url.ip && !url.ip->is_v4()) return fail(ErrorCode::kInvalidArgument, "bad host");
    if (!url.ip && !is_host_name(host)) {
      return fail(ErrorCode::kInvalidArgument, "redirect host is not a valid host name");
    }
    url.host = url.ip ? url.ip->to_string() : lower(host);
  }
  url.port = url.https ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (err != std::errc() || end != port.data() + port.size() || (value != 80 && value != 443)) {
      return fail(ErrorCode::kInvalidArgument,
                  "redirect to port " + std::string(port) + ": only 80 and 443 are followed");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  return ok();
}

// The URL a Location header leads to from `base` (RFC 3986 5.2, without removing dot
// segments). Errors: kInvalidArgument with the reason.
Result<Url> resolve_redirect(const Url& base, std::string_view location) {
  location = location.substr(0, location.find('#'));
  if (location.empty()) return fail(ErrorCode::kInvalidArgument, "empty Location");
  Url url;
  std::size_t colon = location.find(':');
  std::size_t first_delim = location.find_first_of("/?");
  bool has_scheme = colon != std::string_view::npos && colon > 0 && colon < first_delim;
  std::string_view rest = location;
  if (has_scheme) {
    std::string scheme = lower(location.substr(0, colon));
    if (scheme != "http" && scheme != "https") {
      return fail(ErrorCode::kInvalidArgument,
                  "redirect to a " + scheme + " URL: only http and https are followed");
    }
    url.https = scheme == "https";
    rest = location.substr(colon + 1);
    if (rest.substr(0, 2) != "//") return fail(ErrorCode::kInvalidArgument, "URL has no host");
  } else {
    url.https = base.https;
  }
  if (rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    std::size_t end = std::min(rest.find_first_of("/?"), rest.size());
    CW_RETURN_IF_ERROR(parse_authority(rest.substr(0, end), url));
    url.target = std::string(rest.substr(end));
    if (url.target.empty() || url.target.front() == '?') url.target.insert(0, "/");
  } else {
    url.host = base.host;
    url.ip = base.ip;
    url.port = base.port;
    std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
    if (rest.front() == '/') {
      url.target = std::string(rest);
    } else if (rest.front() == '?') {
      url.target = std::string(base_path) + std::string(rest);
    } else {
      url.target = std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(rest);
    }
  }
  if (!valid_target(url.target)) {
    return fail(ErrorCode::kInvalidArgument, "redirect URL has characters outside printable ASCII");
  }
  return url;
}

std::string trim_trailing_space(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// RFC 8737 section 3: one SAN entry, the identifier; a critical acmeIdentifier extension with
// the DER OCTET STRING of SHA-256(key authorization).
std::optional<Problem> check_alpn_certificate(X509* cert, const std::string& identifier,
                                              const std::optional<asio::ip::address>& ip,
                                              std::string_view key_authorization) {
  auto refuse = [](std::string detail) {
    return Problem{"unauthorized", "Incorrect validation certificate for tls-alpn-01: " + detail};
  };
  int san_at = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  if (san_at < 0) return refuse("no subjectAltName extension");
  if (X509_get_ext_by_NID(cert, NID_subject_alt_name, san_at) >= 0) {
    return refuse("two subjectAltName extensions");
  }
  crypto::GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(X509_get_ext(cert, san_at))));
  if (!sans) return refuse("unreadable subjectAltName extension");
  if (sk_GENERAL_NAME_num(sans.get()) != 1) {
    return refuse("the subjectAltName must hold exactly one name");
  }
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans.get(), 0);
  if (ip) {
    if (name->type != GEN_IPADD || address_octets(*ip) != asn1_text(name->d.iPAddress)) {
      return refuse("the subjectAltName is not the iPAddress " + identifier);
    }
  } else if (name->type != GEN_DNS || lower(asn1_text(name->d.dNSName)) != identifier) {
    return refuse("the subjectAltName is not the dNSName " + identifier);
  }

  crypto::Asn1ObjectPtr oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  CW_CHECK(oid != nullptr);
  int at = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (at < 0) return refuse("no acmeIdentifier extension");
  if (X509_get_ext_by_OBJ(cert, oid.get(), at) >= 0) return refuse("two acmeIdentifier extensions");
  X509_EXTENSION* ext = X509_get_ext(cert, at);
  if (X509_EXTENSION_get_critical(ext) != 1) return refuse("acmeIdentifier is not critical");
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const unsigned char* der = ASN1_STRING_get0_data(value);
  auto der_size = ASN1_STRING_length(value);
  const unsigned char* p = der;
  crypto::Asn1OctetStringPtr inner(d2i_ASN1_OCTET_STRING(nullptr, &p, der_size));
  // d2i reads some BER too: the value must re-encode to exactly the bytes received.
  bool is_der =
      inner && p == der + der_size && i2d_ASN1_OCTET_STRING(inner.get(), nullptr) == der_size;
  if (!is_der) return refuse("acmeIdentifier is not a DER OCTET STRING");
  Bytes digest = crypto::sha256(as_bytes(key_authorization));
  if (asn1_text(inner.get()) != as_chars(digest)) {
    return refuse("acmeIdentifier does not hold the SHA-256 of the key authorization");
  }
  return std::nullopt;
}

}  // namespace certward::protocols::acme::validation
