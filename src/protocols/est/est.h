#pragma once
// The EST server's HTTP face (RFC 7030, RFC 8951), on the HTTPS listener at /.well-known/est
// and /.well-known/est/<label>: cacerts, csrattrs, simpleenroll, simplereenroll and
// serverkeygen. Bodies are base64 DER; errors are text/plain with the status RFC 7030 gives
// (401 with a Basic challenge when the caller must authenticate).

#include <memory>

#include "http/http.h"
#include "protocols/est/service.h"

namespace certward::protocols::est {

// The operations of the default endpoint (mount at "/.well-known/est"), or with `labelled`
// those of every label at "/{label}/<operation>" (mount both at "/.well-known/est"). `service`
// outlives the router.
std::unique_ptr<http::Router> make_router(Service& service, bool labelled);

}  // namespace certward::protocols::est
