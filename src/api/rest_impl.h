#pragma once
// Private to the REST API: the guard every route passes, and what the resource files
// (authorities.cc, certificates.cc, audit.cc, identity.cc, operations.cc) share. Each resource
// file adds its own routes; api.cc puts them together in the documented order.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/api.h"
#include "api/guard.h"
#include "auth/auth.h"
#include "ca/enrollment.h"
#include "http/http.h"

namespace certward::api {

// Whether the caller sees and labels only its own team's certificates (requesters, approvers).
bool team_scoped(const auth::Identity& id);

// The certificate the {id} path parameter names, as the caller may see it: a requester's id is
// resolved among its team's certificates only (certificates.cc). Errors: kNotFound.
Result<inventory::CertificateRecord> visible_record(Services& s, const http::Request& req,
                                                    const auth::Identity& id);

// The "next_before" of a newest-first page: the last item's id, or null when the page holds
// fewer than `limit` items (it is the last one).
nlohmann::json next_before(std::size_t shown, int limit, const std::string& last_id);

// The routes of each resource, added in the order the API lists them.
void add_liveness_route(http::Router& router);                             // operations.cc
void add_operation_routes(http::Router& router, Services& services);       // operations.cc
void add_catalog_routes(http::Router& router, Services& services);         // authorities.cc
void add_ca_certificate_routes(http::Router& router, Services& services);  // authorities.cc
void add_certificate_routes(http::Router& router, Services& services);     // certificates.cc
void add_revocation_routes(http::Router& router, Services& services);      // revocation.cc
void add_audit_routes(http::Router& router, Services& services);           // audit.cc
void add_identity_routes(http::Router& router, Services& services);        // identity.cc
void add_eab_routes(http::Router& router, Services& services);             // eab.cc
void add_discovery_routes(http::Router& router, Services& services);       // discovery.cc
void add_managed_routes(http::Router& router, Services& services);         // managed.cc
void add_agent_routes(http::Router& router, Services& services);           // agent_deployments.cc
void add_campaign_routes(http::Router& router, Services& services);        // campaigns.cc
void add_policy_routes(http::Router& router, Services& services);          // policy.cc
void add_alert_routes(http::Router& router, Services& services);           // alerts.cc
void add_approval_routes(http::Router& router, Services& services);        // approvals.cc
void add_report_routes(http::Router& router, Services& services);          // reports.cc
void add_overview_routes(http::Router& router, Services& services);        // overview.cc

}  // namespace certward::api
