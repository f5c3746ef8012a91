// The scan itself: its own io_context and threads, the TLS contexts and trust store built once
// per scan, and a dispatcher that keeps at most `concurrency` probes in flight and starts the
// next one as each reports. The probes (tls_probe.cc, ssh_scan.cc) do the talking.

#include "discovery/net/scanner.h"

#include <openssl/err.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <thread>
#include <unordered_map>

#include "common/log.h"
#include "crypto/handles.h"
#include "discovery/net/probe.h"
#include "discovery/net/system_trust.h"

namespace certward::discovery::net {

using namespace detail;  // NOLINT(google-build-using-namespace): the private half of this room

namespace {

// Permissive on purpose: a scanner must complete handshakes that a careful client refuses
// (old versions, weak keys, SHA-1 signatures, servers without secure renegotiation) in order
// to report them. Nothing it learns is trusted; verification happens afterwards.
void configure(SSL_CTX* ctx, int min_version, int max_version) {
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_cipher_list(ctx, "ALL:!aNULL:!eNULL:@SECLEVEL=0");
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_LEGACY_SERVER_CONNECT);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

Result<crypto::X509StorePtr> make_trust(const ScanOptions& options) {
  crypto::X509StorePtr store(X509_STORE_new());
  if (!store) return fail(ErrorCode::kInternal, "X509_STORE_new failed");
  for (std::size_t i = 0; i < options.trusted_roots.size(); ++i) {
    const auto& der = options.trusted_roots[i];
    const unsigned char* p = der.data();
    crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
    if (!cert || p != der.data() + der.size() ||
        X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      ERR_clear_error();
      return fail(ErrorCode::kInvalidArgument,
                  "trusted root " + std::to_string(i) + " is not a DER certificate");
    }
  }
  if (options.use_system_trust) {
    CW_RETURN_IF_ERROR(add_system_trust(store.get(), SystemTrustPaths::from_environment()));
  }
  return store;
}

Result<std::string> alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return fail(ErrorCode::kInvalidArgument, "ALPN protocol names are 1 to 255 bytes");
    }
    wire += static_cast<char>(p.size());
    wire += p;
  }
  return wire;
}

Observation cancelled(const Endpoint& endpoint) {
  Error error{ErrorCode::kUnavailable, "scan cancelled"};
  if (endpoint.starttls == "ssh") return SshObservation{endpoint, "", {}, {}, error};
  TlsObservation obs;
  obs.endpoint = endpoint;
  obs.error = error;
  return obs;
}

}  // namespace

// One call to scan(): the endpoints still to dial, the probes in flight, and the user's
// callback, called under report_mu_ so that callers need no lock of their own.
class ScanRun {
 public:
  ScanRun(ScanShared& shared, asio::io_context& io, std::vector<Endpoint> endpoints,
          const std::function<void(Observation)>& report)
      : shared_(shared),
        io_(io),
        endpoints_(std::move(endpoints)),
        report_(report),
        guard_(asio::make_work_guard(io)) {}

  void start() CW_EXCLUDES(mu_) {
    common::MutexLock lock(mu_);
    if (endpoints_.empty()) guard_.reset();
    launch(lock);
  }

  // Only posts: the reports it causes come from the scan's threads, so that a callback may
  // call cancel() itself.
  void cancel() CW_EXCLUDES(mu_) {
    common::MutexLock lock(mu_);
    cancelled_ = true;
    for (const auto& [key, weak] : live_) {
      if (auto probe = weak.lock()) probe->cancel();
    }
    for (; next_ < endpoints_.size(); ++next_) {
      asio::post(io_, [this, e = endpoints_[next_]] { finished(false, cancelled(e)); });
    }
  }

 private:
  void launch(common::MutexLock& /*held*/) CW_REQUIRES(mu_) {
    while (!cancelled_ && in_flight_ < shared_.options.concurrency && next_ < endpoints_.size()) {
      const Endpoint& e = endpoints_[next_++];
      ++in_flight_;
      auto report = [this](Observation obs) { finished(true, std::move(obs)); };
      auto probe = e.starttls == "ssh" ? make_ssh_probe(shared_, io_, e, report)
                                       : make_tls_probe(shared_, io_, e, report);
      live_.emplace(probe.get(), probe);
      probe->start();
    }
  }

  void finished(bool was_in_flight, Observation obs) CW_EXCLUDES(mu_) {
    {
      common::MutexLock lock(report_mu_);
      report_(std::move(obs));
    }
    common::MutexLock lock(mu_);
    ++reported_;
    if (was_in_flight) --in_flight_;
    // A probe that reported is released once its last handler returns; its entry goes then.
    std::erase_if(live_, [](const auto& entry) { return entry.second.expired(); });
    if (reported_ == endpoints_.size()) {
      guard_.reset();
      return;
    }
    launch(lock);
  }

  ScanShared& shared_;
  asio::io_context& io_;
  const std::vector<Endpoint> endpoints_;
  const std::function<void(Observation)>& report_;
  common::Mutex report_mu_;
  common::Mutex mu_;
  std::size_t next_ CW_GUARDED_BY(mu_) = 0;
  std::size_t in_flight_ CW_GUARDED_BY(mu_) = 0;
  std::size_t reported_ CW_GUARDED_BY(mu_) = 0;
  bool cancelled_ CW_GUARDED_BY(mu_) = false;
  std::unordered_map<const Probe*, std::weak_ptr<Probe>> live_ CW_GUARDED_BY(mu_);
  asio::executor_work_guard<asio::io_context::executor_type> guard_ CW_GUARDED_BY(mu_);
};

class NetworkScanner::Impl {
 public:
  explicit Impl(ScanOptions options) : options_(std::move(options)) {}

  Status scan(std::vector<Endpoint> endpoints, const std::function<void(Observation)>& report) {
    CW_RETURN_IF_ERROR(check_options(options_));
    CW_ASSIGN_OR_RETURN(auto trust, make_trust(options_));
    CW_ASSIGN_OR_RETURN(auto alpn, alpn_wire(options_.alpn));
    ssl::context tls(ssl::context::tls_client);
    ssl::context legacy(ssl::context::tls_client);
    configure(tls.native_handle(), TLS1_VERSION, TLS1_3_VERSION);
    configure(legacy.native_handle(), TLS1_VERSION, TLS1_1_VERSION);
    Pacer pacer(options_.rate_limit);
    SystemClock system_clock;
    const Clock& clock = options_.clock != nullptr ? *options_.clock : system_clock;
    SysTime now = clock.now();
    CertificateCache certificates(trust.get(), now, options_.expiring_window);
    ScanShared shared{options_,    tls, legacy, std::move(alpn),
                      trust.get(), now, pacer,  certificates};

    asio::io_context io;
    ScanRun run(shared, io, std::move(endpoints), report);
    {
      common::MutexLock lock(mu_);
      runs_.push_back(&run);
    }
    run.start();
    std::vector<std::thread> threads;
    for (int i = 0; i < options_.threads; ++i) {
      threads.emplace_back([&io] {
        for (;;) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {
            // A callback threw: keep the other probes going.
            log::error("discovery.scan.handler_threw", {{"what", e.what()}});
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    common::MutexLock lock(mu_);
    std::erase(runs_, &run);
    return ok();
  }

  void cancel() {
    common::MutexLock lock(mu_);
    for (ScanRun* run : runs_) run->cancel();
  }

 private:
  const ScanOptions options_;
  common::Mutex mu_;
  std::vector<ScanRun*> runs_ CW_GUARDED_BY(mu_);
};

NetworkScanner::NetworkScanner(ScanOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

NetworkScanner::~NetworkScanner() = default;

Status NetworkScanner::check_options(const ScanOptions& o) {
  if (o.concurrency == 0 || o.threads < 1) {
    return fail(ErrorCode::kInvalidArgument, "concurrency and threads must be positive");
  }
  if (o.connect_timeout.count() <= 0 || o.handshake_timeout.count() <= 0 ||
      o.revocation_timeout.count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "timeouts must be positive");
  }
  if (!(o.rate_limit >= 0)) return fail(ErrorCode::kInvalidArgument, "rate_limit must be >= 0");
  if (o.revocation_max_bytes == 0) {
    return fail(ErrorCode::kInvalidArgument, "revocation_max_bytes must be positive");
  }
  return ok();
}

Status NetworkScanner::scan(std::vector<Endpoint> endpoints,
                            const std::function<void(Observation)>& report) {
  return impl_->scan(std::move(endpoints), report);
}

void NetworkScanner::cancel() { impl_->cancel(); }

}  // namespace certward::discovery::net
