#pragma once
// Private to the server: the HTTPS listener's own certificate, and the keeper that renews it
// while the server runs. (Moved here unchanged from the serve command; it becomes a lifecycle
// job later.)

#include <optional>
#include <string>
#include <thread>

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

// Keeps the HTTPS listener's certificate current while the server runs, so a long-running
// certward never serves an expired certificate of its own. Every check interval, and when
// asked (SIGHUP): an issued certificate within serving_renew_before of expiry is renewed;
// configured files are re-read and loaded when they changed (another tool renewed them), with
// a warning while they are close to expiry. A failure keeps the current certificate serving
// and is retried at the next check.
class ServingCertificateKeeper {
 public:
  ServingCertificateKeeper(Domain& d, http::Server& server, std::string listener,
                           std::optional<std::string> client_ca_pem, ServingMaterial current)
      : d_(d),
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
  void run();
  void check();

  Domain& d_;
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

}  // namespace certward::server
