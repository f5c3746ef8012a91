#pragma once
// Findings about one certificate on its own, wherever it was found (an endpoint, a file, an
// import): validity at `now`, self-signed, weak key, SHA-1 signature. What depends on the place
// (hostname mismatch, the chain served, the protocols offered) is the scanner's to find.
// Pure functions, thread-safe.

#include <chrono>
#include <vector>

#include "discovery/discovery.h"
#include "x509/certificate.h"

namespace certward::discovery {

// The alert window for "expiring" when the operator sets none.
inline constexpr std::chrono::days kDefaultExpiringWindow{30};

// Codes and severities (docs/discovery.md):
//   expired (critical), not_yet_valid (high), expiring (medium; within `expiring_window`),
//   self_signed (medium; signed by its own key, unless it is a CA certificate whose key usage
//   names keyCertSign: a root in a trust store is self-signed by design, a server certificate
//   made with `openssl req -x509` is not a root), weak_key (high; RSA below 2048 bits, EC
//   below 224), sha1_signature (high) and md5_signature (critical), except on a self-signed
//   certificate, whose own signature nobody relies on.
// Every finding carries the certificate's fingerprint.
std::vector<Finding> certificate_findings(
    const x509::Certificate& cert, SysTime now,
    std::chrono::seconds expiring_window = kDefaultExpiringWindow);

}  // namespace certward::discovery
