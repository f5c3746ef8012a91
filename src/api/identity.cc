// Administration of who may act: teams, principals, their certificate mappings, API tokens
// (/api/v1/teams, /api/v1/principals, /api/v1/tokens).

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"
#include "ca/hierarchy.h"
#include "x509/certificate.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> list_teams(Services& s, http::Request&, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto teams, s.auth.list_teams());
  json items = json::array();
  for (const auto& t : teams) items.push_back(team_json(t));
  return ok_json({{"items", items}});
}

Result<http::Response> create_team(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "description", "allowed_profiles",
                                                "allowed_domains", "allowed_authorities"}));
  auth::Team t;
  CW_ASSIGN_OR_RETURN(t.name, b.string("name"));
  CW_ASSIGN_OR_RETURN(auto desc, b.opt_string("description"));
  t.description = desc.value_or("");
  CW_ASSIGN_OR_RETURN(t.allowed_profiles, b.strings("allowed_profiles"));
  CW_ASSIGN_OR_RETURN(t.allowed_domains, b.strings("allowed_domains"));
  CW_ASSIGN_OR_RETURN(t.allowed_authorities, b.strings("allowed_authorities"));
  CW_RETURN_IF_ERROR(
      ca::check_grant(s.profiles, s.authorities, t.allowed_profiles, t.allowed_authorities));
  CW_ASSIGN_OR_RETURN(auto created, s.auth.create_team(t, id.actor));
  return ok_json(team_json(created), 201);
}

Result<http::Response> list_principals(Services& s, http::Request&, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto list, s.auth.list_principals());
  json items = json::array();
  for (const auto& p : list) items.push_back(principal_json(p));
  return ok_json({{"items", items}});
}

Result<http::Response> create_principal(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "role", "team"}));
  auth::Principal p;
  CW_ASSIGN_OR_RETURN(p.name, b.string("name"));
  CW_ASSIGN_OR_RETURN(auto role, b.string("role"));
  CW_ASSIGN_OR_RETURN(p.role, auth::parse_role(role));
  CW_ASSIGN_OR_RETURN(p.team, b.opt_string("team"));
  CW_ASSIGN_OR_RETURN(auto created, s.auth.create_principal(p, id.actor));
  return ok_json(principal_json(created), 201);
}

Result<http::Response> set_disabled(Services& s, http::Request& req, const Identity& id,
                                    bool disabled) {
  CW_RETURN_IF_ERROR(s.auth.set_principal_disabled(req.params["name"], disabled, id.actor));
  CW_ASSIGN_OR_RETURN(auto p, s.auth.principal(req.params["name"]));
  return ok_json(principal_json(p));
}

Result<http::Response> disable_principal(Services& s, http::Request& req, const Identity& id) {
  return set_disabled(s, req, id, true);
}

Result<http::Response> enable_principal(Services& s, http::Request& req, const Identity& id) {
  return set_disabled(s, req, id, false);
}

Result<http::Response> map_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"certificate_pem", "fingerprint"}));
  CW_ASSIGN_OR_RETURN(auto pem, b.opt_string("certificate_pem"));
  CW_ASSIGN_OR_RETURN(auto fp, b.opt_string("fingerprint"));
  if (pem.has_value() == fp.has_value()) {
    return fail(ErrorCode::kInvalidArgument,
                "give exactly one of 'certificate_pem' and 'fingerprint'");
  }
  std::string fingerprint;
  if (pem) {
    CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(*pem)));
    fingerprint = certs.front().info().sha256_hex;
  } else {
    CW_ASSIGN_OR_RETURN(fingerprint, auth::certificate_fingerprint(*fp));
  }
  CW_RETURN_IF_ERROR(s.auth.map_certificate(fingerprint, req.params["name"], id.actor));
  return ok_json({{"principal", req.params["name"]}, {"fingerprint", fingerprint}}, 201);
}

Result<http::Response> list_mappings(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto mappings, s.auth.certificate_mappings(req.params["name"]));
  return ok_json(mappings_json(req.params["name"], mappings));
}

Result<http::Response> unmap_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(
      s.auth.unmap_certificate(req.params["fingerprint"], req.params["name"], id.actor));
  return http::Response{.status = 204, .headers = {}, .body = {}};
}

Result<http::Response> list_tokens(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"principal"}));
  CW_ASSIGN_OR_RETURN(auto principal, query_text(req, "principal"));
  CW_ASSIGN_OR_RETURN(auto tokens, s.auth.list_tokens(principal));
  json items = json::array();
  for (const auto& t : tokens) items.push_back(token_json(t));
  return ok_json({{"items", items}});
}

Result<http::Response> create_token(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(
      auto b, Body::parse(req, {"principal", "role", "team", "description", "ttl", "no_expiry"}));
  auth::TokenRequest t;
  CW_ASSIGN_OR_RETURN(t.principal, b.string("principal"));
  CW_ASSIGN_OR_RETURN(auto role, b.opt_string("role"));
  if (role) {
    CW_ASSIGN_OR_RETURN(t.role, auth::parse_role(*role));
  }
  CW_ASSIGN_OR_RETURN(t.team, b.opt_string("team"));
  CW_ASSIGN_OR_RETURN(auto desc, b.opt_string("description"));
  t.description = desc.value_or("");
  CW_ASSIGN_OR_RETURN(auto ttl, b.opt_string("ttl"));
  if (ttl) {
    CW_ASSIGN_OR_RETURN(t.ttl, parse_duration(*ttl));
  }
  CW_ASSIGN_OR_RETURN(auto no_expiry, b.opt_bool("no_expiry"));
  t.no_expiry = no_expiry.value_or(false);
  CW_ASSIGN_OR_RETURN(auto created, s.auth.create_token(t, id.actor));
  json j = token_json(created.info);
  j["token"] = created.secret;  // shown once
  http::Response resp = ok_json(j, 201);
  resp.set_header("Cache-Control", "no-store");
  return resp;
}

Result<http::Response> revoke_token(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(s.auth.revoke_token(req.params["id"], id.actor));
  return http::Response{.status = 204, .headers = {}, .body = {}};
}

}  // namespace

void add_identity_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/teams", Permission::kReadPrincipals, BodyKind::kNone,
              list_teams);
  add_guarded(r, s, "POST", "/api/v1/teams", Permission::kManagePrincipals, BodyKind::kJson,
              create_team);
  add_guarded(r, s, "GET", "/api/v1/principals", Permission::kReadPrincipals, BodyKind::kNone,
              list_principals);
  add_guarded(r, s, "POST", "/api/v1/principals", Permission::kManagePrincipals, BodyKind::kJson,
              create_principal);
  add_guarded(r, s, "POST", "/api/v1/principals/{name}/disable", Permission::kManagePrincipals,
              BodyKind::kNone, disable_principal);
  add_guarded(r, s, "POST", "/api/v1/principals/{name}/enable", Permission::kManagePrincipals,
              BodyKind::kNone, enable_principal);
  add_guarded(r, s, "GET", "/api/v1/principals/{name}/certificates", Permission::kReadPrincipals,
              BodyKind::kNone, list_mappings);
  add_guarded(r, s, "POST", "/api/v1/principals/{name}/certificates", Permission::kManagePrincipals,
              BodyKind::kJson, map_certificate);
  add_guarded(r, s, "DELETE", "/api/v1/principals/{name}/certificates/{fingerprint}",
              Permission::kManagePrincipals, BodyKind::kNone, unmap_certificate);
  add_guarded(r, s, "GET", "/api/v1/tokens", Permission::kReadPrincipals, BodyKind::kNone,
              list_tokens);
  add_guarded(r, s, "POST", "/api/v1/tokens", Permission::kManagePrincipals, BodyKind::kJson,
              create_token);
  add_guarded(r, s, "DELETE", "/api/v1/tokens/{id}", Permission::kManagePrincipals, BodyKind::kNone,
              revoke_token);
}

}  // namespace certward::api
