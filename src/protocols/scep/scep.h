#pragma once
// The SCEP server's HTTP face (RFC 8894 4), at /scep on both listeners (SCEP protects its
// messages itself, and devices reach it over plain HTTP): GET ?operation=GetCACaps,
// GetCACert and PKIOperation (the message in base64 in the query), POST PKIOperation (the
// message as the body, whatever its Content-Type). /scep/pkiclient.exe answers the same, for
// clients configured with the path older servers used.

#include <memory>

#include "http/http.h"
#include "protocols/scep/service.h"

namespace certward::protocols::scep {

// Mount at "/scep". `service` outlives the router.
std::unique_ptr<http::Router> make_router(Service& service);

}  // namespace certward::protocols::scep
