#pragma once
// The rules EST, SCEP and CMP share, in one place: what a device's credential lets it name,
// what a renewal must keep, and how a refusal that is not the protocol's own message reads
// over HTTP.

#include <chrono>
#include <span>
#include <string>
#include <string_view>

#include "auth/enrollment_credentials.h"
#include "http/http.h"
#include "inventory/inventory.h"
#include "x509/csr.h"

namespace certward::protocols::enrollment {

// Whether a request naming `common_name` and `sans` is for the one device the credential
// names, when it names one (its expected subject): that name as the common name, and no other
// name, in the subject alternative names alike. A credential without an expected subject
// allows any name (the team's grant still bounds it).
bool names_expected_device(const auth::CredentialInfo& credential, std::string_view common_name,
                           std::span<const x509::SubjectAltName> sans);

// Whether a renewal's request keeps the renewed certificate's subject and subject alternative
// names (RFC 7030 4.2.2; SCEP and CMP alike). A request with no names asks for the old ones.
bool keeps_names(std::string_view subject, std::span<const x509::SubjectAltName> sans,
                 const inventory::CertificateRecord& old);

// A refusal answered as plain text with `status`, never cached; Retry-After when given.
http::Response text_refusal(int status, std::string_view message,
                            std::chrono::seconds retry_after = {});

}  // namespace certward::protocols::enrollment
