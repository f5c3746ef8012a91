// Deployments to agent targets, as an agent receives them (/api/v1/agent/deployments/...): what
// awaits it, one deployment with its key, and its report of the outcome. Role agent only, and
// an agent's own deployments only (another's id is not found). The rules are
// lifecycle::AgentDeployments'; these only translate.

#include "api/body.h"
#include "api/rest_impl.h"
#include "lifecycle/agent_wire.h"
#include "lifecycle/service.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

lifecycle::AgentCaller agent_of(const Identity& id) { return {id.principal, id.actor}; }

Result<http::Response> list_deployments(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit"}));
  CW_ASSIGN_OR_RETURN(const int limit, query_limit(req, 20, 101));
  CW_ASSIGN_OR_RETURN(auto list, s.managed.agent_deployments().awaiting(agent_of(id), limit));
  json items = json::array();
  for (const auto& d : list) items.push_back(lifecycle::agent_deployment_json(d));
  return ok_json({{"items", std::move(items)}});
}

Result<http::Response> fetch_deployment(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto doc,
                      s.managed.agent_deployments().fetch(req.params["id"], agent_of(id)));
  auto resp = ok_json(doc);
  // It holds a private key: no cache keeps it.
  resp.set_header("Cache-Control", "no-store");
  return resp;
}

Result<http::Response> report_outcome(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b,
                      Body::parse(req, {"deployed", "rolled_back", "steps", "error", "started"}));
  CW_ASSIGN_OR_RETURN(auto outcome, lifecycle::parse_agent_outcome(b.json()));
  CW_ASSIGN_OR_RETURN(auto d, s.managed.agent_deployments().report(req.params["id"], agent_of(id),
                                                                   std::move(outcome)));
  return ok_json(lifecycle::agent_deployment_json(d));
}

}  // namespace

void add_agent_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/agent/deployments", Permission::kReceiveDeployments,
              BodyKind::kNone, list_deployments);
  add_guarded(r, s, "GET", "/api/v1/agent/deployments/{id}", Permission::kReceiveDeployments,
              BodyKind::kNone, fetch_deployment);
  add_guarded(r, s, "POST", "/api/v1/agent/deployments/{id}/outcome",
              Permission::kReceiveDeployments, BodyKind::kJson, report_outcome);
}

}  // namespace certward::api
