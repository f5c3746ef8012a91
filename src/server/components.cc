// The capabilities certward serves, one component each. A new one (OCSP, CRL, ACME, ...) adds
// its component here and a line to builtin_components(), before the scheduler's; its routes
// stay in its own folder, its background work is jobs it registers with Services::scheduler.

#include <algorithm>

#include "api/api.h"
#include "api/enrollment.h"
#include "api/issuers.h"
#include "ca/ocsp_responder.h"
#include "common/log.h"
#include "lifecycle/alerts/evaluator.h"
#include "protocols/acme/acme.h"
#include "protocols/cmp/cmp.h"
#include "protocols/crl/crl.h"
#include "protocols/est/est.h"
#include "protocols/ocsp/ocsp.h"
#include "protocols/scep/scep.h"
#include "protocols/ssh/ssh.h"
#include "server/component.h"
#include "server/dashboard.h"

namespace certward::server {
namespace {

api::Services api_services(Services& s) {
  const Domain& d = s.domain;
  return api::Services{d.clock,       d.ready,     d.audit,      d.inventory, d.profiles,
                       d.authorities, d.ra,        d.revocation, d.auth,      d.eab,
                       d.sightings,   d.discovery, d.managed,    d.campaigns, s.metrics,
                       s.limiter,     d.policy,    d.alerts,     d.approvals, &d.crls};
}

// REST API v1 with /healthz, /readyz and /metrics, on the HTTPS listener.
class RestApi final : public Component {
 public:
  explicit RestApi(Services& s) : services_(api_services(s)) {}
  void mount(Routers& routers) override {
    routers.https.mount("", *api::make_api_router(services_));
  }

 private:
  api::Services services_;  // the handlers' services: lives as long as the routes
};

// /healthz and the authorities' certificates (/ca/<name>.crt, .pem), on plain HTTP.
class PublicCaCertificates final : public Component {
 public:
  explicit PublicCaCertificates(Services& s) : services_(api_services(s)) {}
  void mount(Routers& routers) override {
    routers.http.mount("", *api::make_public_router(services_));
  }

 private:
  api::Services services_;
};

// Revocation status on plain HTTP: the CRLs (/crl) and the OCSP responder (/ocsp). Registers
// CRL publication as recurring work, and tells both of every revocation made through this
// process: CRLs are published and OCSP answers signed again within seconds (other replicas'
// revocations within revocation.refresh_interval).
class RevocationStatus final : public Component {
 public:
  explicit RevocationStatus(Services& s)
      : services_(s),
        api_(api_services(s)),
        responder_(s.domain.clock, s.domain.authorities, s.domain.ra, s.domain.inventory,
                   s.domain.config.revocation) {}

  void mount(Routers& routers) override {
    const Domain& d = services_.domain;
    routers.http.mount("/crl", *protocols::crl::make_router(d.crls, d.clock));
    routers.http.mount("/ocsp", *protocols::ocsp::make_router(responder_, d.clock));
    routers.https.mount("", *protocols::ocsp::make_status_router(responder_, api_));
  }

  Status start() override {
    Domain& d = services_.domain;
    ca::CrlPublisher& crls = d.crls;
    // Often enough that a due CRL is late by little; each run only reads when nothing is due.
    const lifecycle::Recurrence every{std::min<std::chrono::seconds>(
        std::chrono::seconds(60), d.config.revocation.refresh_interval)};
    CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
        std::string(ca::CrlPublisher::kJobKind), every,
        [&crls](const lifecycle::Job&) { return crls.publish_all(); }));
    ca::RevocationService& revocation = d.revocation;
    CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
        std::string(ca::RevocationService::kScheduledJobKind), every,
        [&revocation](const lifecycle::Job&) -> Status {
          CW_ASSIGN_OR_RETURN(auto n, revocation.revoke_due());
          if (n > 0) log::info("scheduled_revocations_done", {{"count", n}});
          return ok();
        }));
    CW_RETURN_IF_ERROR(responder_.start());
    lifecycle::Scheduler& scheduler = services_.scheduler;
    d.revocation.set_observer([this, &scheduler](const std::string& authority) {
      if (Status s = scheduler.run_now(ca::CrlPublisher::kJobKind); !s) {
        log::warn("crl_publish_not_scheduled", {{"error", s.error().message}});
      }
      responder_.revoked(authority);
    });
    return ok();
  }

  void stop() override {
    services_.domain.revocation.set_observer(nullptr);
    responder_.stop();
  }

 private:
  Services& services_;
  api::Services api_;  // the status route's services: lives as long as the route
  ca::OcspResponder responder_;
};

protocols::acme::ValidatorOptions validator_options(const AcmeSettings& a) {
  protocols::acme::ValidatorOptions o;
  o.http_port = a.http01_port;
  o.https_port = a.https_port;
  o.tls_alpn_port = a.tls_alpn01_port;
  if (!a.resolver.empty()) o.resolver = a.resolver;
  o.timeout = a.validation_timeout;
  o.threads = a.validation_threads;
  return o;
}

// The ACME server (RFC 8555) on the HTTPS listener: the default directory at /acme, the
// others (the configuration file's and those made through the API) at /acme/<name>, and the
// directories' REST resource. Challenges are validated asynchronously by its validator.
class AcmeServer final : public Component {
 public:
  explicit AcmeServer(Services& s)
      : settings_(s.domain.config.acme),
        limiter_(s.limiter),
        api_(api_services(s)),
        nonces_(s.domain.clock, settings_.nonce_lifetime, settings_.max_nonces),
        validator_(validator_options(settings_)),
        service_(protocols::acme::Services{s.domain.clock, s.domain.db, settings_,
                                           s.domain.profiles, s.domain.authorities, s.domain.ra,
                                           s.domain.revocation, s.domain.inventory, s.domain.eab,
                                           s.domain.auth, s.domain.audit},
                 validator_),
        directories_(s.domain.clock, s.domain.db, settings_, s.domain.audit,
                     [&d = s.domain](const AcmeDirectorySettings& dir) {
                       return protocols::acme::check_usable(dir, d.profiles, d.authorities);
                     }) {}

  void mount(Routers& routers) override {
    if (!settings_.enabled) return;
    using protocols::acme::make_router;
    routers.https.mount("/acme", *make_router(directories_, false, service_, nonces_, limiter_));
    routers.https.mount("/acme/{directory}",
                        *make_router(directories_, true, service_, nonces_, limiter_));
    routers.https.mount("", *protocols::acme::make_admin_router(api_, directories_));
  }

  Status start() override {
    if (!settings_.enabled) return ok();
    CW_RETURN_IF_ERROR(protocols::acme::Validator::check_options(validator_options(settings_)));
    return directories_.start();
  }

  void stop() override { validator_.stop(); }

 private:
  const AcmeSettings& settings_;
  api::RateLimiter& limiter_;
  api::Services api_;  // the directories' REST resource: lives as long as its routes
  protocols::acme::NonceStore nonces_;
  protocols::acme::Validator validator_;
  protocols::acme::Service service_;
  protocols::acme::Directories directories_;
};

// Device enrollment: EST (RFC 7030) on the HTTPS listener at /.well-known/est and
// /.well-known/est/<label>, SCEP (RFC 8894) at /scep and CMP (RFC 9483) at /.well-known/cmp
// on both listeners, and the enrollment credentials' REST resource devices are provisioned
// with.
class DeviceEnrollment final : public Component {
 public:
  explicit DeviceEnrollment(Services& s)
      : domain_(s.domain),
        api_(api_services(s)),
        est_(protocols::est::Deps{
            s.domain.clock, s.domain.config.est, s.domain.config.ca, s.domain.profiles,
            s.domain.authorities, s.domain.ra, s.domain.inventory, s.domain.audit, s.domain.auth,
            s.domain.credentials, s.domain.approvals, s.domain.db, s.domain.protocol_ra}) {
    if (s.domain.protocol_ra && s.domain.config.scep.enabled) {
      scep_.emplace(protocols::scep::Deps{s.domain.clock, s.domain.config.scep, s.domain.config.ca,
                                          s.domain.profiles, s.domain.authorities, s.domain.ra,
                                          *s.domain.protocol_ra, s.domain.crls, s.domain.inventory,
                                          s.domain.audit, s.domain.auth, s.domain.credentials,
                                          s.domain.db, s.domain.approvals});
    }
    if (s.domain.protocol_ra && s.domain.config.cmp.enabled) {
      cmp_.emplace(protocols::cmp::Deps{s.domain.clock, s.domain.config.cmp, s.domain.config.ca,
                                        s.domain.profiles, s.domain.authorities, s.domain.ra,
                                        *s.domain.protocol_ra, s.domain.revocation,
                                        s.domain.inventory, s.domain.audit, s.domain.auth,
                                        s.domain.credentials, s.domain.db, s.domain.approvals});
    }
  }

  void mount(Routers& routers) override {
    if (domain_.credentials) {
      routers.https.mount("",
                          *api::make_enrollment_router(api_, *domain_.credentials, domain_.config));
    }
    if (domain_.config.est.enabled) {
      routers.https.mount("/.well-known/est", *protocols::est::make_router(est_, false));
      routers.https.mount("/.well-known/est", *protocols::est::make_router(est_, true));
    }
    if (scep_) {
      // RFC 8894 4.1: SCEP protects its own messages, and devices reach it over plain HTTP.
      routers.http.mount("/scep", *protocols::scep::make_router(*scep_));
      routers.https.mount("/scep", *protocols::scep::make_router(*scep_));
    }
    if (cmp_) {
      // RFC 9483 6.1: CMP over HTTP, protected by its own messages.
      routers.http.mount("/.well-known/cmp", *protocols::cmp::make_router(*cmp_));
      routers.https.mount("/.well-known/cmp", *protocols::cmp::make_router(*cmp_));
    }
  }

  Status start() override {
    if (domain_.config.est.enabled) CW_RETURN_IF_ERROR(est_.start());
    if (scep_) CW_RETURN_IF_ERROR(scep_->start());
    if (cmp_) CW_RETURN_IF_ERROR(cmp_->start());
    return ok();
  }

 private:
  Domain& domain_;
  api::Services api_;  // the credentials' REST resource: lives as long as its routes
  protocols::est::Service est_;
  std::optional<protocols::scep::Service> scep_;
  std::optional<protocols::cmp::Service> cmp_;
};

// Discovery's scans run as jobs on a scheduler of their own: a scan may take minutes (a large
// range, slow peers, their timeouts), and must neither hold up the CRLs and renewals of the
// shared scheduler nor lose its lease half-way. Recurring scans are started by a recurring job
// on the shared scheduler, which only enqueues them.
class DiscoveryScans final : public Component {
 public:
  explicit DiscoveryScans(Services& s)
      : services_(s),
        scans_(s.domain.clock, s.domain.jobs,
               lifecycle::SchedulerOptions{.owner = lifecycle::make_owner_id(),
                                           .poll_interval = std::chrono::milliseconds(1000),
                                           .batch = 1,
                                           .lease = std::chrono::hours(2),
                                           .retry_base = std::chrono::seconds(60),
                                           .retry_max = std::chrono::seconds(3600),
                                           .recurring_max_attempts = 3}) {}

  void mount(Routers&) override {}

  Status start() override {
    discovery::Discovery& d = services_.domain.discovery;
    CW_RETURN_IF_ERROR(scans_.handle(std::string(discovery::Discovery::kScanJob),
                                     [&d](const lifecycle::Job& job) -> Status {
                                       return d.run(job.payload.value("scan", ""));
                                     }));
    auto start_due = [&d, this](const lifecycle::Job&) -> Status {
      CW_RETURN_IF_ERROR(d.run_due_schedules());
      scans_.wake();
      return ok();
    };
    CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
        std::string(discovery::Discovery::kSchedulesJob),
        lifecycle::Recurrence{.interval = std::chrono::seconds(60),
                              .first = lifecycle::Recurrence::First::kCatchUp},
        std::move(start_due)));
    return scans_.start();
  }

  void stop() override { scans_.stop(); }

 private:
  Services& services_;
  lifecycle::Scheduler scans_;
};

// Managed certificates: the configuration's [[managed]] declarations are synced at the start,
// and the reconciler runs on schedulers of its own ([lifecycle] concurrency of them, each
// reconciling the `batch` it leased side by side): an issuance and its deployments (a reload,
// a handshake) may take seconds, and must hold up neither the CRLs of the shared scheduler nor
// each other. The shared scheduler runs the sweep, which makes sure every managed certificate
// has its reconciliation scheduled, and the replacement campaigns' waves and finishing.
class ManagedCertificates final : public Component {
 public:
  static constexpr std::string_view kSweepJob = "managed.sweep";
  static constexpr int kMaxWorkers = 64;  // reconciliations side by side per scheduler

  explicit ManagedCertificates(Services& s) : services_(s) {
    const LifecycleSettings& l = s.domain.config.lifecycle;
    for (int i = 0; i < l.concurrency; ++i) {
      reconcilers_.push_back(std::make_unique<lifecycle::Scheduler>(
          s.domain.clock, s.domain.jobs,
          lifecycle::SchedulerOptions{
              .owner = lifecycle::make_owner_id(),
              .poll_interval = std::chrono::milliseconds(l.poll_interval_ms),
              .batch = l.batch,
              // A poll's managed certificates are reconciled side by side, so that their
              // issuances share the RA's commits and their short writes the reconciler's;
              // bounded, as `batch` may be large.
              .workers = std::min(l.batch, kMaxWorkers),
              .lease = l.lease,
              .retry_base = l.retry_base,
              .retry_max = l.retry_max,
              .recurring_max_attempts = 3}));
    }
  }

  void mount(Routers&) override {}

  Status start() override {
    Domain& d = services_.domain;
    CW_RETURN_IF_ERROR(d.managed.sync_declared(d.config.lifecycle.managed));
    const lifecycle::Reconciler& reconciler = d.reconciler;
    for (auto& scheduler : reconcilers_) {
      CW_RETURN_IF_ERROR(scheduler->handle_chained(
          std::string(lifecycle::kReconcileJob),
          [&reconciler](const lifecycle::Job& job) { return reconciler.handle(job); }));
    }
    CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
        std::string(kSweepJob),
        lifecycle::Recurrence{.interval = d.config.lifecycle.sweep_interval,
                              .first = lifecycle::Recurrence::First::kCatchUp},
        [&reconciler](const lifecycle::Job&) -> Status {
          CW_ASSIGN_OR_RETURN(auto n, reconciler.sweep());
          log::debug("managed_sweep", {{"managed", n}});
          return ok();
        }));
    // A campaign's runs are short (they change managed certificates and look at them; the
    // reconcilers above do the issuing and deploying), so they share the shared scheduler.
    const lifecycle::CampaignService& campaigns = d.campaigns;
    CW_RETURN_IF_ERROR(services_.scheduler.handle_chained(
        std::string(lifecycle::kCampaignWaveJob),
        [&campaigns](const lifecycle::Job& job) { return campaigns.run_wave(job); }));
    CW_RETURN_IF_ERROR(services_.scheduler.handle_chained(
        std::string(lifecycle::kCampaignFinishJob),
        [&campaigns](const lifecycle::Job& job) { return campaigns.run_finish(job); }));
    for (auto& scheduler : reconcilers_) CW_RETURN_IF_ERROR(scheduler->start());
    return ok();
  }

  void stop() override {
    for (auto& scheduler : reconcilers_) scheduler->stop();
  }

 private:
  Services& services_;
  std::vector<std::unique_ptr<lifecycle::Scheduler>> reconcilers_;
};

// Alerts: the evaluation over the inventory is recurring work of the shared scheduler (leased,
// so one replica evaluates at a time); the deliveries run on a scheduler of their own, with
// [alerts]' retry backoff, so that a slow SMTP server or webhook holds up neither the CRLs nor
// each other's retries for long.
class Alerts final : public Component {
 public:
  explicit Alerts(Services& s) : services_(s) {
    if (!s.domain.alerts) return;
    const auto& a = s.domain.alerts->settings();
    deliveries_ = std::make_unique<lifecycle::Scheduler>(
        s.domain.clock, s.domain.jobs,
        lifecycle::SchedulerOptions{.owner = lifecycle::make_owner_id(),
                                    .poll_interval = std::chrono::milliseconds(500),
                                    .batch = 8,
                                    .lease = std::chrono::seconds(300),
                                    .retry_base = a.retry_base,
                                    .retry_max = a.retry_max,
                                    .recurring_max_attempts = 3});
  }

  void mount(Routers&) override {}

  Status start() override {
    const lifecycle::alerts::AlertService* alerts = services_.domain.alerts;
    if (!alerts || !alerts->settings().enabled) return ok();
    CW_RETURN_IF_ERROR(
        deliveries_->handle(std::string(lifecycle::alerts::kDeliverJob),
                            [alerts](const lifecycle::Job& job) { return alerts->deliver(job); }));
    lifecycle::Scheduler* deliveries = deliveries_.get();
    CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
        std::string(lifecycle::alerts::kEvaluateJob),
        lifecycle::Recurrence{.interval = alerts->settings().evaluate_interval,
                              .first = lifecycle::Recurrence::First::kCatchUp},
        [alerts, deliveries](const lifecycle::Job&) -> Status {
          CW_ASSIGN_OR_RETURN(auto r, alerts->evaluate());
          if (r.raised > 0) deliveries->wake();
          log::debug("alerts_evaluated",
                     {{"examined", r.examined}, {"reached", r.reached}, {"raised", r.raised}});
          return ok();
        }));
    if (alerts->settings().policy_alerts) {
      CW_RETURN_IF_ERROR(services_.scheduler.handle_recurring(
          std::string(lifecycle::alerts::kPolicyJob),
          lifecycle::Recurrence{.interval = alerts->settings().policy_interval,
                                .first = lifecycle::Recurrence::First::kCatchUp},
          [alerts, deliveries](const lifecycle::Job&) -> Status {
            CW_ASSIGN_OR_RETURN(auto told, alerts->evaluate_policy());
            if (told > 0) deliveries->wake();
            return ok();
          }));
    }
    return deliveries_->start();
  }

  void stop() override {
    if (deliveries_) deliveries_->stop();
  }

 private:
  Services& services_;
  std::unique_ptr<lifecycle::Scheduler> deliveries_;
};

// The job scheduler: runs the background work every component (and the server itself: the
// serving-certificate check) registered with Services::scheduler. It has no routes.
class BackgroundJobs final : public Component {
 public:
  explicit BackgroundJobs(Services& s) : scheduler_(s.scheduler) {}
  void mount(Routers&) override {}
  Status start() override { return scheduler_.start(); }
  void stop() override { scheduler_.stop(); }

 private:
  lifecycle::Scheduler& scheduler_;
};

}  // namespace

// The web dashboard at "/" on the HTTPS listener: files only; it reads and acts through the
// REST API like any other client.
class Dashboard final : public Component {
 public:
  explicit Dashboard(Services& /*services*/) {}
  void mount(Routers& routers) override {
    routers.https.mount("", *make_dashboard_router(dashboard_assets()));
  }
};

// The SSH certificate authority: its REST resources on HTTPS, and each CA's public key and
// KRL on plain HTTP at /ssh for the hosts that trust it.
class SshCertificateAuthority final : public Component {
 public:
  explicit SshCertificateAuthority(Services& s) : api_(api_services(s)), ssh_(s.domain.ssh) {}
  void mount(Routers& routers) override {
    if (!ssh_) return;
    routers.https.mount("", *protocols::ssh::make_api_router(api_, *ssh_));
    routers.http.mount("/ssh", *protocols::ssh::make_public_router(*ssh_));
  }

 private:
  api::Services api_;  // the REST resources' services: live as long as the routes
  certward::ssh::SshService* ssh_;
};

// The issuers: their REST resource with each one's health, and on plain HTTP the http-01
// answers by which upstream ACME CAs validate certward's orders.
class UpstreamIssuers final : public Component {
 public:
  explicit UpstreamIssuers(Services& s) : api_(api_services(s)), registry_(s.domain.issuers) {}
  void mount(Routers& routers) override {
    if (!registry_) return;
    routers.https.mount("", *api::make_issuer_router(api_, *registry_));
    routers.http.mount("", *api::make_http01_router(*registry_));
  }

 private:
  api::Services api_;  // the REST resource's services: live as long as the routes
  issuers::IssuerRegistry* registry_;
};

Registry builtin_components() {
  Registry r;
  r.add([](Services& s) { return std::make_unique<RestApi>(s); });
  r.add([](Services& s) { return std::make_unique<PublicCaCertificates>(s); });
  r.add([](Services& s) { return std::make_unique<RevocationStatus>(s); });
  r.add([](Services& s) { return std::make_unique<AcmeServer>(s); });
  r.add([](Services& s) { return std::make_unique<DeviceEnrollment>(s); });
  r.add([](Services& s) { return std::make_unique<SshCertificateAuthority>(s); });
  r.add([](Services& s) { return std::make_unique<UpstreamIssuers>(s); });
  r.add([](Services& s) { return std::make_unique<DiscoveryScans>(s); });
  r.add([](Services& s) { return std::make_unique<ManagedCertificates>(s); });
  r.add([](Services& s) { return std::make_unique<Alerts>(s); });
  r.add([](Services& s) { return std::make_unique<Dashboard>(s); });
  // Last: it starts once every component above has started, and stops before them, so a
  // handler never runs on a component that is not running.
  r.add([](Services& s) { return std::make_unique<BackgroundJobs>(s); });
  return r;
}

}  // namespace certward::server
