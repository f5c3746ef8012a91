// Parsing is strict and expansion is counted before it is done: a scan request comes from
// people and API bodies, and what it expands to is dialled, so a mistake must be refused whole,
// with the reason, rather than half-scanned.

#include "discovery/net/targets.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>

namespace certward::discovery::net {
namespace {

struct Group {
  std::string_view name;
  std::vector<PortSpec> ports;
};

const std::vector<Group>& groups() {
  static const auto* const kGroups = new std::vector<Group>{
      {"tls",
       {{443, ""},
        {465, ""},
        {636, ""},
        {853, ""},
        {989, ""},
        {990, ""},
        {992, ""},
        {993, ""},
        {994, ""},
        {995, ""},
        {5061, ""},
        {6443, ""},
        {8443, ""},
        {9443, ""}}},
      {"mail",
       {{25, "smtp"},
        {587, "smtp"},
        {465, ""},
        {143, "imap"},
        {993, ""},
        {110, "pop3"},
        {995, ""}}},
      {"ldap", {{389, "ldap"}, {636, ""}}},
      {"ftp", {{21, "ftp"}, {990, ""}}},
      {"postgres", {{5432, "postgres"}}},
      {"ssh", {{22, "ssh"}}},
  };
  return *kGroups;
}

constexpr std::array<std::string_view, 7> kProtocols{"smtp", "imap",     "pop3", "ldap",
                                                     "ftp",  "postgres", "ssh"};

// A bare well-known port speaks its usual protocol: "25" scanned as direct TLS would only ever
// report "not TLS". "/tls" asks for direct TLS on such a port.
std::string implied_protocol(std::uint16_t port) {
  for (const auto& group : groups()) {
    for (const auto& p : group.ports) {
      if (p.port == port && !p.protocol.empty()) return p.protocol;
    }
  }
  return "";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidArgument, std::move(message));
}

// At most 5 digits, so that "0000000443" and overflow are refused alike.
std::optional<std::uint32_t> parse_number(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

Result<std::uint16_t> parse_port(std::string_view s) {
  auto n = parse_number(s, 5);
  if (!n || *n == 0 || *n > 65535) {
    return invalid("'" + std::string(s) + "' is not a port (1-65535)");
  }
  return static_cast<std::uint16_t>(*n);
}

Status parse_port_item(std::string_view item, std::vector<PortSpec>& out) {
  std::string text = lower(trim(item));
  if (text.empty()) return invalid("empty item in port list");
  for (const auto& group : groups()) {
    if (group.name == text) {
      out.insert(out.end(), group.ports.begin(), group.ports.end());
      return ok();
    }
  }
  std::string_view rest = text;
  std::optional<std::string> protocol;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view proto = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (proto == "tls") {
      protocol = "";
    } else if (std::find(kProtocols.begin(), kProtocols.end(), proto) != kProtocols.end()) {
      protocol = std::string(proto);
    } else {
      return invalid("unknown protocol '" + std::string(proto) +
                     "' (smtp, imap, pop3, ldap, ftp, postgres, ssh, tls)");
    }
  }
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    CW_ASSIGN_OR_RETURN(first, parse_port(rest.substr(0, dash)));
    CW_ASSIGN_OR_RETURN(last, parse_port(rest.substr(dash + 1)));
    if (last < first) return invalid("port range '" + std::string(rest) + "' is reversed");
  } else {
    CW_ASSIGN_OR_RETURN(first, parse_port(rest));
    last = first;
  }
  for (std::uint32_t p = first; p <= last; ++p) {
    auto port = static_cast<std::uint16_t>(p);
    out.push_back({port, protocol ? *protocol : implied_protocol(port)});
  }
  return ok();
}

// Letters, digits, '-' and '_' (service names such as _acme), labels of 1-63, 253 in all, and
// a last label that is not all digits, so that "10.1.2" is not taken for a name.
bool is_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  bool all_digits = true;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    all_digits = true;
    for (char c : label) {
      bool digit = c >= '0' && c <= '9';
      all_digits = all_digits && digit;
      if (!digit && !(c >= 'a' && c <= 'z') && c != '-' && c != '_') return false;
    }
    start = dot + 1;
  }
  return !all_digits;
}

struct Address {
  int family = AF_INET;
  std::array<std::uint8_t, 16> bytes{};
  std::size_t size() const { return family == AF_INET ? 4 : 16; }
  std::string text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(family, bytes.data(), buf, sizeof buf);
    return buf;
  }
};

std::optional<Address> parse_address(std::string_view text, int family) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  Address a;
  a.family = family;
  if (::inet_pton(family, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

// One parsed target, before resolution.
struct Target {
  enum class Kind { kName, kAddress, kNetwork } kind = Kind::kName;
  std::string name;  // kName
  Address address;   // kAddress, kNetwork (masked to the network)
  int prefix = 0;    // kNetwork
  std::optional<std::vector<PortSpec>> ports;
};

Result<Target> parse_network(std::string_view text, int family) {
  auto slash = text.find('/');
  auto address = parse_address(text.substr(0, slash), family);
  int max = family == AF_INET ? 32 : 128;
  auto len = parse_number(text.substr(slash + 1), 3);
  if (!address || !len || static_cast<int>(*len) > max) {
    return invalid("'" + std::string(text) + "' is not a CIDR range");
  }
  Target t;
  t.kind = Target::Kind::kNetwork;
  t.address = *address;
  t.prefix = static_cast<int>(*len);
  // Host bits given ("10.0.0.5/24") mean the network, as routers and nmap read it.
  for (int bit = t.prefix; bit < max; ++bit) {
    t.address.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return t;
}

// `host` without a port: an address, a network or a name.
Result<Target> parse_host(std::string_view host, bool v6_only) {
  if (host.empty()) return invalid("empty host");
  int family = v6_only || host.find(':') != std::string_view::npos ? AF_INET6 : AF_INET;
  if (host.find('/') != std::string_view::npos) return parse_network(host, family);
  if (auto a = parse_address(host, family)) {
    Target t;
    t.kind = Target::Kind::kAddress;
    t.address = *a;
    return t;
  }
  std::string name = lower(host);
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  if (family == AF_INET6 || !is_host_name(name)) {
    return invalid("'" + std::string(host) + "' is not a host name, an address or a CIDR range");
  }
  Target t;
  t.name = std::move(name);
  return t;
}

Result<Target> parse_target(std::string_view spec) {
  spec = trim(spec);
  if (spec.empty()) return invalid("empty target");
  std::string_view host = spec;
  std::optional<std::string_view> port_part;
  bool bracketed = false;
  if (spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string_view::npos) return invalid("'" + std::string(spec) + "': no ']'");
    host = spec.substr(1, close - 1);
    std::string_view after = spec.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return invalid("'" + std::string(spec) + "': expected ':' and a port after ']'");
      }
      port_part = after.substr(1);
    }
    bracketed = true;
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    auto colon = spec.find(':');
    host = spec.substr(0, colon);
    port_part = spec.substr(colon + 1);
  }
  CW_ASSIGN_OR_RETURN(Target t, parse_host(host, bracketed));
  if (bracketed && t.kind == Target::Kind::kName) {
    return invalid("'" + std::string(spec) + "': only an IPv6 address goes in brackets");
  }
  if (port_part) {
    if (port_part->empty()) return invalid("'" + std::string(spec) + "': empty port");
    CW_ASSIGN_OR_RETURN(t.ports, parse_ports(*port_part));
  }
  return t;
}

// Saturating, so that a /0 of IPv6 counts as "too many" rather than wrapping.
std::size_t saturating_mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
  return a * b;
}

std::size_t address_count(const Target& t) {
  if (t.kind != Target::Kind::kNetwork) return 1;
  int host_bits = static_cast<int>(t.address.size()) * 8 - t.prefix;
  if (host_bits >= 63) return SIZE_MAX;
  return std::size_t{1} << host_bits;
}

std::size_t endpoints_per_address(const std::vector<PortSpec>& ports, bool by_address,
                                  std::size_t sni_names) {
  std::size_t n = 0;
  for (const auto& p : ports) n += p.protocol == "ssh" || !by_address ? 1 : sni_names + 1;
  return n;
}

// Adds endpoints while keeping the first of each duplicate; false once over `cap`.
class EndpointList {
 public:
  explicit EndpointList(std::size_t cap) : cap_(cap) {}

  bool add(Endpoint e) {
    // An unresolved name has no address: the name stands for it.
    const std::string& where = e.address.empty() ? e.host : e.address;
    if (!seen_.emplace(where, e.port, e.sni, e.starttls).second) return true;
    if (out_.size() == cap_) return false;
    out_.push_back(std::move(e));
    return true;
  }

  std::vector<Endpoint> take() { return std::move(out_); }

 private:
  std::size_t cap_;
  std::set<std::tuple<std::string, std::uint16_t, std::string, std::string>> seen_;
  std::vector<Endpoint> out_;
};

bool add_for_address(EndpointList& list, const std::string& host, const std::string& address,
                     const std::vector<PortSpec>& ports, const std::vector<std::string>* sni) {
  for (const auto& p : ports) {
    Endpoint e{host, address, p.port, "", p.protocol};
    if (p.protocol != "ssh" && sni != nullptr) {
      for (const auto& name : *sni) {
        Endpoint named = e;
        named.sni = name;
        if (!list.add(std::move(named))) return false;
      }
    }
    if (p.protocol != "ssh" && sni == nullptr) e.sni = host;
    if (!list.add(std::move(e))) return false;
  }
  return true;
}

void next_address(Address& a) {
  for (std::size_t i = a.size(); i-- > 0;) {
    if (++a.bytes[i] != 0) break;
  }
}

std::unexpected<Error> too_many(std::size_t cap) {
  return invalid("the request expands to more than " + std::to_string(cap) +
                 " endpoints; narrow it or raise the limit");
}

}  // namespace

Result<std::vector<std::string>> system_resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return fail(ErrorCode::kNotFound, host + ": " + ::gai_strerror(rc));
  std::vector<std::string> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
    if (::inet_ntop(a->ai_family, raw, buf, sizeof buf) != nullptr &&
        std::find(out.begin(), out.end(), buf) == out.end()) {
      out.emplace_back(buf);
    }
  }
  ::freeaddrinfo(found);
  return out;
}

Result<std::vector<PortSpec>> parse_ports(std::string_view spec) {
  std::vector<PortSpec> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = spec.find(',', start);
    std::string_view item = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    CW_RETURN_IF_ERROR(parse_port_item(item, out));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::vector<PortSpec> unique;
  std::set<std::pair<std::uint16_t, std::string>> seen;
  for (auto& p : out) {
    if (seen.emplace(p.port, p.protocol).second) unique.push_back(std::move(p));
  }
  return unique;
}

Result<std::vector<Endpoint>> expand(const ScanRequest& request, const Resolver& resolve) {
  if (request.max_endpoints == 0) return invalid("max_endpoints must be positive");
  if (request.targets.empty()) return invalid("no targets");
  CW_ASSIGN_OR_RETURN(auto default_ports, parse_ports(request.ports));
  std::vector<std::string> sni;
  std::set<std::string> seen;
  for (const auto& name : request.sni) {
    std::string n = lower(trim(name));
    if (!is_host_name(n)) return invalid("SNI '" + name + "' is not a host name");
    if (seen.insert(n).second) sni.push_back(std::move(n));
  }
  std::vector<Target> targets;
  std::size_t total = 0;
  for (const auto& spec : request.targets) {
    CW_ASSIGN_OR_RETURN(Target t, parse_target(spec));
    const auto& ports = t.ports ? *t.ports : default_ports;
    std::size_t per = endpoints_per_address(ports, t.kind != Target::Kind::kName, sni.size());
    std::size_t more = saturating_mul(address_count(t), per);
    if (more > request.max_endpoints - total) return too_many(request.max_endpoints);
    total += more;
    targets.push_back(std::move(t));
  }
  EndpointList list(request.max_endpoints);
  for (const auto& t : targets) {
    const auto& ports = t.ports ? *t.ports : default_ports;
    bool fits = true;
    if (t.kind == Target::Kind::kName) {
      auto addresses = resolve(t.name);
      if (!addresses || addresses->empty()) {
        fits = add_for_address(list, t.name, "", ports, nullptr);
      } else {
        for (const auto& a : *addresses) {
          fits = fits && add_for_address(list, t.name, a, ports, nullptr);
        }
      }
    } else {
      Address a = t.address;
      for (std::size_t i = 0, n = address_count(t); i < n && fits; ++i, next_address(a)) {
        std::string text = a.text();
        fits = add_for_address(list, text, text, ports, &sni);
      }
    }
    if (!fits) return too_many(request.max_endpoints);
  }
  return list.take();
}

}  // namespace certward::discovery::net
