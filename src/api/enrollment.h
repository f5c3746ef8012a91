#pragma once
// The enrollment credentials as a REST resource (/api/v1/enrollment/credentials, docs/api.md):
// the one-time and static secrets devices enroll with over EST, SCEP and CMP, made one by one
// or in batches for a factory line (with a CSV of the secrets, once), listed with their use.
// Served by the enrollment component beside the protocols that check them.

#include <memory>
#include <span>

#include "api/api.h"
#include "auth/enrollment_credentials.h"
#include "common/config.h"
#include "http/http.h"

namespace certward::api {

// Whether a credential could enroll anything: the team's grant covers its profile, its
// authority (or the default) and its expected subjects, and a label it names is an EST or CMP
// label (as its kind) of `config` for that profile. One that could never enroll is refused when it
// is made, not on the device. Errors: kInvalidArgument, kNotFound (team).
Status check_credential(const auth::AuthService& auth, const ca::AuthorityService& authorities,
                        const Config& config, const auth::CredentialRequest& request,
                        std::span<const std::string> expected_subjects);

// `services`, `credentials` and `config` outlive the router.
std::unique_ptr<http::Router> make_enrollment_router(Services& services,
                                                     auth::EnrollmentCredentials& credentials,
                                                     const Config& config);

nlohmann::json credential_json(const auth::CredentialInfo& c, SysTime now);
// With "certificates": [{"certificate", "channel", "used_at"}], what it enrolled.
nlohmann::json credential_json(const auth::CredentialInfo& c,
                               std::span<const auth::CredentialUse> uses, SysTime now);

// Credentials with their secrets (credential_json plus "secret") as the CSV a factory line
// loads: id,kind,secret,expected_subject,profile,team,expires_at, CRLF-ended (RFC 4180), a
// field a spreadsheet would run as a formula prefixed with an apostrophe.
std::string credentials_csv(const nlohmann::json& items);

}  // namespace certward::api
