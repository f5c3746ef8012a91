#pragma once
// The guard every REST route passes, and the pieces of a REST handler's answer. The REST API's
// resource files use it (rest_impl.h), and so does a front-end with REST resources of its own
// (the ACME directories, src/protocols/acme/admin_routes.cc): one authentication,
// authorisation and rate limit for every /api/v1 route, wherever it is built.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/api.h"
#include "auth/auth.h"
#include "http/http.h"

namespace certward::api {

enum class BodyKind : std::uint8_t { kNone, kJson };

// A REST handler: runs once the guard has let the request through, with who is asking.
// Decodes, calls one service, encodes; an error becomes a problem (http::problem_for).
using GuardedHandler =
    std::function<Result<http::Response>(Services&, http::Request&, const auth::Identity&)>;

// The one guard of the REST API, in this order: authenticate (a bearer token, else a verified
// TLS client certificate: 401, or 503 when the database cannot say), authorise the role for
// `permission` (403), rate-limit the principal (429 with Retry-After), require a JSON content
// type when the route takes a body (415). Then `handler`.
http::Response guarded(Services& services, http::Request& request, auth::Permission permission,
                       BodyKind body, const GuardedHandler& handler);

// Adds a guarded route. `services` outlives the router.
void add_guarded(http::Router& router, Services& services, std::string method, std::string pattern,
                 auth::Permission permission, BodyKind body, GuardedHandler handler);

http::Response ok_json(const nlohmann::json& j, int status = 200);
// Query parameters: absent is nullopt, present but empty is kMalformed.
Result<std::optional<std::string>> query_text(const http::Request& r, std::string_view key);
Result<std::optional<std::int64_t>> query_int(const http::Request& r, std::string_view key);
// The "limit" query parameter as the services' `int`, `fallback` when absent. A value outside
// [-1, beyond] is pinned just past the range, so the service still refuses it by its own rule
// rather than the narrowing changing it into one it accepts.
Result<int> query_limit(const http::Request& r, int fallback, std::int64_t beyond = 1001);
// kMalformed for a query parameter not in `known` (a typo must not be ignored).
Status check_query(const http::Request& r, std::initializer_list<std::string_view> known);

}  // namespace certward::api
