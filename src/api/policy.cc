// Compliance policies (/api/v1/policy/...): the rules (administrators change them; operators
// and auditors read them) and the violations they find (a requester sees its team's only). The
// rules and their checks are policy::PolicyService's; these only translate.

#include "api/body.h"
#include "api/rest_impl.h"
#include "policy/service.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

// Every member a rule of some kind may have: the service refuses those of another kind.
#define CW_RULE_FIELDS                                                                        \
  "id", "kind", "description", "severity", "enabled", "teams", "tags", "source", "min_bits", \
      "algorithms", "curves", "max_days", "issuers", "allowed", "patterns", "match", "ekus"

Result<policy::PolicyService*> service(Services& s) {
  if (!s.policy) return fail(ErrorCode::kUnavailable, "policies are not available here");
  return s.policy;
}

Result<http::Response> list_rules(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  CW_ASSIGN_OR_RETURN(auto rules, p->list());
  json items = json::array();
  for (const auto& r : rules) items.push_back(policy::rule_json(r));
  return ok_json({{"items", std::move(items)}});
}

Result<http::Response> get_rule(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  CW_ASSIGN_OR_RETURN(auto rule, p->get(req.params["id"]));
  return ok_json(policy::rule_json(rule));
}

Result<http::Response> create_rule(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {CW_RULE_FIELDS}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  CW_ASSIGN_OR_RETURN(auto rule, p->create(b.json(), id.actor));
  auto resp = ok_json(policy::rule_json(rule), 201);
  resp.set_header("Location", "/api/v1/policy/rules/" + rule.id);
  return resp;
}

Result<http::Response> replace_rule(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {CW_RULE_FIELDS}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  CW_ASSIGN_OR_RETURN(auto rule, p->replace(req.params["id"], b.json(), id.actor));
  return ok_json(policy::rule_json(rule));
}

Result<http::Response> delete_rule(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  CW_RETURN_IF_ERROR(p->remove(req.params["id"], id.actor));
  return ok_json({{"id", req.params["id"]}, {"deleted", true}});
}

Result<http::Response> list_violations(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"rule", "severity", "team", "limit", "cursor"}));
  CW_ASSIGN_OR_RETURN(auto* p, service(s));
  policy::ViolationFilter f;
  CW_ASSIGN_OR_RETURN(f.rule, query_text(req, "rule"));
  CW_ASSIGN_OR_RETURN(auto severity, query_text(req, "severity"));
  if (severity) {
    CW_ASSIGN_OR_RETURN(f.min_severity, policy::parse_severity(*severity));
  }
  CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
  if (team_scoped(id)) {
    // A requester sees its own team's violations, whatever it asks for.
    if (!id.team || (f.team && f.team != id.team)) {
      return fail(ErrorCode::kUnauthorized, "a requester sees only its own team's violations");
    }
    f.team = id.team;
  }
  CW_ASSIGN_OR_RETURN(const int limit, query_limit(req, 100));
  CW_ASSIGN_OR_RETURN(auto cursor, query_text(req, "cursor"));
  CW_ASSIGN_OR_RETURN(auto page, p->violations(f, limit, cursor));
  json items = json::array();
  for (const auto& v : page.items) items.push_back(policy::violation_json(v));
  return ok_json({{"items", std::move(items)},
                  {"scanned", page.scanned},
                  {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}});
}

#undef CW_RULE_FIELDS

}  // namespace

void add_policy_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/policy/rules", Permission::kReadPolicy, BodyKind::kNone,
              list_rules);
  add_guarded(r, s, "POST", "/api/v1/policy/rules", Permission::kManagePolicy, BodyKind::kJson,
              create_rule);
  add_guarded(r, s, "GET", "/api/v1/policy/rules/{id}", Permission::kReadPolicy, BodyKind::kNone,
              get_rule);
  add_guarded(r, s, "PUT", "/api/v1/policy/rules/{id}", Permission::kManagePolicy,
              BodyKind::kJson, replace_rule);
  add_guarded(r, s, "DELETE", "/api/v1/policy/rules/{id}", Permission::kManagePolicy,
              BodyKind::kNone, delete_rule);
  add_guarded(r, s, "GET", "/api/v1/policy/violations", Permission::kReadInventory,
              BodyKind::kNone, list_violations);
}

}  // namespace certward::api
