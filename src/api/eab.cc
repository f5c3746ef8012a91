// ACME External Account Binding keys (/api/v1/acme/eab): created by administrators for a
// team, listed without their secrets, revoked.

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> create_eab(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"team", "directory", "description"}));
  auth::EabKeyRequest r;
  CW_ASSIGN_OR_RETURN(r.team, b.string("team"));
  CW_ASSIGN_OR_RETURN(r.directory, b.opt_string("directory"));
  CW_ASSIGN_OR_RETURN(auto desc, b.opt_string("description"));
  r.description = desc.value_or("");
  CW_ASSIGN_OR_RETURN(auto created, s.eab.create(r, id.actor));
  json j = eab_key_json(created.info);
  j["hmac_key"] = created.hmac_key;  // shown once
  auto resp = ok_json(j, 201);
  resp.set_header("Cache-Control", "no-store");
  return resp;
}

Result<http::Response> list_eab(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"team"}));
  CW_ASSIGN_OR_RETURN(auto team, query_text(req, "team"));
  CW_ASSIGN_OR_RETURN(auto keys, s.eab.list(team));
  json items = json::array();
  for (const auto& k : keys) items.push_back(eab_key_json(k));
  return ok_json({{"items", items}});
}

Result<http::Response> revoke_eab(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto info, s.eab.revoke(req.params["kid"], id.actor));
  return ok_json(eab_key_json(info));
}

}  // namespace

void add_eab_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/acme/eab", Permission::kReadPrincipals, BodyKind::kNone,
              list_eab);
  add_guarded(r, s, "POST", "/api/v1/acme/eab", Permission::kManagePrincipals, BodyKind::kJson,
              create_eab);
  add_guarded(r, s, "DELETE", "/api/v1/acme/eab/{kid}", Permission::kManagePrincipals,
              BodyKind::kNone, revoke_eab);
}

}  // namespace certward::api
