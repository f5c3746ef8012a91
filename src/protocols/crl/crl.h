#pragma once
// The CRL distribution point (RFC 5280 4.2.1.13) on the plain-HTTP listener, mounted at /crl:
//   GET /crl/<authority>.crl         the authority's newest full CRL
//   GET /crl/<authority>-delta.crl   its newest delta CRL (404 when it publishes none)
// DER, application/pkix-crl, with Last-Modified (thisUpdate), Expires (nextUpdate),
// Cache-Control max-age up to nextUpdate and a strong ETag (If-None-Match gives 304).
// 404 too until an authority's first CRL is published (a server publishes them as it
// starts); 503 with Retry-After while the database cannot be read.
//
// The CRLs are published by ca::CrlPublisher; this front-end only serves what it holds.

#include <memory>

#include "ca/crl_publisher.h"
#include "common/clock.h"
#include "http/http.h"

namespace certward::protocols::crl {

// Routes relative to the mount point. `publisher` and `clock` outlive the router.
std::unique_ptr<http::Router> make_router(ca::CrlPublisher& publisher, const Clock& clock);

}  // namespace certward::protocols::crl
