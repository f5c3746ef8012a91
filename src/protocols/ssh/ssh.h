#pragma once
// The SSH certificate authority's front-ends (docs/ssh.md):
//
// REST, on the HTTPS listener (docs/api.md "SSH"):
//   GET/POST /api/v1/ssh/authorities, GET /api/v1/ssh/authorities/{name}
//   GET /api/v1/ssh/profiles
//   POST /api/v1/ssh/certificates (sign), GET /api/v1/ssh/certificates[/{id}],
//   POST /api/v1/ssh/certificates/{id}/revoke
// Plain HTTP, mounted at /ssh, for the hosts that trust the CA:
//   GET /ssh/<authority>.pub   the CA's public key (TrustedUserCAKeys, @cert-authority)
//   GET /ssh/<authority>.krl   its key revocation list (sshd's RevokedKeys)
//
// The front-ends decode, call ssh::SshService and encode; the rules are the service's.

#include <memory>
#include <nlohmann/json.hpp>

#include "api/api.h"
#include "http/http.h"
#include "ssh/service.h"

namespace certward::protocols::ssh {

// The JSON of the REST API, which the CLI prints too.
nlohmann::json authority_json(const certward::ssh::SshAuthorityInfo& a);
nlohmann::json certificate_json(const certward::ssh::SshCertificateRecord& c);

std::unique_ptr<http::Router> make_api_router(api::Services& services,
                                              certward::ssh::SshService& ssh);
std::unique_ptr<http::Router> make_public_router(certward::ssh::SshService& ssh);

}  // namespace certward::protocols::ssh
