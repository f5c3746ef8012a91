#pragma once
// The CMP server's HTTP face (RFC 6712, RFC 9483 6.1): POST of a DER PKIMessage
// (application/pkixcmp) to /.well-known/cmp or /.well-known/cmp/p/<label>, on both listeners
// (CMP protects its own messages); the answer is a PKIMessage of the same media type, an
// error message included. What is not a PKIMessage is answered 400.

#include <memory>

#include "http/http.h"
#include "protocols/cmp/service.h"

namespace certward::protocols::cmp {

// Mount at "/.well-known/cmp". `service` outlives the router.
std::unique_ptr<http::Router> make_router(Service& service);

}  // namespace certward::protocols::cmp
