#pragma once
// The enrollment credentials as a REST resource (/api/v1/enrollment/credentials, docs/api.md):
// the one-time and static secrets devices enroll with over EST, SCEP and CMP, made one by one
// or in batches for a factory line (with a CSV of the secrets, once), listed with their use.
// Served by the enrollment component beside the protocols that check them.

#include <memory>

#include "api/api.h"
#include "auth/enrollment_credentials.h"
#include "http/http.h"

namespace certward::api {

// `services` and `credentials` outlive the router.
std::unique_ptr<http::Router> make_enrollment_router(Services& services,
                                                     auth::EnrollmentCredentials& credentials);

nlohmann::json credential_json(const auth::CredentialInfo& c, SysTime now);

}  // namespace certward::api
