#pragma once
// The checks every upstream issuer makes of what a CA sent back before it is returned to the
// RA (and so before anything is recorded).

#include <span>
#include <string_view>

#include "ca/issuer.h"
#include "x509/certificate.h"

namespace certward::issuers {

// `leaf` with `chain` (nearest issuer first) from issuer `issuer` for `order`:
// - the leaf's public key is the order's;
// - its subject alternative names are exactly the order's (same set, any order); a name the
//   RA did not decide is never accepted, and neither is a missing one;
// - its extended key usages are among the profile's (never anyExtendedKeyUsage), and a leaf
//   does not sign certificates or CRLs;
// - it is not a CA certificate, and it is valid now (order.now) or from a moment within five
//   minutes of it (clocks differ);
// - each certificate is signed by the next one in `chain`, and when `trust_anchors` is not
//   empty the whole verifies to one of them (OpenSSL's verifier, TLS purpose not required).
// Errors: kPolicyRejected with what was wrong, naming the issuer: "issuer 'x' returned ...".
Status check_upstream_result(const ca::Order& order, const x509::Certificate& leaf,
                             std::span<const x509::Certificate> chain,
                             std::span<const x509::Certificate> trust_anchors,
                             std::string_view issuer);

}  // namespace certward::issuers
