// serve: the certward service. On first start it prepares the embedded default (data
// directory, SQLite, master key, development root and issuing CA), prints a one-time admin
// token, and serves HTTPS (REST API) and plain HTTP (health, CA certificates).

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "api/api.h"
#include "cli/commands.h"
#include "common/log.h"
#include "common/mutex.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::cli {
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

bool names_match(const x509::CertificateInfo& info, const std::vector<std::string>& hostnames) {
  for (const auto& h : hostnames) {
    const bool found = std::any_of(info.sans.begin(), info.sans.end(),
                                   [&](const auto& s) { return s.value == h; });
    if (!found) return false;
  }
  return true;
}

// The HTTPS listener's certificate and what the keeper needs to know about it.
struct ServingMaterial {
  http::TlsSettings tls;
  std::string serial;
  SysTime not_after{};
};

Result<ServingMaterial> describe_material(http::TlsSettings tls) {
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(tls.certificate_chain_pem)));
  ServingMaterial m;
  m.serial = certs.front().info().serial_hex;
  m.not_after = certs.front().info().not_after;
  m.tls = std::move(tls);
  return m;
}

// The serving certificate: from the configured files, else from data_dir (reused while it is
// fresh and names the configured hosts, unless `force`), else issued now by the default
// authority and written to data_dir.
Result<ServingMaterial> serving_material(Context& c, bool force) {
  const ServerSettings& s = c.config().server;
  http::TlsSettings tls;
  if (!s.tls_cert_file.empty()) {
    CW_ASSIGN_OR_RETURN(tls.certificate_chain_pem, read_file(s.tls_cert_file));
    CW_ASSIGN_OR_RETURN(tls.private_key_pem, read_file(s.tls_key_file));
    return describe_material(std::move(tls));
  }
  const std::string cert_path = c.config().data_dir + "/serving-cert.pem";
  const std::string key_path = c.config().data_dir + "/serving-key.pem";
  if (auto pem = read_file(cert_path); pem && !force) {
    auto certs = x509::parse_certificates(as_bytes(*pem));
    auto key = read_file(key_path);
    if (certs && key &&
        certs->front().info().not_after > c.clock().now() + s.serving_renew_before &&
        names_match(certs->front().info(), s.hostnames)) {
      tls.certificate_chain_pem = *pem;
      tls.private_key_pem = std::move(*key);
      return describe_material(std::move(tls));
    }
  }
  ca::EnrollmentRequest r;
  r.server_key = crypto::KeyType::kEcP256;
  r.profile = "tls-server";
  for (const auto& h : s.hostnames) {
    CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(h));
    r.sans.push_back(san);
  }
  r.requester.actor = "system:serve";
  r.channel = ca::Channel::kRenewal;
  r.tags = {"certward-serving"};
  CW_ASSIGN_OR_RETURN(auto issued, c.enrollment().enroll(std::move(r)));
  CW_ASSIGN_OR_RETURN(auto key_pem, issued.private_key->to_pkcs8_pem());
  std::vector<x509::Certificate> chain = {issued.certificate};
  chain.insert(chain.end(), issued.chain.begin(), issued.chain.end());
  tls.certificate_chain_pem = x509::to_pem(chain);
  tls.private_key_pem = std::string(as_chars(key_pem.span()));
  CW_RETURN_IF_ERROR(write_file_atomic(key_path, tls.private_key_pem, 0600));
  CW_RETURN_IF_ERROR(write_file_atomic(cert_path, tls.certificate_chain_pem, 0644));
  log::info("serving_certificate_issued",
            {{"serial", issued.certificate.info().serial_hex},
             {"not_after", format_time(issued.certificate.info().not_after)}});
  ServingMaterial m;
  m.serial = issued.certificate.info().serial_hex;
  m.not_after = issued.certificate.info().not_after;
  m.tls = std::move(tls);
  return m;
}

// Keeps the HTTPS listener's certificate current while the server runs, so a long-running
// certward never serves an expired certificate of its own. Every check interval, and when
// asked (SIGHUP): an issued certificate within serving_renew_before of expiry is renewed;
// configured files are re-read and loaded when they changed (another tool renewed them), with
// a warning while they are close to expiry. A failure keeps the current certificate serving
// and is retried at the next check.
class ServingCertificateKeeper {
 public:
  ServingCertificateKeeper(Context& c, http::Server& server, std::string listener,
                           std::optional<std::string> client_ca_pem, ServingMaterial current)
      : c_(c),
        server_(server),
        listener_(std::move(listener)),
        client_ca_pem_(std::move(client_ca_pem)),
        current_(std::move(current)) {}
  ~ServingCertificateKeeper() { stop(); }
  ServingCertificateKeeper(const ServingCertificateKeeper&) = delete;
  ServingCertificateKeeper& operator=(const ServingCertificateKeeper&) = delete;

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void check_now() {
    common::MutexLock lock(mu_);
    wake_ = true;
    cv_.notify_all();
  }
  void stop() {
    {
      common::MutexLock lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    common::MutexLock lock(mu_);
    for (;;) {
      cv_.wait_for(mu_, c_.config().server.certificate_check_interval,
                   [this]() CW_REQUIRES(mu_) { return stopping_ || wake_; });
      if (stopping_) return;
      wake_ = false;
      lock.unlock();
      check();
      lock.lock();
    }
  }

  void check() {
    const ServerSettings& s = c_.config().server;
    const bool configured = !s.tls_cert_file.empty();
    const SysTime now = c_.clock().now();
    if (!configured && current_.not_after > now + s.serving_renew_before) return;
    auto next = serving_material(c_, /*force=*/!configured);
    if (!next) {
      log::error("serving_certificate_check_failed",
                 {{"error", next.error().message}, {"serial", current_.serial}});
      return;
    }
    if (configured && next->tls.certificate_chain_pem == current_.tls.certificate_chain_pem &&
        next->tls.private_key_pem == current_.tls.private_key_pem) {
      if (current_.not_after <= now + s.serving_renew_before) {
        log::warn("serving_certificate_expiring", {{"serial", current_.serial},
                                                   {"not_after", format_time(current_.not_after)},
                                                   {"file", s.tls_cert_file}});
      }
      return;
    }
    http::TlsSettings tls = next->tls;
    tls.client_ca_pem = client_ca_pem_;
    if (auto st = server_.reload_tls(listener_, tls); !st) {
      log::error("serving_certificate_reload_failed",
                 {{"error", st.error().message}, {"serial", next->serial}});
      return;
    }
    log::info("serving_certificate_reloaded", {{"previous_serial", current_.serial},
                                               {"serial", next->serial},
                                               {"not_after", format_time(next->not_after)}});
    current_ = std::move(*next);
  }

  Context& c_;
  http::Server& server_;
  const std::string listener_;
  const std::optional<std::string> client_ca_pem_;
  ServingMaterial current_;  // touched only by the keeper's thread after start()

  common::Mutex mu_;
  common::CondVar cv_;
  bool wake_ CW_GUARDED_BY(mu_) = false;
  bool stopping_ CW_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

Status serve(Context& c, const sigset_t& signals) {
  const Config& cfg = c.config();
  log::set_level(cfg.log_level);
  CW_ASSIGN_OR_RETURN(auto created, initialise_authorities(c, InitOptions{}));
  for (const auto& a : created) {
    log::info("authority_created", {{"name", a.name}, {"kind", ca::authority_kind_name(a.kind)}});
  }

  api::Metrics metrics(c.clock());
  // Issuance is counted where it happens, whichever channel asked.
  c.enrollment().set_observer([&metrics](const ca::IssuedCertificate& issued, ca::Channel) {
    metrics.count_issued(issued.profile, issued.authority);
  });
  struct ObserverReset {  // metrics dies with this function, on every return path
    ca::Enrollment& ra;
    ~ObserverReset() { ra.set_observer(nullptr); }
  } observer_reset{c.enrollment()};
  api::RateLimiter limiter(cfg.server.rate_limit.requests_per_second, cfg.server.rate_limit.burst);
  api::Services services{c.clock(),      [&c] { return c.db().ping(); },
                         c.audit(),      c.inventory(),
                         c.profiles(),   c.authorities(),
                         c.enrollment(), c.auth(),
                         metrics,        limiter};

  CW_ASSIGN_OR_RETURN(auto https, parse_listen(cfg.server.listen, "https"));
  CW_ASSIGN_OR_RETURN(auto plain, parse_listen(cfg.server.http_listen, "http"));
  CW_ASSIGN_OR_RETURN(auto serving, serving_material(c, /*force=*/false));
  std::optional<std::string> client_ca_pem;
  if (!cfg.server.client_ca_file.empty()) {
    CW_ASSIGN_OR_RETURN(client_ca_pem, read_file(cfg.server.client_ca_file));
  }
  https.tls = serving.tls;
  https.tls->client_ca_pem = client_ca_pem;

  http::ServerOptions options;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.io_threads = cfg.server.io_threads > 0 ? cfg.server.io_threads : cores;
  options.worker_threads = cfg.server.worker_threads;
  options.max_body_bytes = static_cast<std::size_t>(cfg.server.max_body_bytes);
  options.read_timeout = std::chrono::seconds(cfg.server.read_timeout_seconds);
  options.idle_timeout = std::chrono::seconds(cfg.server.idle_timeout_seconds);
  options.drain_timeout = std::chrono::seconds(cfg.server.shutdown_timeout_seconds);

  auto api_router = api::make_api_router(services);
  auto public_router = api::make_public_router(services);
  auto observer = [&metrics](const http::Exchange& e) {
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
  http::Server api_server(options, api_router, observer);
  http::ServerOptions public_options = options;
  public_options.io_threads = 1;
  public_options.worker_threads = std::min(8, options.worker_threads);
  http::Server public_server(public_options, public_router, observer);
  CW_ASSIGN_OR_RETURN(auto https_port, api_server.listen(https));
  CW_ASSIGN_OR_RETURN(auto http_port, public_server.listen(plain));
  CW_RETURN_IF_ERROR(api_server.start());
  CW_RETURN_IF_ERROR(public_server.start());
  // Only now, with the listeners up, is a one-time token made: one minted before a failed
  // bind would never be shown to anyone.
  CW_ASSIGN_OR_RETURN(auto admin_token, c.auth().bootstrap_admin("system:serve"));

  const std::string base =
      "https://" +
      (https.address.find(':') != std::string::npos ? "[" + https.address + "]" : https.address) +
      ":" + std::to_string(https_port);
  log::info("listening", {{"https", base},
                          {"http_port", http_port},
                          {"data_dir", cfg.data_dir},
                          {"database", cfg.database.driver}});
  std::printf(
      "certward is serving\n  REST API:   %s/api/v1   (OpenAPI: %s/api/v1/openapi.json)\n"
      "  plain HTTP: http://%s:%u/healthz   CA certificates: /ca/<authority>.crt\n"
      "  trust:      certward -d %s ca export root > root.pem; curl --cacert root.pem %s/healthz\n",
      base.c_str(), base.c_str(), plain.address.c_str(), unsigned(http_port), cfg.data_dir.c_str(),
      base.c_str());
  if (admin_token) {
    std::printf(
        "\nAdmin token (shown once, store it now):\n  %s\n"
        "  curl --cacert root.pem -H 'Authorization: Bearer <token>' %s/api/v1/whoami\n",
        admin_token->c_str(), base.c_str());
  }
  std::fflush(stdout);

  ServingCertificateKeeper keeper(c, api_server, https.name, std::move(client_ca_pem),
                                  std::move(serving));
  keeper.start();

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    log::info("serving_certificate_check_requested", {{"signal", "SIGHUP"}});
    keeper.check_now();
  }
  keeper.stop();
  log::info("shutting_down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  // Both drain at once, so a stop takes at most one shutdown timeout.
  std::thread public_stop([&public_server] { public_server.stop(); });
  api_server.stop();
  public_stop.join();
  log::info("stopped");
  return ok();
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
