#include "x509/name_syntax.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <vector>

namespace certward::x509::internal {
namespace {

constexpr std::size_t kMaxDnsName = 253;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxLocalPart = 64;
constexpr std::size_t kMaxUri = 4096;

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

// An A-label is "xn--" + Punycode of a valid IDNA2008 U-label (RFC 5891 5.4, checked by
// libidn2 without UTS#46 mapping), and exactly the canonical encoding of it. Anything else
// that looks like one could spoof a real name: a non-canonical or all-ASCII payload, or a
// label hiding a zero-width space, a fullwidth full stop ("www．bank"), a soft hyphen, a
// right-to-left override, U+FFFD or fullwidth letters.
bool valid_a_label(std::string_view label) {
  if (!label.starts_with("xn--") || label.size() == 4) return false;
  const std::string ascii(label);
  char* unicode = nullptr;
  if (idn2_to_unicode_8z8z(ascii.c_str(), &unicode, 0) != IDN2_OK) return false;
  std::unique_ptr<char, void (*)(void*)> owned_unicode(unicode, idn2_free);
  std::uint8_t* back = nullptr;
  const int rc = idn2_lookup_u8(reinterpret_cast<const std::uint8_t*>(unicode), &back,
                                IDN2_NFC_INPUT | IDN2_NO_TR46);
  std::unique_ptr<std::uint8_t, void (*)(void*)> owned_back(back, idn2_free);
  return rc == IDN2_OK && back != nullptr &&
         ascii == reinterpret_cast<const char*>(owned_back.get());
}

bool valid_ldh_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  if (!std::all_of(label.begin(), label.end(),
                   [](char c) { return is_alpha(c) || is_digit(c) || c == '-'; })) {
    return false;
  }
  // RFC 5891 4.2.3.1: "??--" labels are reserved; only A-labels may use them.
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-') return valid_a_label(label);
  return true;
}

std::unexpected<Error> malformed(std::string_view what, std::string_view text,
                                 std::string_view why) {
  // The value may hold control characters; show only its printable part.
  std::string shown;
  for (char c : text.substr(0, 256)) {
    const auto u = static_cast<unsigned char>(c);
    shown.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
  }
  return fail(ErrorCode::kMalformed,
              "bad " + std::string(what) + " '" + shown + "': " + std::string(why));
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
    return false;
  }
  unsigned value = 0;
  std::from_chars(port.data(), port.data() + port.size(), value);
  return value <= 65535;
}

// RFC 3986 characters outside the authority: unreserved, reserved (but '[' and ']', which
// belong to IP literals only) and '%' escapes.
bool valid_uri_tail(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
      continue;
    }
    if (is_alpha(c) || is_digit(c)) continue;
    if (std::string_view("-._~:/?#@!$&'()*+,;=").find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> canonical_ip(std::string_view text) {
  if (text.size() > 64) return std::nullopt;
  const std::string s(text);
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, out, sizeof out);
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return inet_ntop(AF_INET6, buf, out, sizeof out);
  return std::nullopt;
}

Result<std::string> normalize_dns_name(std::string_view text, Wildcard wildcard) {
  if (text.empty()) return malformed("DNS name", text, "empty");
  if (text.size() > kMaxDnsName) return malformed("DNS name", text, "longer than 253 octets");
  if (text.back() == '.') return malformed("DNS name", text, "trailing dot");
  std::string name = lower(text);
  std::string_view rest = name;
  if (rest.starts_with("*.")) {
    if (wildcard == Wildcard::kRefuse) return malformed("DNS name", text, "wildcard not allowed");
    rest.remove_prefix(2);
    if (rest.find('.') == std::string_view::npos) {
      return malformed("DNS name", text, "a wildcard needs at least two labels after '*.'");
    }
  }
  std::string_view last;
  while (true) {
    const auto dot = rest.find('.');
    last = rest.substr(0, dot);
    if (last.find('*') != std::string_view::npos) {
      return malformed("DNS name", text, "'*' is allowed only as the whole leftmost label");
    }
    if (!valid_ldh_label(last)) {
      return malformed("DNS name", text,
                       "labels are 1-63 letters, digits and '-', not starting or ending with '-' "
                       "(international names as IDNA A-labels)");
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (std::all_of(last.begin(), last.end(), is_digit)) {
    return malformed("DNS name", text, "the top-level label is all digits (an IP address?)");
  }
  return name;
}

Result<std::string> normalize_mailbox(std::string_view text) {
  const auto at = text.rfind('@');
  if (at == std::string_view::npos) return malformed("email address", text, "no '@'");
  const std::string_view local = text.substr(0, at);
  const auto atext = [](char c) {
    return is_alpha(c) || is_digit(c) ||
           std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
  };
  const bool dot_atom =
      !local.empty() && local.size() <= kMaxLocalPart && local.front() != '.' &&
      local.back() != '.' && local.find("..") == std::string_view::npos &&
      std::all_of(local.begin(), local.end(), [&](char c) { return atext(c) || c == '.'; });
  if (!dot_atom) {
    return malformed("email address", text,
                     "the local part must be a dot-atom of at most 64 characters");
  }
  auto domain = normalize_dns_name(text.substr(at + 1), Wildcard::kRefuse);
  if (!domain) return malformed("email address", text, "the domain is not a host name");
  return std::string(local) + "@" + *domain;
}

Result<std::string> normalize_uri(std::string_view text) {
  if (text.size() > kMaxUri) return malformed("URI", text, "longer than 4096 characters");
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || !is_alpha(text.front()) ||
      !std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
      })) {
    return malformed("URI", text, "no scheme");
  }
  std::string out = lower(text.substr(0, colon + 1));
  std::string_view rest = text.substr(colon + 1);
  if (rest.empty()) return malformed("URI", text, "nothing after the scheme");
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const auto end = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (authority.find('@') != std::string_view::npos) {
      return malformed("URI", text, "user information in the authority is not allowed");
    }
    std::string_view host = authority;
    std::string_view port;
    bool has_port = false;
    if (host.starts_with("[")) {
      const auto close = host.find(']');
      if (close == std::string_view::npos) return malformed("URI", text, "unclosed '['");
      const std::string_view literal = host.substr(1, close - 1);
      const auto ip = canonical_ip(literal);
      if (!ip || ip->find(':') == std::string::npos) {
        return malformed("URI", text, "bad IPv6 literal");
      }
      const std::string_view after = host.substr(close + 1);
      if (!after.empty() && !after.starts_with(":")) return malformed("URI", text, "bad host");
      has_port = !after.empty();
      if (has_port) port = after.substr(1);
      out += "//[" + *ip + "]";
    } else {
      const auto port_colon = host.find(':');
      if (port_colon != std::string_view::npos) {
        has_port = true;
        port = host.substr(port_colon + 1);
        host = host.substr(0, port_colon);
      }
      if (auto ip = canonical_ip(host); ip && ip->find(':') == std::string::npos) {
        out += "//" + *ip;
      } else {
        auto dns = normalize_dns_name(host, Wildcard::kRefuse);
        if (!dns) return malformed("URI", text, "the host is not a host name or IP address");
        out += "//" + *dns;
      }
    }
    if (has_port) {
      if (!valid_port(port)) return malformed("URI", text, "bad port");
      out += ":" + std::string(port);
    }
  }
  if (!valid_uri_tail(rest)) {
    return malformed("URI", text, "characters outside RFC 3986 or a bad %-escape");
  }
  out += rest;
  return out;
}

std::string uri_host(std::string_view uri) {
  const auto start = uri.find("://");
  if (start == std::string_view::npos) return {};
  std::string_view authority = uri.substr(start + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.starts_with("[")) return std::string(authority.substr(1, authority.find(']') - 1));
  return std::string(authority.substr(0, authority.find(':')));
}

}  // namespace certward::x509::internal
