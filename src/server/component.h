#pragma once
// The seam every capability of `certward serve` plugs into: the REST API, the public CA
// certificates, and next OCSP, CRL, ACME, EST, SCEP, CMP, the dashboard.
//
// A capability is a Component. It gets the services once, mounts its routes on the routers of
// the HTTPS and/or the plain-HTTP listener, and may register background work as jobs.
// Its routes are written in its own folder (src/protocols/<name>/, src/api/) as an
// http::Router relative to where they are served, and the component mounts that router under
// its prefix; the front-end decodes, authenticates, calls the domain (ca::Enrollment for
// issuance) and encodes, and holds no rule of its own. Adding a capability is one line in
// builtin_components() (server/components.cc), before the scheduler's; the server, the router
// and the other front-ends do not change.

#include <functional>
#include <memory>
#include <vector>

#include "api/metrics.h"
#include "api/rate_limit.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/eab.h"
#include "auth/enrollment_credentials.h"
#include "ca/authority.h"
#include "ca/crl_publisher.h"
#include "ca/enrollment.h"
#include "ca/profile.h"
#include "ca/protocol_ra.h"
#include "ca/revocation.h"
#include "common/clock.h"
#include "common/config.h"
#include "discovery/service.h"
#include "http/http.h"
#include "inventory/inventory.h"
#include "inventory/sightings.h"
#include "issuers/registry.h"
#include "lifecycle/campaign_service.h"
#include "lifecycle/jobs.h"
#include "lifecycle/reconciler.h"
#include "lifecycle/scheduler.h"
#include "lifecycle/service.h"
#include "policy/service.h"
#include "ssh/service.h"

namespace certward::lifecycle::alerts {
class AlertService;
}  // namespace certward::lifecycle::alerts

namespace certward::server {

// The domain the server runs on, built by the caller (the CLI's context) and outliving it.
struct Domain {
  const Config& config;
  const Clock& clock;
  std::function<Status()> ready;  // /readyz: whether the database answers now
  const audit::AuditLog& audit;
  const inventory::Inventory& inventory;
  const ca::ProfileSet& profiles;
  ca::AuthorityService& authorities;
  ca::Enrollment& ra;
  ca::RevocationService& revocation;
  ca::CrlPublisher& crls;  // publishes CRLs; the CRL component serves them
  auth::AuthService& auth;
  auth::EabKeys& eab;                        // ACME external account binding keys
  store::Database& db;                       // for the front-ends with tables of their own (ACME)
  const lifecycle::JobQueue& jobs;           // durable background work, shared by the replicas
  const inventory::Sightings& sightings;     // where certificates and SSH keys were seen
  discovery::Discovery& discovery;           // scans, recurring scans, agents'reports
  const lifecycle::ManagedService& managed;  // managed certificates' desired state
  const lifecycle::Reconciler& reconciler;   // their issuance, renewal and deployment
  const lifecycle::CampaignService& campaigns;  // replacement campaigns
  policy::PolicyService* policy = nullptr;      // compliance rules and violations (may be null)
  // Alerts: expiry evaluation, delivery on channels, silences. Without, none are raised.
  const lifecycle::alerts::AlertService* alerts = nullptr;
  ca::ApprovalService* approvals = nullptr;  // requests held for an approver (may be null)
  // What devices enroll with over EST, SCEP and CMP (may be null: those need none, or serve
  // only certificate-authenticated requests).
  auth::EnrollmentCredentials* credentials = nullptr;
  // The RA certificates SCEP and CMP sign and decrypt with (may be null: neither is served).
  ca::ProtocolRa* protocol_ra = nullptr;
  // The SSH certificate authority (may be null: nothing SSH is served).
  ssh::SshService* ssh = nullptr;
  // Every issuer, upstream CAs included (may be null: no issuer resource, no http-01 answers).
  issuers::IssuerRegistry* issuers = nullptr;
};

// What every component is given: the domain and the server's own shared services, built once
// by the Server and outliving every component.
struct Services {
  Domain& domain;
  api::Metrics& metrics;      // every exchange on both listeners is recorded here
  api::RateLimiter& limiter;  // per-principal token buckets
  // Runs the jobs of domain.jobs this server has handlers for. A component registers its
  // background work here, in its constructor or mount(), before the scheduler starts:
  // scheduler.handle(kind, handler), or handle_recurring(kind, recurrence, handler). The
  // handlers run on the scheduler's thread from its start to its stop (the BackgroundJobs
  // component, last in builtin_components()).
  lifecycle::Scheduler& scheduler;
};

// The routers of the two listeners. Filled by the components before the listeners start;
// immutable afterwards.
struct Routers {
  http::Router& https;  // TLS: the REST API; ACME, EST, SCEP, CMP, the dashboard
  http::Router& http;   // plain HTTP, as relying parties expect: CA certificates; OCSP, CRL
};

class Component {
 public:
  virtual ~Component() = default;
  // Adds the capability's routes. Called once, before any listener starts. Handlers run on
  // the server's worker threads, concurrently: they must be thread-safe.
  virtual void mount(Routers& routers) = 0;
  // Starts background work of the component's own (a cache refresher); periodic or deferred
  // work is better a job registered with Services::scheduler. Called once the listeners are
  // bound and before they accept, so the work runs when the first request arrives. An error
  // stops the start: components started before are stopped, nothing is served.
  virtual Status start() { return ok(); }
  // Ends the background work once the listeners have drained; in the reverse order of start.
  virtual void stop() {}
};

// Makes a component over `services`, which outlive it.
using ComponentFactory = std::function<std::unique_ptr<Component>(Services& services)>;

// The capabilities a server runs, mounted and started in the order they were added.
class Registry {
 public:
  void add(ComponentFactory factory) { factories_.push_back(std::move(factory)); }
  const std::vector<ComponentFactory>& factories() const { return factories_; }

 private:
  std::vector<ComponentFactory> factories_;
};

// Every capability certward serves: the REST API (HTTPS), the public CA certificates
// (plain HTTP), and, last, the job scheduler that runs their background work.
Registry builtin_components();

}  // namespace certward::server
