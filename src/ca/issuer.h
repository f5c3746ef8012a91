#pragma once
// The Issuer seam (DESIGN.md "Issuer"): what turns the RA's decision into a certificate.
//
// The RA (ca::Enrollment) authorises the requester, applies the profile and policy, picks the
// names, the key and the validity, and records the result; it then hands an Order to an
// Issuer, which only makes the certificate and says which chain it belongs to. certward's own
// authorities (ca::Authority) are the first Issuer: they build, lint and sign. Upstream CAs
// (an ACME CA, CFSSL, ...) plug in as further Issuers behind the same IssuerDirectory, so the
// RA and every front-end stay as they are.

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/crypto.h"
#include "x509/certificate.h"
#include "x509/csr.h"

namespace certward::ca {

// One certificate as the RA decided it. Pointers are borrowed for the duration of issue().
struct Order {
  std::string profile;  // name, for messages and records
  const X509_NAME* subject = nullptr;
  std::vector<x509::SubjectAltName> sans;  // checked and normalized by the RA
  const EVP_PKEY* public_key = nullptr;
  // The subject key's SubjectPublicKeyInfo as the CSR carried it (same key), when there is
  // one: copying it is cheaper than re-encoding the key.
  const X509_PUBKEY* public_key_info = nullptr;
  const x509::Csr* csr = nullptr;  // the requester's CSR, when it sent one (upstream CAs want it)
  // The key the RA generated for a server-side key request: an upstream CA takes a CSR, which
  // only the key's holder can sign. Never leaves the process.
  const crypto::PrivateKey* private_key = nullptr;
  SysTime now{};                   // the RA's clock, read once
  std::chrono::seconds validity{};
  std::chrono::seconds max_validity{};  // the profile's: what the linter holds it to
  std::vector<std::string> key_usage;
  std::vector<std::string> extended_key_usage;
  std::vector<std::string> policy_oids;
  bool require_san = false;
  bool ocsp_nocheck = false;  // a delegated OCSP responder's certificate
  // CA profiles.
  bool is_ca = false;
  std::optional<int> path_length;            // the profile's default or the request's
  std::optional<int> requested_path_length;  // what the request asked for explicitly
  std::optional<x509::NameConstraints> name_constraints;
};

struct IssuedChain {
  x509::Certificate certificate;
  std::vector<x509::Certificate> chain;  // issuers, nearest first, root last
  // The issuer that made it when it is not the one the RA asked: a failover list hands the
  // order on (empty: the one asked).
  std::string issued_by;
  // Made by a CA outside certward (an ACME CA, CFSSL): the inventory records it with origin
  // "upstream", and only that CA can revoke it.
  bool upstream = false;
};

class Issuer {
 public:
  virtual ~Issuer() = default;
  // The name the inventory records as the certificate's authority.
  virtual const std::string& name() const = 0;
  // Makes the certificate for `order`. Errors: kPolicyRejected (this issuer cannot issue it:
  // expired, a root asked for a leaf, a name outside its constraints, path length),
  // kUnavailable (an upstream CA could not be reached), kInternal.
  virtual Result<IssuedChain> issue(const Order& order) const = 0;
  // Revokes, at the issuer, a certificate it made (`reason`: an RFC 5280 CRLReason code).
  // Only upstream issuers answer: certward's own authorities revoke in the inventory, which
  // their CRLs and OCSP answers are made from (ca::RevocationService). Errors: kPolicyRejected
  // (this issuer cannot revoke), kUnavailable, the upstream CA's refusal.
  virtual Status revoke(const x509::Certificate& certificate, int reason) const {
    (void)certificate;
    (void)reason;
    return fail(ErrorCode::kPolicyRejected, "issuer '" + name() + "' does not revoke upstream");
  }
};

// Finds an Issuer by name. Thread-safe.
class IssuerDirectory {
 public:
  virtual ~IssuerDirectory() = default;
  // Errors: kNotFound (no such issuer), kPolicyRejected (it exists but may not issue now,
  // e.g. disabled), kUnavailable.
  virtual Result<std::shared_ptr<const Issuer>> issuer(std::string_view name) = 0;
  // The issuer used when a request names none.
  virtual const std::string& default_issuer() const = 0;
  // The issuers profile `profile` lists, in order (ProfileSettings::issuers), as one Issuer:
  // the first that can make the certificate does. Without failover (certward's authorities
  // alone), the first. Errors: as issuer().
  virtual Result<std::shared_ptr<const Issuer>> issuer_list(std::span<const std::string> names,
                                                            std::string_view profile) {
    (void)profile;
    if (names.empty()) return issuer(default_issuer());
    return issuer(names.front());
  }
};

}  // namespace certward::ca
