#pragma once
// What an operator asks the network scanner to look at, turned into the exact list of
// endpoints it will dial. Expansion is separate from scanning so that a request is checked
// (syntax, size) and refused whole before a single connection is made: a typo in a CIDR must
// not become a scan of 16 million addresses.
//
// Spec grammar (case-insensitive names):
//   target  := host | host ":" port-item | "[" ipv6 "]" [":" port-item] | ipv4 "/" len
//            | ipv6 "/" len
//   ports   := item ("," item)*         the ports of targets that name none; default "tls"
//   item    := port ["/" proto] | port "-" port | group
//   proto   := "smtp" | "imap" | "pop3" | "ldap" | "ftp" | "postgres" | "ssh" | "tls"
//   group   := "tls" | "mail" | "ldap" | "ftp" | "postgres" | "ssh"
// A bare IPv6 address ("::1") is an address, never "host:port"; give a port with brackets.
//
// SSH endpoints carry "ssh" in Endpoint::starttls: the shared model has one protocol field
// for the dialogue spoken before anything else, and for SSH that dialogue is the whole probe.
// Thread-safe (pure, apart from the resolver the caller injects).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "discovery/discovery.h"

namespace certward::discovery::net {

inline constexpr std::size_t kDefaultMaxEndpoints = 65'536;

// One port to dial and what to speak on it first ("" for TLS at once, "smtp", ..., "ssh").
struct PortSpec {
  std::uint16_t port = 0;
  std::string protocol;
  bool operator==(const PortSpec&) const = default;
};

// Addresses of a host name, canonical text. An empty list or an error means "not found"; the
// scanner then reports the name as unresolvable rather than failing the whole request.
using Resolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;

// getaddrinfo, IPv4 and IPv6, TCP; blocking.
Result<std::vector<std::string>> system_resolve(const std::string& host);

struct ScanRequest {
  std::vector<std::string> targets;
  std::string ports = "tls";
  // Names sent as SNI to address targets (a name target always sends itself): one endpoint
  // per name plus one without SNI, since servers answer differently without it.
  std::vector<std::string> sni;
  // REQUIRES: > 0. Over it, expansion fails before resolving or dialling anything.
  std::size_t max_endpoints = kDefaultMaxEndpoints;
};

// Parses a port list. Errors: kInvalidArgument (empty item, port 0 or > 65535, reversed
// range, unknown group or protocol).
Result<std::vector<PortSpec>> parse_ports(std::string_view spec);

// Expands the request, resolving names with `resolve`. Duplicates are dropped, order kept.
// A name that does not resolve yields one endpoint with an empty address.
// Errors: kInvalidArgument (a malformed target, port list or SNI name; more than
// max_endpoints endpoints).
Result<std::vector<Endpoint>> expand(const ScanRequest& request,
                                     const Resolver& resolve = system_resolve);

}  // namespace certward::discovery::net
