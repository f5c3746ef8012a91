#pragma once
// Distinguished names and SAN text forms.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "x509/certificate.h"

namespace certward::x509 {

// Parses "CN=example.com,O=Example Corp,C=US" (RFC 4514 style, ',' separated, '\,' escapes)
// or OpenSSL's "/CN=.../O=..." form into a name. Errors: kMalformed (unknown attribute,
// empty value, bad escape).
Result<crypto::X509NamePtr> parse_name(std::string_view text);
// RFC 2253 one-line form of a name.
std::string format_name(const X509_NAME* name);

// The one syntax check every name passes before anything else looks at it, whatever its
// source (a --san flag, a JSON body, a CSR's extension, a common name): DNS names by RFC
// 1035/1123 with IDNA A-labels and at most a whole leftmost "*" label, IP addresses in
// canonical form, RFC 5321 mailboxes, absolute RFC 3986 URIs (x509/name_syntax.h has the
// details). Returns the name normalized (host names lower-cased). kOther names are refused.
// Errors: kMalformed.
Result<SubjectAltName> check_san(const SubjectAltName& san);

// Parses "dns:example.com", "ip:192.0.2.1", "email:a@b", "uri:https://x"; a bare value is
// taken as an IP if it parses as one, a URI if it holds "://", an email if it has '@', else a
// DNS name. The result has passed check_san. Errors: kMalformed.
Result<SubjectAltName> parse_san(std::string_view text);

// "dns:example.com". Control characters and '\' in the value are written "\xNN", so a hostile
// name from an imported certificate can neither split a line nor forge another entry.
std::string format_san(const SubjectAltName& san);
// The inverse of format_san, for text this program wrote itself (no syntax check: imported
// certificates may carry names certward would never issue). nullopt if it has no known type.
std::optional<SubjectAltName> parse_formatted_san(std::string_view text);
// The host of a URI that passed check_san, lower-cased, IPv6 without brackets; "" when the URI
// has no authority ("urn:...").
std::string uri_host(std::string_view uri);
// A name's value with control characters and '\' escaped as in format_san.
std::string escape_name_text(std::string_view value);

// Decodes a GENERAL_NAMES into our SAN list (other types become kOther with a description).
std::vector<SubjectAltName> decode_general_names(const GENERAL_NAMES* names);

}  // namespace certward::x509
