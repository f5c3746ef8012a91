#pragma once
// An upstream CA as certward sees it: a ca::Issuer that lives outside this process (an ACME CA,
// a CFSSL remote signer), with what it supports and whether it answers.
//
// What every upstream issuer guarantees before it returns a certificate (verify.h): the chain
// it got verifies (each certificate signed by the next, and to the configured trust anchors
// when there are any), the certificate is for the order's key, and its names are exactly the
// order's. Anything else is refused with nothing recorded: the RA stores only what issue()
// returned.
//
// Thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "ca/issuer.h"
#include "common/clock.h"
#include "common/error.h"

namespace certward::issuers {

// What an issuer can make and do, for `certward issuers list` and the API.
struct IssuerSupport {
  std::vector<std::string> key_types;   // subject keys it accepts ("ec-p256", "rsa-2048", ...)
  std::vector<std::string> name_types;  // "dns", "ip", ...
  std::optional<std::chrono::seconds> max_validity;  // when the CA says (none: its choice)
  bool revocation = false;                           // revoke() reaches the CA
  bool renewal_info = false;  // the CA tells when to renew (ACME ARI, RFC 9773)
};

class UpstreamIssuer : public ca::Issuer {
 public:
  virtual std::string_view type() const = 0;  // "acme", "cfssl"
  // Where it is reached (the ACME directory, the CFSSL URL), for people.
  virtual const std::string& endpoint() const = 0;
  virtual IssuerSupport support() const = 0;
  // Whether the CA answers now: one request, bounded by the issuer's timeout (the ACME
  // directory, CFSSL's info). Errors: kUnavailable with why.
  virtual Status probe() const = 0;
  // When the CA asks that `certificate` be renewed (ACME renewal information): the start of
  // its suggested window, or nullopt when the CA says nothing (the profile's renew-before
  // then decides). Errors: kUnavailable; callers fall back to their own schedule.
  virtual Result<std::optional<SysTime>> renewal_time(const x509::Certificate& certificate) const {
    (void)certificate;
    return std::optional<SysTime>{};
  }
};

}  // namespace certward::issuers
