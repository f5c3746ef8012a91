#pragma once
// Private to x509: the syntax rules every name certward puts into a certificate passes, from
// whatever source it came (a --san flag, a JSON body, a CSR's extension, a common name).
// Pure functions, thread-safe. The public face is x509/names.h (check_san, parse_san).

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward::x509::internal {

enum class Wildcard : std::uint8_t { kRefuse, kAllowLeftmostLabel };

// An RFC 1035/1123 host name (LDH labels of 1-63 octets, at most 253 in all, no trailing dot,
// a top-level label that is not all digits), lower-cased. A label with "--" in its third and
// fourth place must be an IDNA A-label: "xn--" + the canonical Punycode of a valid IDNA2008
// U-label (libidn2, no UTS#46 mapping); raw UTF-8 is refused: international names are
// requested as A-labels. With
// kAllowLeftmostLabel the leftmost label may be exactly "*" if two or more labels follow it.
// Errors: kMalformed.
Result<std::string> normalize_dns_name(std::string_view text, Wildcard wildcard);

// An RFC 5321 mailbox: a dot-atom local part of at most 64 octets, '@', a host name as above.
// Quoted local parts and address literals are refused. The domain is lower-cased.
// Errors: kMalformed.
Result<std::string> normalize_mailbox(std::string_view text);

// An absolute RFC 3986 URI: scheme ":" rest, only URI characters, valid %-escapes. When it has
// an authority ("scheme://") its host is a host name as above or an IP literal, no user
// information is allowed ("https://good.example@evil.example" is refused) and the port is
// 0-65535. Scheme and host are lower-cased. Errors: kMalformed.
Result<std::string> normalize_uri(std::string_view text);

// The host of a URI already through normalize_uri ("" when it has no authority). IPv6 hosts
// are returned without brackets.
std::string uri_host(std::string_view uri);

// Canonical text of an IPv4 or IPv6 address, or nullopt if `text` is neither.
std::optional<std::string> canonical_ip(std::string_view text);

}  // namespace certward::x509::internal
