// The capabilities certward serves, one component each. A new one (OCSP, CRL, ACME, ...) adds
// its component here and a line to builtin_components(), before the scheduler's; its routes
// stay in its own folder, its background work is jobs it registers with Services::scheduler.

#include "api/api.h"
#include "server/component.h"

namespace certward::server {
namespace {

api::Services api_services(Services& s) {
  const Domain& d = s.domain;
  return api::Services{d.clock, d.ready,      d.audit, d.inventory, d.profiles, d.authorities,
                       d.ra,    d.revocation, d.auth,  s.metrics,   s.limiter};
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

Registry builtin_components() {
  Registry r;
  r.add([](Services& s) { return std::make_unique<RestApi>(s); });
  r.add([](Services& s) { return std::make_unique<PublicCaCertificates>(s); });
  // Last: it starts once every component above has started, and stops before them, so a
  // handler never runs on a component that is not running.
  r.add([](Services& s) { return std::make_unique<BackgroundJobs>(s); });
  return r;
}

}  // namespace certward::server
