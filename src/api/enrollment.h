#pragma once
// The enrollment credentials as a REST resource (/api/v1/enrollment/credentials, docs/api.md):
// the one-time and static secrets devices enroll with over EST, SCEP and CMP, made one by one
// or in batches for a factory line (with a CSV of the secrets, once), listed with their use.
// Served by the enrollment component beside the protocols that check them.

#include <functional>
#include <memory>

#include "api/api.h"
#include "auth/enrollment_credentials.h"
#include "http/http.h"

namespace certward::api {

// What the protocols know of a credential's request before it is made: that its label is
// served, and with its profile. Errors: kInvalidArgument.
using CredentialCheck = std::function<Status(const auth::CredentialRequest&)>;

// `services` and `credentials` outlive the router. A credential is made only when the team's
// grant covers its profile, authority and expected subject, and `check` accepts it: one that
// could never enroll is refused when it is made, not on the device.
std::unique_ptr<http::Router> make_enrollment_router(Services& services,
                                                     auth::EnrollmentCredentials& credentials,
                                                     CredentialCheck check);

nlohmann::json credential_json(const auth::CredentialInfo& c, SysTime now);

}  // namespace certward::api
