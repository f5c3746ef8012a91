// The inventory at a glance (/api/v1/inventory/overview): what the dashboard's overview shows,
// from reports::OverviewCache, whose walk of the inventory serves every caller for a minute.

#include "reports/overview.h"

#include <memory>

#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;

nlohmann::json overview_json(const reports::Overview& o) {
  nlohmann::json counts = nlohmann::json::array();
  for (const auto& e : o.counts) {
    counts.push_back({{"dimension", e.dimension}, {"value", e.value}, {"count", e.count}});
  }
  return {{"computed_at", format_time(o.computed_at)},
          {"total", o.total},
          {"status", o.status},
          {"expiring", {{"7d", o.expiring_7d}, {"30d", o.expiring_30d}, {"90d", o.expiring_90d}}},
          {"weeks", o.weeks},
          {"counts", counts},
          {"others", o.others}};
}

}  // namespace

void add_overview_routes(http::Router& r, Services& s) {
  // Counted once at start and again in the background when a minute old, so that no one
  // waits for a walk of the inventory but the first callers after a start.
  auto cache = std::make_shared<reports::OverviewCache>(
      s.clock, s.inventory, std::chrono::seconds(60), reports::OverviewCache::Refresh::kBackground);
  cache->warm();
  add_guarded(
      r, s, "GET", "/api/v1/inventory/overview", Permission::kReadInventory, BodyKind::kNone,
      [cache](Services&, http::Request& req, const Identity& id) -> Result<http::Response> {
        CW_RETURN_IF_ERROR(check_query(req, {"team"}));
        CW_ASSIGN_OR_RETURN(auto team, query_text(req, "team"));
        if (team_scoped(id)) {
          if (team && team != id.team) {
            return fail(ErrorCode::kUnauthorized, "requesters see only their team's certificates");
          }
          team = id.team.value_or("");
        }
        CW_ASSIGN_OR_RETURN(auto overview, cache->get(team));
        return ok_json(overview_json(overview));
      });
}

}  // namespace certward::api
