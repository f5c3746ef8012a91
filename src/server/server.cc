#include "server/server.h"

#include <algorithm>
#include <thread>

#include "common/file.h"
#include "common/log.h"
#include "server/serving_certificate_impl.h"

namespace certward::server {
namespace {

Result<http::ListenerSettings> parse_listen(const std::string& text, std::string name) {
  http::ListenerSettings l;
  l.name = std::move(name);
  std::string host, port;
  if (text.starts_with("[")) {
    const auto close = text.find("]:");
    if (close == std::string::npos)
      return fail(ErrorCode::kMalformed, "bad listen address '" + text + "'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos)
      return fail(ErrorCode::kMalformed, "listen address '" + text + "' needs a port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  int p = -1;
  try {
    std::size_t used = 0;
    p = std::stoi(port, &used);
    if (used != port.size()) p = -1;
  } catch (const std::exception&) {
    p = -1;
  }
  if (host.empty() || p < 0 || p > 65535)
    return fail(ErrorCode::kMalformed, "bad listen address '" + text + "'");
  l.address = host;
  l.port = static_cast<std::uint16_t>(p);
  return l;
}

http::ServerOptions server_options(const ServerSettings& s) {
  http::ServerOptions options;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.io_threads = s.io_threads > 0 ? s.io_threads : cores;
  options.worker_threads = s.worker_threads;
  options.max_body_bytes = static_cast<std::size_t>(s.max_body_bytes);
  options.read_timeout = std::chrono::seconds(s.read_timeout_seconds);
  options.idle_timeout = std::chrono::seconds(s.idle_timeout_seconds);
  options.drain_timeout = std::chrono::seconds(s.shutdown_timeout_seconds);
  options.thread_name = "api";
  return options;
}

lifecycle::SchedulerOptions scheduler_options() {
  lifecycle::SchedulerOptions o;
  o.owner = lifecycle::make_owner_id();
  return o;
}

}  // namespace

// Members are destroyed bottom up: the keeper (it reloads the HTTPS listener) before the
// listeners, the listeners (their handlers use the components and the metrics) before the
// components, the components before the scheduler and the services.
struct Server::Impl {
  explicit Impl(Domain& d)
      : domain(d),
        metrics(d.clock),
        limiter(d.config.server.rate_limit.requests_per_second, d.config.server.rate_limit.burst),
        scheduler(d.clock, d.jobs, scheduler_options()),
        serving_kind(serving_check_kind(d.config)),
        services{d, metrics, limiter, scheduler} {}

  Result<Listening> start();
  void stop_components();

  Domain& domain;
  api::Metrics metrics;
  api::RateLimiter limiter;
  lifecycle::Scheduler scheduler;
  const std::string serving_kind;  // the job that runs keeper->check()
  Services services;
  std::shared_ptr<http::Router> https_router = std::make_shared<http::Router>();
  std::shared_ptr<http::Router> http_router = std::make_shared<http::Router>();
  std::vector<std::unique_ptr<Component>> components;
  std::size_t started = 0;  // components[0, started) are running
  std::unique_ptr<http::Server> https_server;
  std::unique_ptr<http::Server> http_server;
  std::unique_ptr<ServingCertificateKeeper> keeper;
};

Server::Server(Domain& domain, const Registry& registry) : impl_(std::make_unique<Impl>(domain)) {
  // Issuance is counted where it happens, whichever channel asked.
  domain.ra.set_observer(
      [&metrics = impl_->metrics](const ca::IssuedCertificate& issued, ca::Channel) {
        metrics.count_issued(issued.profile, issued.authority);
      });
  // The serving-certificate check is this server's own recurring job. The start has just
  // checked (serving_material()), so the next check is an interval away, whatever an earlier
  // run of this server left pending. The keeper exists from before the scheduler starts.
  const auto registered = impl_->scheduler.handle_recurring(
      impl_->serving_kind,
      {domain.config.server.certificate_check_interval,
       lifecycle::Recurrence::First::kAfterInterval},
      [impl = impl_.get()](const lifecycle::Job&) {
        if (impl->keeper) impl->keeper->check();
        return ok();  // a failed check is logged and retried at the next one, as before
      });
  CW_CHECK(registered.has_value());  // the first kind of a new scheduler
  Routers routers{*impl_->https_router, *impl_->http_router};
  for (const ComponentFactory& make : registry.factories()) {
    impl_->components.push_back(make(impl_->services));
    impl_->components.back()->mount(routers);
  }
}

Server::~Server() {
  stop();
  // The metrics die with the server; nothing enrolls any more.
  impl_->domain.ra.set_observer(nullptr);
}

Result<Listening> Server::start() {
  auto listening = impl_->start();
  if (!listening) stop();
  return listening;
}

namespace {

// The CAs whose certificates the HTTPS listener asks clients for: certward's authorities
// (what EST renews, what client_ca_file usually names) and the EST labels' manufacturers.
Result<std::string> requested_ca_names(Domain& domain) {
  std::string pem;
  CW_ASSIGN_OR_RETURN(auto authorities, domain.authorities.list());
  for (const auto& a : authorities) pem += a.certificate.pem();
  for (const auto& [name, label] : domain.config.est.labels) {
    if (label.manufacturer_ca_file.empty()) continue;
    CW_ASSIGN_OR_RETURN(auto text, read_file(label.manufacturer_ca_file));
    pem += text;
    if (!text.empty() && text.back() != '\n') pem += '\n';
  }
  return pem;
}

}  // namespace

Result<Listening> Server::Impl::start() {
  const ServerSettings& cfg = domain.config.server;
  CW_ASSIGN_OR_RETURN(auto https, parse_listen(cfg.listen, "https"));
  CW_ASSIGN_OR_RETURN(auto plain, parse_listen(cfg.http_listen, "http"));
  CW_ASSIGN_OR_RETURN(auto serving, serving_material(domain, /*force=*/false));
  std::optional<std::string> client_ca_pem;
  if (!cfg.client_ca_file.empty()) {
    CW_ASSIGN_OR_RETURN(client_ca_pem, read_file(cfg.client_ca_file));
  }
  http::TlsSettings client_side;
  client_side.client_ca_pem = client_ca_pem;
  // EST authenticates devices by the certificate they present (a manufacturer's, or the one
  // being renewed), which need not chain to client_ca_file.
  if (domain.config.est.enabled) {
    client_side.request_client_certificate = true;
    CW_ASSIGN_OR_RETURN(client_side.requested_client_ca_names_pem, requested_ca_names(domain));
  }
  https.tls = serving.tls;
  https.tls->client_ca_pem = client_side.client_ca_pem;
  https.tls->request_client_certificate = client_side.request_client_certificate;
  https.tls->requested_client_ca_names_pem = client_side.requested_client_ca_names_pem;

  const http::ServerOptions options = server_options(cfg);
  auto observer = [this](const http::Exchange& e) {
    metrics.observe(e);
    if (log::enabled(log::Level::kDebug)) {
      log::debug("http_request",
                 {{"listener", e.listener},
                  {"method", e.method},
                  {"route", e.route},
                  {"status", e.status},
                  {"remote", e.remote_address},
                  {"duration_ms", std::chrono::duration<double, std::milli>(e.duration).count()}});
    }
  };
  // Two servers: they share nothing but the services, so a flood on one listener cannot
  // starve the other's workers.
  https_server = std::make_unique<http::Server>(options, https_router, observer);
  // The plain-HTTP listener carries OCSP, the busiest public endpoint: as many I/O threads as
  // the HTTPS one; its handlers are lookups and rarely block, so fewer workers do.
  http::ServerOptions public_options = options;
  public_options.worker_threads = std::min(16, options.worker_threads);
  public_options.thread_name = "public";
  http_server = std::make_unique<http::Server>(public_options, http_router, observer);
  CW_ASSIGN_OR_RETURN(auto https_port, https_server->listen(https));
  CW_ASSIGN_OR_RETURN(auto http_port, http_server->listen(plain));
  keeper = std::make_unique<ServingCertificateKeeper>(domain, *https_server, https.name,
                                                      std::move(client_side), std::move(serving));

  for (; started < components.size(); ++started) {
    CW_RETURN_IF_ERROR(components[started]->start());
  }
  CW_RETURN_IF_ERROR(https_server->start());
  CW_RETURN_IF_ERROR(http_server->start());

  Listening out;
  out.https_base =
      "https://" +
      (https.address.find(':') != std::string::npos ? "[" + https.address + "]" : https.address) +
      ":" + std::to_string(https_port);
  out.https_port = https_port;
  out.http_address = plain.address;
  out.http_port = http_port;
  return out;
}

void Server::check_serving_certificate() {
  if (auto st = impl_->scheduler.run_now(impl_->serving_kind); !st) {
    log::error("serving_certificate_check_request_failed", {{"error", st.error().message}});
  }
}

void Server::stop() {
  Impl& m = *impl_;
  if (m.keeper) m.keeper->close();
  if (m.https_server && m.http_server) {
    // Both drain at once, so a stop takes at most one shutdown timeout.
    std::thread public_stop([&m] { m.http_server->stop(); });
    m.https_server->stop();
    public_stop.join();
  }
  m.stop_components();
}

void Server::Impl::stop_components() {
  for (; started > 0; --started) components[started - 1]->stop();
}

const http::Router& Server::https_routes() const { return *impl_->https_router; }
const http::Router& Server::http_routes() const { return *impl_->http_router; }

Status serve(Domain& domain, const Registry& registry, const sigset_t& signals,
             const std::function<void(const Started&)>& on_started) {
  const Config& cfg = domain.config;
  Server server(domain, registry);
  CW_ASSIGN_OR_RETURN(auto listening, server.start());
  // Only now, with the listeners up, is a one-time token made: one minted before a failed
  // bind would never be shown to anyone.
  CW_ASSIGN_OR_RETURN(auto admin_token, domain.auth.bootstrap_admin("system:serve"));
  log::info("listening", {{"https", listening.https_base},
                          {"http_port", listening.http_port},
                          {"data_dir", cfg.data_dir},
                          {"database", cfg.database.driver}});
  on_started(Started{std::move(listening), std::move(admin_token)});

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    log::info("serving_certificate_check_requested", {{"signal", "SIGHUP"}});
    server.check_serving_certificate();
  }
  log::info("shutting_down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.stop();
  log::info("stopped");
  return ok();
}

}  // namespace certward::server
