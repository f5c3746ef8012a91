#pragma once
// The ACME server's HTTP face (RFC 8555), on the HTTPS listener: one directory at
// /acme/directory and one per [acme.directories.<name>] at /acme/<name>/directory, each with
// its resources under its own prefix.
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

#include "api/rate_limit.h"
#include "http/http.h"
#include "protocols/acme/nonces.h"
#include "protocols/acme/service.h"

namespace certward::protocols::acme {

// The directories as served, from the configuration.
std::vector<Directory> directories(const AcmeSettings& settings);

// Routes of one directory, relative to its prefix (mount it at directory.prefix). Everything
// passed outlives the router.
std::unique_ptr<http::Router> make_router(const Directory& directory, Service& service,
                                          NonceStore& nonces, api::RateLimiter& limiter);

}  // namespace certward::protocols::acme
