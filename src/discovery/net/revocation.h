#pragma once
// Private to discovery/net. Whether a served leaf is revoked: from the OCSP response the server
// stapled, or (when the scan asks) from the leaf's own OCSP responder or CRL over plain HTTP.
// A responder that is down, slow or answers nonsense says nothing: only a signed "revoked"
// becomes a finding, so an unreachable responder never raises an alarm.

#include <functional>
#include <optional>
#include <vector>

#include "discovery/net/probe.h"

namespace certward::discovery::net::detail {

// "revoked" (critical, about the leaf) if `staple` is a successful OCSP response, signed by
// the leaf's issuer (or its delegated responder), saying the leaf is revoked.
std::optional<Finding> stapled_revocation(const Bytes& staple, const std::vector<Bytes>& chain);

// Asks the leaf's OCSP responder (AIA, http:// only), else its first http:// CRL distribution
// point, within options.revocation_timeout and revocation_max_bytes. Needs the issuer among
// the served certificates or the trusted roots; without it, reports nothing. `done` runs on
// `strand`.
void check_revocation(const Strand& strand, ScanShared& shared, const std::vector<Bytes>& chain,
                      std::function<void(std::optional<Finding>)> done);

}  // namespace certward::discovery::net::detail
