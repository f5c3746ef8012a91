// The REST API's two routers, put together from the resource files in the order the API
// lists them (the order also orders a 405's Allow header).

#include "api/api.h"

#include "api/rest_impl.h"

namespace certward::api {

std::shared_ptr<http::Router> make_api_router(Services& services) {
  auto router = std::make_shared<http::Router>();
  add_operation_routes(*router, services);
  add_catalog_routes(*router, services);
  add_certificate_routes(*router, services);
  add_revocation_routes(*router, services);
  add_audit_routes(*router, services);
  add_identity_routes(*router, services);
  add_eab_routes(*router, services);
  add_discovery_routes(*router, services);
  add_managed_routes(*router, services);
  add_agent_routes(*router, services);
  add_campaign_routes(*router, services);
  add_policy_routes(*router, services);
  add_alert_routes(*router, services);
  add_approval_routes(*router, services);
  add_report_routes(*router, services);
  add_overview_routes(*router, services);
  return router;
}

std::shared_ptr<http::Router> make_public_router(Services& services) {
  auto router = std::make_shared<http::Router>();
  add_liveness_route(*router);
  add_ca_certificate_routes(*router, services);
  return router;
}

}  // namespace certward::api
