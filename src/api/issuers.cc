#include "api/issuers.h"

#include "api/json.h"
#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

// An issuer as `who` may see it: the last error quotes a request's names (another team's, in a
// refusal), so only those who manage authorities read it; others see the state alone.
json shown(const issuers::IssuerView& v, const Identity& who) {
  json j = issuers::issuer_json(v);
  if (!auth::role_allows(who.role, Permission::kManageAuthorities)) {
    j["health"]["last_error"] = nullptr;
  }
  return j;
}

Result<http::Response> list_issuers(Services&, issuers::IssuerRegistry& registry,
                                    http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto all, registry.list());
  json items = json::array();
  for (const auto& v : all) items.push_back(shown(v, id));
  return ok_json({{"items", items}});
}

Result<http::Response> get_issuer(Services&, issuers::IssuerRegistry& registry, http::Request& req,
                                  const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto v, registry.describe(req.params["name"]));
  return ok_json(shown(v, id));
}

// Asks the CA now: an outbound request per call, so only those who manage authorities may.
Result<http::Response> check_issuer(Services&, issuers::IssuerRegistry& registry,
                                    http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto v, registry.check(req.params["name"]));
  return ok_json(issuers::issuer_json(v));
}

}  // namespace

std::unique_ptr<http::Router> make_issuer_router(Services& services,
                                                 issuers::IssuerRegistry& registry) {
  auto router = std::make_unique<http::Router>();
  auto bind = [&registry](auto fn) {
    return [&registry, fn](Services& s, http::Request& req,
                           const Identity& id) -> Result<http::Response> {
      return fn(s, registry, req, id);
    };
  };
  add_guarded(*router, services, "GET", "/api/v1/issuers", Permission::kReadCatalog,
              BodyKind::kNone, bind(list_issuers));
  add_guarded(*router, services, "GET", "/api/v1/issuers/{name}", Permission::kReadCatalog,
              BodyKind::kNone, bind(get_issuer));
  add_guarded(*router, services, "POST", "/api/v1/issuers/{name}/check",
              Permission::kManageAuthorities, BodyKind::kNone, bind(check_issuer));
  return router;
}

std::unique_ptr<http::Router> make_http01_router(issuers::IssuerRegistry& registry) {
  auto router = std::make_unique<http::Router>();
  router->add("GET", "/.well-known/acme-challenge/{token}", [&registry](http::Request& req) {
    auto answer = registry.http01().lookup(req.params["token"]);
    if (!answer) return http::Response::text(404, "no such challenge\n");
    return http::Response::text(200, *answer, "application/octet-stream");
  });
  return router;
}

}  // namespace certward::api
