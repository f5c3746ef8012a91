#pragma once
// The ACME server's HTTP face (RFC 8555), on the HTTPS listener: the default directory at
// /acme/directory and every other one (directories.h) at /acme/<name>/directory, each with its
// resources under its own prefix.
//
// Every POST passes the same checks, in RFC 8555 6.2-6.5's order, before any resource is
// touched: the content type (application/jose+json), the JWS (flattened, one signature,
// protected header only, a supported algorithm), the nonce (single use, unexpired: badNonce
// with a fresh one otherwise), the URL in the protected header against the request's, the key
// (jwk only for newAccount and revokeCert, kid naming a valid account of this directory for
// the rest), the signature, and the account's request rate. Every response carries a
// Replay-Nonce and a Link to the directory; errors are ACME problem documents.

#include <memory>
#include <vector>

#include "api/api.h"
#include "api/rate_limit.h"
#include "http/http.h"
#include "protocols/acme/directories.h"
#include "protocols/acme/nonces.h"
#include "protocols/acme/service.h"

namespace certward::protocols::acme {

// The routes of the default directory (mount them at "/acme"), or with `named` those of every
// other directory (mount them at "/acme/{directory}"): a request's directory is looked up by
// the name in its path when it arrives, so directories made or deleted through the API are
// served, or no longer, without a restart. Everything passed outlives the router.
std::unique_ptr<http::Router> make_router(const Directories& directories, bool named,
                                          Service& service, NonceStore& nonces,
                                          api::RateLimiter& limiter);

// The REST API of the directories, /api/v1/acme/directories (admin_routes.cc): patterns are
// absolute, mount the router at the root. `api` outlives it.
std::unique_ptr<http::Router> make_admin_router(api::Services& api, Directories& directories);

}  // namespace certward::protocols::acme
