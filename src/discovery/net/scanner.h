#pragma once
// The network scanner: dials endpoints (targets.h expands requests into them) and reports what
// each serves — the TLS chain and handshake, or the SSH host keys — with the findings that
// depend on the place (hostname mismatch, chain problems, legacy protocols, revocation) and
// those about each certificate or key (discovery/findings.h, discovery/ssh_key.h).
//
// A scan runs on its own io_context and threads, never the caller's: it is long work (DESIGN.md
// "Long work ... on its own executor"). Concurrency, connection rate and every wait are
// bounded, so a hostile or dead peer costs at most its timeouts and one slot.
//
// Errors of one endpoint never stop a scan; they go into the observation's `error`, always
// kUnavailable, with a message whose leading phrase is stable (sightings keep it, operators
// filter on it): "could not resolve", "connection refused", "connect timed out",
// "connect failed: ...", "handshake timed out", "not TLS", "handshake failed: ...",
// "STARTTLS failed: ...", "not SSH", "SSH failed: ...", "scan cancelled".

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/error.h"
#include "discovery/discovery.h"
#include "discovery/findings.h"

namespace certward::discovery::net {

struct ScanOptions {
  // Endpoints in flight at once. REQUIRES: > 0.
  std::size_t concurrency = 256;
  // I/O threads of the scan's own io_context. REQUIRES: > 0.
  int threads = 2;
  // TCP connect, per connection. REQUIRES: > 0.
  std::chrono::milliseconds connect_timeout{3000};
  // From connected to handshake done (STARTTLS dialogue included; for SSH, banner to host
  // key). REQUIRES: > 0.
  std::chrono::milliseconds handshake_timeout{5000};
  // New connections per second over the whole scan; 0 = unlimited.
  double rate_limit = 0;
  // A second, short handshake limited to TLS 1.0/1.1 to learn whether those are still offered.
  bool probe_legacy = true;
  std::chrono::seconds expiring_window = kDefaultExpiringWindow;
  // Roots a served chain must verify to (DER). certward's own roots are the caller's to pass.
  std::vector<Bytes> trusted_roots;
  // Also trust the system store (OpenSSL's default paths).
  bool use_system_trust = false;
  // Fetch the leaf's OCSP responder (AIA, http only) or else its CRL distribution point; a
  // "revoked" finding if revoked, nothing when unreachable or unparsable.
  bool check_revocation = false;
  // When set, a revocation fetch connects only to the addresses (as resolved, the ones
  // actually dialled) for which it returns true; none left, no fetch.
  std::function<bool(const std::string& address)> may_fetch_from;
  std::chrono::milliseconds revocation_timeout{2000};
  std::size_t revocation_max_bytes = 1 << 20;
  // Offered in the ClientHello, in this order.
  std::vector<std::string> alpn = {"h2", "http/1.1"};
  // Time for validity findings; nullptr = the system clock.
  const Clock* clock = nullptr;
};

using Observation = std::variant<TlsObservation, SshObservation>;

// Thread-safe: scan() may run in several threads at once (each scan has its own io_context),
// and cancel() may be called from any thread, a callback included.
class NetworkScanner {
 public:
  explicit NetworkScanner(ScanOptions options);
  ~NetworkScanner();
  NetworkScanner(const NetworkScanner&) = delete;
  NetworkScanner& operator=(const NetworkScanner&) = delete;

  // Checks options without scanning. Errors: kInvalidArgument.
  static Status check_options(const ScanOptions& options);

  // Dials every endpoint ("ssh" in Endpoint::starttls means an SSH probe, anything else TLS)
  // and calls `report` exactly once per endpoint, in completion order, one call at a time,
  // from the scan's threads. Returns when every endpoint has been reported.
  // Errors: kInvalidArgument (options, or a trust root that is not DER).
  Status scan(std::vector<Endpoint> endpoints, const std::function<void(Observation)>& report);

  // Ends every running scan soon: connections in flight are closed, endpoints not yet dialled
  // are reported with "scan cancelled". Later scans run normally.
  void cancel();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace certward::discovery::net
