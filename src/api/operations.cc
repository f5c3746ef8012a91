// Operations: liveness and readiness, Prometheus metrics, the OpenAPI document, and whoami.

#include "api/rest_impl.h"
#include "http/problem.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

http::Response readyz(Services& s) {
  if (auto ready = s.ready(); !ready) return http::problem_for(ready.error());
  return ok_json({{"status", "ready"}});
}

Result<http::Response> whoami(Services&, http::Request&, const Identity& id) {
  json j = {{"principal", id.principal},
            {"role", auth::role_name(id.role)},
            {"team", id.team ? json(*id.team) : json(nullptr)},
            {"actor", id.actor}};
  return ok_json(j);
}

}  // namespace

void add_liveness_route(http::Router& r) {
  r.add("GET", "/healthz", [](http::Request&) { return ok_json({{"status", "ok"}}); });
}

void add_operation_routes(http::Router& r, Services& s) {
  add_liveness_route(r);
  r.add("GET", "/readyz", [&s](http::Request&) { return readyz(s); });
  r.add("GET", "/metrics", [&s](http::Request&) {
    return http::Response::text(200, s.metrics.render(s.inventory),
                                "text/plain; version=0.0.4; charset=utf-8");
  });
  r.add("GET", "/api/v1/openapi.json",
        [](http::Request&) { return http::Response::json(200, openapi_document()); });
  add_guarded(r, s, "GET", "/api/v1/whoami", Permission::kReadCatalog, BodyKind::kNone, whoami);
}

}  // namespace certward::api
