#pragma once
// An upstream ACME CA (RFC 8555) as an issuer: Let's Encrypt, ZeroSSL, Google Trust Services,
// a corporate ACME CA, another certward.
//
// One account per issuer (and directory), created on first use with the issuer's contacts and
// external account binding, its key sealed in the database. An order names exactly the RA's
// names; each authorization is answered with the issuer's challenge type: http-01 from
// certward's own plain-HTTP listener (Http01Board), or dns-01 through an RFC 2136 update
// signed with TSIG, or a hook command. The ACME profile is asked for when configured; a
// preferred chain is picked among the CA's alternates; renewal information (RFC 9773) says
// when to renew. A CA that rate-limits is not asked again before its Retry-After.
//
// Thread-safe: orders run concurrently on the callers' threads.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "issuers/acme_client.h"
#include "issuers/dns_update.h"
#include "issuers/state.h"
#include "issuers/upstream.h"

namespace certward::issuers {

struct Dns01Options {
  std::optional<DnsUpdateServer> rfc2136;
  std::optional<std::string> hook;  // absolute path; run as `hook add|delete <name> <value>`
  std::chrono::seconds propagation{0};
};

struct AcmeIssuerOptions {
  std::string name;
  std::string directory;
  HttpOptions http;
  std::vector<std::string> contact;
  std::optional<ExternalAccountBinding> eab;
  std::optional<std::string> profile;
  std::string challenge = "http-01";
  Dns01Options dns;
  std::optional<std::string> preferred_chain;
  std::vector<x509::Certificate> trust_anchors;
  std::chrono::seconds order_timeout{300};
};

std::shared_ptr<UpstreamIssuer> make_acme_issuer(AcmeIssuerOptions options,
                                                 const AccountVault& accounts, Http01Board& http01);

// RFC 9773's certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial).
// Errors: kInvalidArgument (no authority key identifier).
Result<std::string> ari_certificate_id(const x509::Certificate& certificate);

}  // namespace certward::issuers
