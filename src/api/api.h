#pragma once
// REST API v1 and the operational endpoints (/healthz, /readyz, /metrics), as routes for the
// http::Server. Handlers are thin adapters: authenticate, authorise, decode, call the service
// (the RA for issuance), encode. Errors are RFC 7807 problem+json (http/problem.h); the
// problem's "code" member carries the stable ErrorCode name for clients to branch on.

#include <functional>
#include <memory>

#include "api/metrics.h"
#include "api/rate_limit.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/eab.h"
#include "ca/approval.h"
#include "ca/authority.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/revocation.h"
#include "discovery/service.h"
#include "http/http.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "lifecycle/campaign_service.h"
#include "lifecycle/service.h"
#include "policy/service.h"

namespace certward::lifecycle::alerts {
class AlertService;
}  // namespace certward::lifecycle::alerts

namespace certward::ca {
class CrlPublisher;
}  // namespace certward::ca

namespace certward::api {

// Everything the handlers use; owned by the caller and outliving the router.
struct Services {
  const Clock& clock;
  // /readyz: whether the service can answer now (the server wires the database's ping).
  std::function<Status()> ready;
  const audit::AuditLog& audit;
  const inventory::Inventory& inventory;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  ca::RevocationService& revocation;
  auth::AuthService& auth;
  auth::EabKeys& eab;
  const inventory::Sightings& sightings;
  discovery::Discovery& discovery;
  const lifecycle::ManagedService& managed;
  const lifecycle::CampaignService& campaigns;
  Metrics& metrics;
  RateLimiter& limiter;
  // Compliance rules; null: the policy routes answer 503.
  policy::PolicyService* policy = nullptr;
  const lifecycle::alerts::AlertService* alerts = nullptr;  // /api/v1/alerts, silences
  // Requests held for approval (/api/v1/approvals); null: profiles that require approval are
  // refused by the RA, and the approval routes answer 503.
  ca::ApprovalService* approvals = nullptr;
  // Each authority's latest CRL, shown with the authority; null: no CRL status is given.
  ca::CrlPublisher* crls = nullptr;
};

// Routes of the HTTPS listener: /api/v1/..., /healthz, /readyz, /metrics. Patterns are
// absolute: the server mounts this router at the root.
std::shared_ptr<http::Router> make_api_router(Services& services);
// Routes of the plain-HTTP listener: /healthz and CA certificates (/ca/<name>.crt). CRL and
// OCSP are components of their own (src/server), mounted beside these.
std::shared_ptr<http::Router> make_public_router(Services& services);

// The OpenAPI 3.1 document served at /api/v1/openapi.json.
const std::string& openapi_document();

}  // namespace certward::api
