#pragma once
// Distinguished names and SAN text forms.

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

// Parses "dns:example.com", "ip:192.0.2.1", "email:a@b", "uri:https://x"; a bare value is
// taken as an IP if it parses as one, an email if it has '@', else a DNS name.
Result<SubjectAltName> parse_san(std::string_view text);
std::string format_san(const SubjectAltName& san);  // "dns:example.com"

// Decodes a GENERAL_NAMES into our SAN list (other types become kOther with a description).
std::vector<SubjectAltName> decode_general_names(const GENERAL_NAMES* names);

}  // namespace certward::x509
