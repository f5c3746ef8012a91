#pragma once
// The issuers as a REST resource (/api/v1/issuers, docs/api.md): certward's authorities and
// the upstream CAs of the configuration, what each supports and its health; and the http-01
// answers of upstream ACME orders on the plain-HTTP listener. Served by the upstream issuers'
// component.

#include <memory>

#include "api/api.h"
#include "http/http.h"
#include "issuers/registry.h"

namespace certward::api {

// `services` and `registry` outlive the router.
std::unique_ptr<http::Router> make_issuer_router(Services& services,
                                                 issuers::IssuerRegistry& registry);
// GET /.well-known/acme-challenge/{token}: what an upstream ACME CA's validator fetches.
std::unique_ptr<http::Router> make_http01_router(issuers::IssuerRegistry& registry);

}  // namespace certward::api
