#pragma once
// `certward serve`, put together in one place: the server's own services (metrics, rate
// limiting, the job scheduler), every registered component's routes on the HTTPS and the
// plain-HTTP listener, the serving certificate and the job that keeps it current, the signals,
// and the stop in order. The CLI only reads its flags and calls serve().
//
// Threading: a Server is started, checked and stopped from one thread (serve()'s); handlers
// run on the listeners' worker threads, jobs on the scheduler's thread.

#include <signal.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/component.h"

namespace certward::server {

// Where the started server listens.
struct Listening {
  std::string https_base;  // "https://127.0.0.1:8443" (an IPv6 address in brackets)
  std::uint16_t https_port = 0;
  std::string http_address;  // the plain-HTTP listener's address, as configured
  std::uint16_t http_port = 0;
};

class Server {
 public:
  // Makes the metrics, the rate limiter, the job scheduler with the serving-certificate check
  // as its recurring job, and every component of `registry`, in order, and has each mount its
  // routes. The check runs while the registry's scheduler component (builtin_components())
  // runs. `domain` outlives the server. Sets the RA's issuance observer (the metrics count
  // what every channel issues) until the server is destroyed.
  // REQUIRES: nothing is enrolling yet (see ca::Enrollment::set_observer).
  Server(Domain& domain, const Registry& registry);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Gets the serving certificate (the configured files, or the one in data_dir while fresh,
  // else issued now), binds both listeners, starts the components' background work (the
  // scheduler: the next certificate check is one check interval away), then the listeners.
  // On an error nothing is left running.
  // REQUIRES: called once.
  // Errors: kMalformed (listen address), kInvalidArgument (TLS material), kUnavailable
  // (cannot bind), kNotFound (a configured file), what issuing the serving certificate or a
  // component's start() returned.
  Result<Listening> start();
  // Checks the serving certificate now (SIGHUP): its job is moved to now and the scheduler
  // woken; the check renews or reloads it when due. Returns at once; an error to enqueue is
  // logged.
  void check_serving_certificate();
  // Ends the certificate checks first, then both listeners drain at once (bounded by
  // server.shutdown_timeout_seconds), then the components' background work, in reverse
  // order (the scheduler first). Idempotent.
  void stop();

  // The routes as mounted, for tests and diagnostics.
  const http::Router& https_routes() const;
  const http::Router& http_routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What serve() tells its caller once it serves.
struct Started {
  Listening listening;
  // The one-time admin token, made when the database has no principal yet. Secret: show it
  // once, never log it.
  std::optional<std::string> admin_token;
};

// Runs the server until SIGTERM or SIGINT: starts it, makes the one-time admin token (only
// now, so a failed bind never consumes it), calls `on_started`, checks the serving
// certificate on SIGHUP, and stops in order on SIGTERM or SIGINT.
// REQUIRES: SIGTERM, SIGINT and SIGHUP (`signals`) are blocked in every thread, from before
// any thread was started, so that only serve() takes them.
Status serve(Domain& domain, const Registry& registry, const sigset_t& signals,
             const std::function<void(const Started&)>& on_started);

}  // namespace certward::server
