// Replacement campaigns (/api/v1/campaigns/...): plan (or a dry run), list, show, start, pause,
// cancel, finish (revoke the old certificates) and the items with their progress. The rules
// (who may, what is refused, the waves) are lifecycle::CampaignService's; these only translate.

#include "api/body.h"
#include "api/rest_impl.h"
#include "lifecycle/campaign_service.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

// The most items a dry run lists in its answer (its counts cover all of them).
constexpr std::size_t kDryRunItems = 1000;

Result<http::Response> with_counts(Services& s, const lifecycle::Campaign& c, int status = 200) {
  CW_ASSIGN_OR_RETURN(auto counts, s.campaigns.counts(c.id));
  return ok_json(lifecycle::campaign_json(c, counts), status);
}

Result<http::Response> create_campaign(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "selector", "target", "wave_size",
                                                "max_failures", "item_timeout", "dry_run"}));
  CW_ASSIGN_OR_RETURN(auto dry_run, b.opt_bool("dry_run"));
  json body = b.json();
  body.erase("dry_run");
  CW_ASSIGN_OR_RETURN(auto request, lifecycle::parse_campaign_request(body));
  if (dry_run.value_or(false)) {
    CW_ASSIGN_OR_RETURN(auto plan, s.campaigns.plan(std::move(request), id.requester()));
    return ok_json(lifecycle::campaign_plan_json(plan, kDryRunItems));
  }
  CW_ASSIGN_OR_RETURN(auto c, s.campaigns.create(std::move(request), id.requester()));
  CW_ASSIGN_OR_RETURN(auto resp, with_counts(s, c, 201));
  resp.set_header("Location", "/api/v1/campaigns/" + c.id);
  return resp;
}

Result<http::Response> list_campaigns(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit", "before"}));
  CW_ASSIGN_OR_RETURN(const int limit, query_limit(req, 50));
  CW_ASSIGN_OR_RETURN(auto before, query_text(req, "before"));
  CW_ASSIGN_OR_RETURN(auto list, s.campaigns.list(limit, before, id.requester()));
  json items = json::array();
  for (const auto& c : list) {
    CW_ASSIGN_OR_RETURN(auto counts, s.campaigns.counts(c.id));
    items.push_back(lifecycle::campaign_json(c, counts));
  }
  return ok_json(
      {{"items", std::move(items)},
       {"next_before", next_before(list.size(), limit, list.empty() ? "" : list.back().id)}});
}

Result<http::Response> get_campaign(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto c, s.campaigns.get(req.params["id"], id.requester()));
  return with_counts(s, c);
}

Result<http::Response> campaign_items(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"state", "limit", "cursor"}));
  lifecycle::ItemFilter f;
  CW_ASSIGN_OR_RETURN(auto state, query_text(req, "state"));
  if (state) {
    CW_ASSIGN_OR_RETURN(f.state, lifecycle::parse_item_state(*state));
  }
  CW_ASSIGN_OR_RETURN(f.limit, query_limit(req, 100));
  CW_ASSIGN_OR_RETURN(auto cursor, query_int(req, "cursor"));
  if (cursor && *cursor < 0) return fail(ErrorCode::kInvalidArgument, "bad cursor");
  f.after_seq = cursor.value_or(0);
  CW_ASSIGN_OR_RETURN(auto items, s.campaigns.items(req.params["id"], f, id.requester()));
  json out = json::array();
  for (const auto& i : items) out.push_back(lifecycle::campaign_item_json(i));
  const bool more = items.size() == static_cast<std::size_t>(f.limit);
  return ok_json({{"id", req.params["id"]},
                  {"items", std::move(out)},
                  {"next_cursor", more ? json(std::to_string(items.back().seq)) : json(nullptr)}});
}

// start, pause and cancel take no body.
template <auto Method>
Result<http::Response> change(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  if (!req.body.empty()) {
    CW_RETURN_IF_ERROR(Body::parse(req, {}));
  }
  CW_ASSIGN_OR_RETURN(auto c, (s.campaigns.*Method)(req.params["id"], id.requester()));
  return with_counts(s, c);
}

// Body (optional): {"revoke": true, "reason": "superseded", "force": false}.
Result<http::Response> finish_campaign(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  lifecycle::FinishOptions o;
  if (!req.body.empty()) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"revoke", "reason", "force"}));
    CW_ASSIGN_OR_RETURN(auto revoke, b.opt_bool("revoke"));
    CW_ASSIGN_OR_RETURN(auto force, b.opt_bool("force"));
    CW_ASSIGN_OR_RETURN(auto reason, b.opt_string("reason"));
    o.revoke = revoke.value_or(false);
    o.force = force.value_or(false);
    if (reason) {
      CW_ASSIGN_OR_RETURN(auto r, ca::parse_revocation_reason(*reason));
      o.reason = static_cast<int>(r);
    }
  }
  CW_ASSIGN_OR_RETURN(auto c, s.campaigns.finish(req.params["id"], o, id.requester()));
  return with_counts(s, c, 202);
}

}  // namespace

void add_campaign_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "POST", "/api/v1/campaigns", Permission::kCampaign, BodyKind::kJson,
              create_campaign);
  add_guarded(r, s, "GET", "/api/v1/campaigns", Permission::kCampaign, BodyKind::kNone,
              list_campaigns);
  add_guarded(r, s, "GET", "/api/v1/campaigns/{id}", Permission::kCampaign, BodyKind::kNone,
              get_campaign);
  add_guarded(r, s, "GET", "/api/v1/campaigns/{id}/items", Permission::kCampaign, BodyKind::kNone,
              campaign_items);
  add_guarded(r, s, "POST", "/api/v1/campaigns/{id}/start", Permission::kCampaign, BodyKind::kNone,
              change<&lifecycle::CampaignService::start>);
  add_guarded(r, s, "POST", "/api/v1/campaigns/{id}/pause", Permission::kCampaign, BodyKind::kNone,
              change<&lifecycle::CampaignService::pause>);
  add_guarded(r, s, "POST", "/api/v1/campaigns/{id}/cancel", Permission::kCampaign, BodyKind::kNone,
              change<&lifecycle::CampaignService::cancel>);
  add_guarded(r, s, "POST", "/api/v1/campaigns/{id}/finish", Permission::kCampaign, BodyKind::kNone,
              finish_campaign);
}

}  // namespace certward::api
