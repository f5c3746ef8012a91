#pragma once
// Private to discovery/net. The machinery the TLS and SSH probes share: one strand per
// endpoint, one connection at a time, pacing of new connections, and a deadline that closes
// the connection when it fires, so that no peer — silent, slow or hostile — holds a slot longer
// than the timeouts. Every handler runs on the probe's strand and first checks finished():
// once a probe has reported, whatever completes later is ignored.

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "discovery/net/chain_checks.h"
#include "discovery/net/scanner.h"

namespace certward::discovery::net::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;
using SteadyClock = std::chrono::steady_clock;

// Spaces new connections evenly over the scan when a rate is set. Thread-safe.
class Pacer {
 public:
  explicit Pacer(double per_second);
  // How long the caller must wait before it may open its connection; the slot is taken.
  SteadyClock::duration reserve() CW_EXCLUDES(mu_);

 private:
  const SteadyClock::duration interval_;
  common::Mutex mu_;
  SteadyClock::time_point next_ CW_GUARDED_BY(mu_);
};

// What every probe of one scan reads; built before the first probe starts and constant while
// the scan runs (OpenSSL allows SSL_CTX and X509_STORE to be read from several threads).
struct ScanShared {
  const ScanOptions& options;
  ssl::context& tls;     // the main handshake: TLS 1.0-1.3, security level 0, no verification
  ssl::context& legacy;  // TLS 1.0-1.1 only
  std::string alpn_wire;
  X509_STORE* trust;
  SysTime now;
  Pacer& pacer;
  CertificateCache& certificates;
};

using Report = std::function<void(Observation)>;

class Probe : public std::enable_shared_from_this<Probe> {
 public:
  Probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint, Report report);
  virtual ~Probe() = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Both post to the strand; callable from any thread.
  void start();
  void cancel();

 protected:
  virtual void run() = 0;
  // Reports the observation with `error` (a kUnavailable message) and ends the probe.
  virtual void finish_with_error(std::string message) = 0;

  bool finished() const { return finished_; }
  // Marks the probe done and hands `observation` to the scan. Once only.
  void report(Observation observation);

  // Opens a new connection to the endpoint's address (closing the previous one) once the
  // pacer allows, within the connect timeout. done(nullopt) on success, else the message:
  // "connection refused", "connect timed out", "connect failed: ...".
  void connect(std::function<void(std::optional<std::string>)> done);
  // From now until disarm() or the next arm(), `d` later closes the connection.
  void arm(std::chrono::milliseconds d);
  void disarm();
  // The last armed deadline fired.
  bool timed_out() const { return timed_out_; }
  void close();

  tcp::socket& socket() { return *socket_; }
  // Moves the connected socket into a TLS stream on `ctx`; socket() is then unusable.
  ssl::stream<tcp::socket>& start_tls(ssl::context& ctx);
  ssl::stream<tcp::socket>& tls() { return *tls_; }

  // Wraps a handler so that it keeps the probe alive and does nothing once it has finished.
  template <typename F>
  auto guarded(F f) {
    return [self = shared_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (!self->finished_) f(std::forward<decltype(args)>(args)...);
    };
  }

  ScanShared& shared_;
  const Endpoint endpoint_;
  Strand strand_;

 private:
  void dial(std::function<void(std::optional<std::string>)> done);

  Report report_;
  bool finished_ = false;
  bool timed_out_ = false;
  unsigned generation_ = 0;  // of the armed deadline; an older expiry is ignored
  std::optional<tcp::endpoint> target_;
  asio::steady_timer timer_;
  asio::steady_timer pace_timer_;
  std::optional<tcp::socket> socket_;
  std::optional<ssl::stream<tcp::socket>> tls_;
};

// The probes, one per kind of endpoint.
std::shared_ptr<Probe> make_tls_probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint,
                                      Report report);
std::shared_ptr<Probe> make_ssh_probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint,
                                      Report report);

// Runs the plain-text dialogue of `protocol` ("smtp", "imap", "pop3", "ldap", "ftp",
// "postgres") on `socket` up to the point where the server expects a ClientHello. Reads are
// bounded in size; time is the caller's deadline. done(nullopt) on success, else why not.
// `keep_alive` is held until done is called.
void run_starttls(const std::string& protocol, tcp::socket& socket,
                  std::shared_ptr<void> keep_alive,
                  std::function<void(std::optional<std::string>)> done);

}  // namespace certward::discovery::net::detail
