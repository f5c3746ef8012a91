#pragma once
// The ACME challenge validator: checks http-01 and dns-01 (RFC 8555 8.3, 8.4), tls-alpn-01
// (RFC 8737), for "dns" and "ip" identifiers (RFC 8738).
//
// Asynchronous throughout: validate() returns at once and the whole attempt (DNS lookups,
// connects, TLS handshakes, HTTP exchanges, redirects) runs as callbacks on the validator's
// own io threads, so no caller's thread blocks and no thread is held per pending challenge;
// one thread carries any number of attempts. Each attempt is bounded by `timeout` as a whole.
//
// What the checks do, and where they follow Let's Encrypt's Boulder:
//  - Names are resolved with certward's own stub resolver (dns.h) against `resolver`, or the
//    first nameserver of /etc/resolv.conf when there is none: one asynchronous code path for
//    A, AAAA and TXT (getaddrinfo and res_query would block a thread per lookup). AAAA and A
//    are asked together; the addresses are dialled IPv6 first, then IPv4, each in the order
//    received, moving to the next only when a connect fails (refused, unreachable, or its
//    share of the time left runs out), as Boulder falls back from IPv6 to IPv4.
//  - http-01: GET http://<identifier>/.well-known/acme-challenge/<token> on `http_port`, with
//    the identifier as the Host header (an IPv6 address in brackets). Status 200 and a body
//    equal to the key authorization once trailing whitespace (space, tab, CR, LF) is removed
//    are valid. Redirects (301, 302, 303, 307, 308) are followed, at most `max_redirects`, to
//    http or https URLs on ports 80 and 443 only (dialled as `http_port` and `https_port`),
//    never to a URL already visited; https is spoken without verifying the certificate, with
//    the host as SNI (RFC 8555 8.3 lets the server follow redirects to https). Relative
//    references are resolved against the current URL without removing dot segments.
//  - dns-01: TXT of _acme-challenge.<domain> (a leading "*." removed), CNAMEs followed; valid
//    when the concatenated strings of any one record equal base64url(SHA-256(key
//    authorization)) without padding.
//  - tls-alpn-01: TLS 1.2 or later to <address>:`tls_alpn_port`, SNI the domain, or for an IP
//    identifier its reverse-mapping name (x.x.x.x.in-addr.arpa, nibbles.ip6.arpa); only
//    "acme-tls/1" offered and it must be selected. The certificate (not verified) must carry
//    one SAN entry exactly, equal to the identifier (dNSName, or iPAddress), and one critical
//    id-pe-acmeIdentifier extension holding the DER OCTET STRING of SHA-256(key
//    authorization).
//
// Problem types are RFC 8555 section 6.7 error names without the
// "urn:ietf:params:acme:error:" prefix: "connection" (refused, reset, timed out, a bad or
// looping redirect, not HTTP), "dns" (no address, NXDOMAIN of the host, resolver unreachable
// or failing, a malformed answer), "unauthorized" (the content is wrong: status, body, size,
// TXT record, certificate, ALPN not selected), "tls" (the handshake failed),
// "rejectedIdentifier" (an address the options refuse), "malformed" (the request itself is
// unusable: bad identifier or token, a challenge that does not fit the identifier) and
// "serverInternal" (unusable options).
//
// Loopback and private addresses are dialled by default (allow_private_addresses), because
// the tests and internal deployments validate on 127.0.0.1 and RFC 1918 networks; an
// internet-facing CA should turn that off.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace certward::protocols::acme {

struct ValidatorOptions {
  std::uint16_t http_port = 80;       // dialled for http-01 and for redirects to port 80
  std::uint16_t https_port = 443;     // dialled for redirects to port 443
  std::uint16_t tls_alpn_port = 443;  // dialled for tls-alpn-01
  // The DNS server asked for TXT, A and AAAA: "192.0.2.53", "192.0.2.53:5353",
  // "[2001:db8::53]:53". nullopt: the first nameserver of /etc/resolv.conf, read once at
  // construction (127.0.0.1:53 when it names none).
  std::optional<std::string> resolver;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // one whole attempt; > 0
  int max_redirects = 10;                                       // >= 0
  std::size_t max_body_bytes = 64 * 1024;  // http-01 response bodies longer are refused
  int threads = 1;                         // io threads; >= 1
  // Whether loopback, private (RFC 1918, RFC 4193, CGNAT), link-local, unspecified and
  // multicast addresses may be dialled, as identifiers or as what a name resolves to.
  bool allow_private_addresses = true;
};

enum class ChallengeType { kHttp01, kDns01, kTlsAlpn01 };

struct ValidationRequest {
  ChallengeType type = ChallengeType::kHttp01;
  std::string identifier_type;    // "dns" or "ip"
  std::string identifier_value;   // a host name (with "*." for a wildcard), or an IP address
  std::string token;              // base64url
  std::string key_authorization;  // token "." base64url(JWK thumbprint)
};

// One connection made, as RFC 8555's validationRecord (Boulder's field names in spirit).
struct ValidationRecord {
  std::string url;         // http-01: the URL fetched ("http://host/.well-known/...")
  std::string hostname;    // the name or address dialled (dns-01: the name asked for TXT)
  std::uint16_t port = 0;  // the port dialled
  std::vector<std::string> addresses_resolved;  // textual addresses, in the order dialled
  std::string address_used;                     // the address connected to ("" if none)
  std::vector<std::string> addresses_tried;     // addresses whose connect failed before it
};

struct ValidationResult {
  bool valid = false;
  std::string problem_type;  // "" when valid; else one of the types listed above
  std::string detail;        // for the ACME client; never holds secrets
  std::vector<ValidationRecord> records;
};

// Thread-safe. The io threads start with the constructor and end in stop() (or the
// destructor).
class Validator {
 public:
  explicit Validator(ValidatorOptions options);
  // Stops (see stop()).
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  // Checks the options: kInvalidArgument for an unparsable resolver, a timeout that is not
  // positive, negative max_redirects, zero max_body_bytes or threads, or zero ports. A
  // Validator built from such options answers every request with "serverInternal".
  static Status check_options(const ValidatorOptions& options);

  // Starts one validation and returns at once. `done` runs exactly once, on one of the
  // validator's threads (after stop(): at once, on the calling thread, with "connection"
  // "shutting down"). `done` must not destroy the Validator or call stop().
  void validate(ValidationRequest request, std::function<void(ValidationResult)> done);

  // Ends every pending validation with "connection" "shutting down" (each `done` still runs),
  // then joins the io threads. Idempotent. Must not be called from a validator thread.
  void stop();

  class Impl;  // opaque; public only so that the implementation's helpers can name it

 private:
  std::unique_ptr<Impl> impl_;
};

// base64url(SHA-256(key_authorization)) without padding: the dns-01 TXT value (RFC 8555 8.4).
std::string dns01_txt_value(std::string_view key_authorization);

}  // namespace certward::protocols::acme
