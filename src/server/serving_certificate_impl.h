#pragma once
// Private to the server: the HTTPS listener's own certificate, and the keeper that renews it
// while the server runs, as a lifecycle job.

#include <optional>
#include <string>

#include "common/mutex.h"
#include "http/http.h"
#include "server/component.h"

namespace certward::server {

// The HTTPS listener's certificate and what the keeper needs to know about it.
struct ServingMaterial {
  http::TlsSettings tls;
  std::string serial;
  SysTime not_after{};
};

// The serving certificate: from the configured files, else from data_dir (reused while it is
// fresh and names the configured hosts, unless `force`), else issued now by the default
// authority and written to data_dir.
Result<ServingMaterial> serving_material(Domain& d, bool force);

// The kind of this server's certificate check: "serving-certificate:<host name>:<hash of
// the absolute data_dir>". Each replica has its own serving certificate in its own data_dir
// and the replicas share one database, so the kind names the one process whose listener it
// is about, and is the same at every start of it.
std::string serving_check_kind(const Config& config);

// Keeps the HTTPS listener's certificate current while the server runs, so a long-running
// certward never serves an expired certificate of its own. Its check() runs as the recurring
// job serving_check_kind(), every check interval, and at once when asked (SIGHUP): an issued
// certificate within serving_renew_before of expiry is renewed; configured files are re-read
// and loaded when they changed (another tool renewed them), with a warning while they are
// close to expiry. A failure keeps the current certificate serving and is retried at the next
// check. Thread-safe.
class ServingCertificateKeeper {
 public:
  ServingCertificateKeeper(Domain& d, http::Server& server, std::string listener,
                           http::TlsSettings client_side, ServingMaterial current)
      : d_(d),
        server_(server),
        listener_(std::move(listener)),
        client_side_(std::move(client_side)),
        current_(std::move(current)) {}
  ServingCertificateKeeper(const ServingCertificateKeeper&) = delete;
  ServingCertificateKeeper& operator=(const ServingCertificateKeeper&) = delete;

  // Renews or reloads the certificate if due; logs what it did or why it could not. Does
  // nothing once closed.
  void check() CW_EXCLUDES(mu_);
  // Waits for a check that is running; later ones do nothing. Called before the listener
  // stops.
  void close() CW_EXCLUDES(mu_);

 private:
  void check_locked() CW_REQUIRES(mu_);

  Domain& d_;
  http::Server& server_;
  const std::string listener_;
  // What the listener asks of clients (client_ca_pem, request_client_certificate and the CA
  // names): kept across reloads of the serving certificate.
  const http::TlsSettings client_side_;

  common::Mutex mu_;  // one check at a time
  ServingMaterial current_ CW_GUARDED_BY(mu_);
  bool closed_ CW_GUARDED_BY(mu_) = false;
};

}  // namespace certward::server
