#pragma once
// Private to the ACME challenge validator: the checks it applies to what it is given and what
// it receives, free of I/O (names and addresses, redirect URLs, the tls-alpn-01 certificate).
// validator.cc runs the connections; validator_checks.cc holds these.

#include <openssl/x509.h>

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward::protocols::acme::validation {

namespace asio = boost::asio;

inline constexpr std::string_view kAcmeTls1 = "acme-tls/1";
inline constexpr const char* kAcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";  // id-pe-acmeIdentifier
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
inline constexpr std::size_t kMaxTokenBytes = 256;

std::string host_text(const std::string& host, const std::optional<asio::ip::address>& ip);

struct Url {
  bool https = false;
  std::string host;  // lower-case name, or an address in its canonical text
  std::optional<asio::ip::address> ip;
  std::uint16_t port = 80;
  std::string target = "/";  // path and query

  bool default_port() const { return port == (https ? 443 : 80); }
  std::string authority() const {
    return host_text(host, ip) + (default_port() ? "" : ":" + std::to_string(port));
  }
  std::string str() const { return (https ? "https://" : "http://") + authority() + target; }
};

struct Problem {
  std::string type;
  std::string detail;
};

std::string lower(std::string_view s);
bool is_base64url(std::string_view s);
bool is_host_name(std::string_view name);
std::optional<asio::ip::address> parse_ip(std::string_view text);
std::string reverse_name(const asio::ip::address& address);
bool in_v4_range(std::uint32_t a, std::uint32_t net, int prefix);
bool is_public_v4(const asio::ip::address_v4& v4);
bool is_public(const asio::ip::address& address);
std::string address_octets(const asio::ip::address& address);
bool valid_target(std::string_view target);
Status parse_authority(std::string_view authority, Url& url);
Result<Url> resolve_redirect(const Url& base, std::string_view location);
std::string trim_trailing_space(std::string_view s);
std::string asn1_text(const ASN1_STRING* s);
std::optional<Problem> check_alpn_certificate(X509* cert, const std::string& identifier,
                                              const std::optional<asio::ip::address>& ip,
                                              std::string_view key_authorization);

}  // namespace certward::protocols::acme::validation
