#pragma once
// The OCSP responder's HTTP face (RFC 6960 appendix A, RFC 5019 section 5), on the plain-HTTP
// listener, mounted at /ocsp:
//   GET  /ocsp/<base64 of the DER OCSPRequest, URL-escaped>
//   POST /ocsp   with the DER OCSPRequest as the body (application/ocsp-request)
// Every request that reaches the responder is answered 200 with an application/ocsp-response:
// a signed response, or an OCSP error status (malformedRequest for bad base64, a body larger
// than kMaxRequestBytes, or bad DER; unauthorized for an issuer not served). Cacheable answers
// carry RFC 5019's headers: Last-Modified (thisUpdate), Expires (nextUpdate), Cache-Control
// max-age up to nextUpdate, public, no-transform, must-revalidate, and a strong ETag
// (If-None-Match gives 304); the others, no-store.
//
// The answers come from ca::OcspResponder. A cached answer is sent from the I/O thread that
// read the request (http::InlineHandler): a parse and a lookup, no hop to a worker, no
// signature. Everything else is answered on a worker.

#include <cstddef>
#include <memory>

#include "api/api.h"
#include "ca/ocsp_responder.h"
#include "common/clock.h"
#include "http/http.h"

namespace certward::protocols::ocsp {

// The largest OCSP request read (POST body, or decoded GET): far above any real request (one
// CertID is about 70 octets; a signed request with its certificates a few KiB).
inline constexpr std::size_t kMaxRequestBytes = 16 * 1024;

// Routes relative to the mount point. `responder` and `clock` outlive the router.
std::unique_ptr<http::Router> make_router(ca::OcspResponder& responder, const Clock& clock);

// GET /api/v1/authorities/{name}/ocsp (read_catalog), an absolute route for the HTTPS
// listener: whether the responder answers for the authority, who signs its answers (the
// delegated responder's certificate, or the authority itself; null before the first answer),
// when the responder's certificate is renewed, and up to when revocations were seen.
// `responder` and `services` outlive the router.
std::unique_ptr<http::Router> make_status_router(ca::OcspResponder& responder,
                                                 api::Services& services);

}  // namespace certward::protocols::ocsp
