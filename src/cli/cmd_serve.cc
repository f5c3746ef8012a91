// serve: the certward service. On first start it prepares the embedded default (data
// directory, SQLite, master key, development root and issuing CA), prints a one-time admin
// token, and serves what server::builtin_components() registers: HTTPS (REST API) and plain
// HTTP (health, CA certificates). The assembly is src/server; this is the command around it.

#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "cli/commands.h"
#include "common/log.h"
#include "server/server.h"

namespace certward::cli {
namespace {

void print_started(const Config& cfg, const server::Started& started) {
  const std::string& base = started.listening.https_base;
  std::printf(
      "certward is serving\n  dashboard:  %s/\n"
      "  REST API:   %s/api/v1   (OpenAPI: %s/api/v1/openapi.json)\n"
      "  plain HTTP: http://%s:%u/healthz   CA certificates: /ca/<authority>.crt\n"
      "  trust:      certward -d %s ca export root > root.pem; curl --cacert root.pem %s/healthz\n",
      base.c_str(), base.c_str(), base.c_str(), started.listening.http_address.c_str(),
      unsigned(started.listening.http_port), cfg.data_dir.c_str(), base.c_str());
  if (started.admin_token) {
    std::printf(
        "\nAdmin token (shown once, store it now):\n  %s\n"
        "  curl --cacert root.pem -H 'Authorization: Bearer <token>' %s/api/v1/whoami\n",
        started.admin_token->c_str(), base.c_str());
  }
  std::fflush(stdout);
}

Status serve(Context& c, const sigset_t& signals) {
  const Config& cfg = c.config();
  log::set_level(cfg.log_level);
  CW_ASSIGN_OR_RETURN(auto created, initialise_authorities(c, InitOptions{}));
  for (const auto& a : created) {
    log::info("authority_created", {{"name", a.name}, {"kind", ca::authority_kind_name(a.kind)}});
  }
  server::Domain domain{cfg,
                        c.clock(),
                        [&c] { return c.db().ping(); },
                        c.audit(),
                        c.inventory(),
                        c.profiles(),
                        c.authorities(),
                        c.enrollment(),
                        c.revocation(),
                        c.crls(),
                        c.auth(),
                        c.eab(),
                        c.db(),
                        c.jobs(),
                        c.sightings(),
                        c.discovery(),
                        c.managed(),
                        c.reconciler(),
                        c.campaigns(),
                        &c.policy(),
                        &c.alerts(),
                        &c.approvals(),
                        &c.credentials(),
                        &c.protocol_ra(),
                        &c.ssh(),
                        &c.issuers()};
  return server::serve(domain, server::builtin_components(), signals,
                       [&cfg](const server::Started& started) { print_started(cfg, started); });
}

}  // namespace

void add_serve_command(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "serve", "run the certward service (HTTPS REST API and plain-HTTP endpoints)");
  cmd->callback([&g] {
    // Block the shutdown signals in every thread before any is started; the main thread
    // alone takes them, with sigwait, and drains the server.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);  // check the serving certificate now
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    run(g, Init::kCreate, [&](Context& c) { return serve(c, signals); });
  });
}

}  // namespace certward::cli
