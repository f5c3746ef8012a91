// [discovery] and [[discovery.ownership]]: what scans the server runs may dial, their bounds
// and defaults, and the ownership rules (docs/configuration.md, docs/discovery.md).

#include <arpa/inet.h>

#include "common/config_toml.h"

namespace certward::config_detail {
namespace {

// "10.0.0.0/8", "::1/128": an address and a prefix no longer than the address.
bool valid_cidr(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string addr(text.substr(0, slash));
  const std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != bits.npos) {
    return false;
  }
  const int prefix = std::stoi(std::string(bits));
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return prefix <= 32;
  if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) return prefix <= 128;
  return false;
}

Status parse_ownership(const toml::node& v, std::vector<DiscoveryOwnershipSettings>& out,
                       std::string_view src) {
  const toml::array* rules = v.as_array();
  if (!rules) {
    return fail(ErrorCode::kMalformed,
                where(v, src) + ": discovery.ownership must be an array of tables");
  }
  for (const toml::node& item : *rules) {
    const toml::table* t = item.as_table();
    if (!t) {
      return fail(ErrorCode::kMalformed, where(item, src) + ": [[discovery.ownership]] entry");
    }
    DiscoveryOwnershipSettings rule;
    for (const auto& [k, rv] : *t) {
      const std::string_view key = k.str();
      std::string* field = key == "team"   ? &rule.team
                           : key == "cidr" ? &rule.cidr
                           : key == "host" ? &rule.host
                           : key == "path" ? &rule.path
                                           : nullptr;
      if (!field) return unknown_key(rv, "discovery.ownership", key, src);
      CW_ASSIGN_OR_RETURN(*field, get_string(rv, key, src));
    }
    out.push_back(std::move(rule));
  }
  return ok();
}

}  // namespace

Status parse_discovery(const toml::table& t, DiscoverySettings& d, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "allowed_networks") {
      CW_ASSIGN_OR_RETURN(d.allowed_networks, get_strings(v, key, src));
    } else if (key == "max_endpoints") {
      CW_ASSIGN_OR_RETURN(d.max_endpoints, get_int_as<std::size_t>(v, key, src));
    } else if (key == "concurrency") {
      CW_ASSIGN_OR_RETURN(d.concurrency, get_int_as<std::size_t>(v, key, src));
    } else if (key == "connect_timeout") {
      CW_ASSIGN_OR_RETURN(d.connect_timeout, get_duration(v, key, src));
    } else if (key == "handshake_timeout") {
      CW_ASSIGN_OR_RETURN(d.handshake_timeout, get_duration(v, key, src));
    } else if (key == "rate_limit") {
      CW_ASSIGN_OR_RETURN(auto rate, get_int_as<std::uint32_t>(v, key, src));
      d.rate_limit = rate;
    } else if (key == "probe_legacy") {
      CW_ASSIGN_OR_RETURN(d.probe_legacy, get_bool(v, key, src));
    } else if (key == "check_revocation") {
      CW_ASSIGN_OR_RETURN(d.check_revocation, get_bool(v, key, src));
    } else if (key == "use_system_trust") {
      CW_ASSIGN_OR_RETURN(d.use_system_trust, get_bool(v, key, src));
    } else if (key == "expiring_window") {
      CW_ASSIGN_OR_RETURN(d.expiring_window, get_duration(v, key, src));
    } else if (key == "max_file_size") {
      CW_ASSIGN_OR_RETURN(d.max_file_size, get_int_as<std::uint64_t>(v, key, src));
    } else if (key == "allowed_paths") {
      CW_ASSIGN_OR_RETURN(d.allowed_paths, get_strings(v, key, src));
    } else if (key == "ownership") {
      CW_RETURN_IF_ERROR(parse_ownership(v, d.ownership, src));
    } else {
      CW_RETURN_IF_ERROR(unknown_key(v, "discovery", key, src));
    }
  }
  return ok();
}

Status validate_discovery(const DiscoverySettings& d) {
  auto bad = [](std::string what) {
    return fail(ErrorCode::kMalformed, "discovery." + std::move(what));
  };
  for (const auto& net : d.allowed_networks) {
    if (!valid_cidr(net)) return bad("allowed_networks: '" + net + "' is not an address/prefix");
  }
  if (d.max_endpoints < 1 || d.max_endpoints > 16'777'216) {
    return bad("max_endpoints must be between 1 and 16777216");
  }
  if (d.concurrency < 1 || d.concurrency > 10'000) {
    return bad("concurrency must be between 1 and 10000");
  }
  for (auto t : {d.connect_timeout, d.handshake_timeout}) {
    if (t < std::chrono::seconds(1) || t > std::chrono::minutes(5)) {
      return bad("connect_timeout and handshake_timeout must be between 1s and 5m");
    }
  }
  for (const auto& path : d.allowed_paths) {
    if (!path.starts_with('/')) return bad("allowed_paths: '" + path + "' is not absolute");
  }
  if (d.max_file_size < 1 || d.max_file_size > (1ull << 30)) {
    return bad("max_file_size must be between 1 and 1073741824 bytes");
  }
  for (const auto& r : d.ownership) {
    const int patterns = int(!r.cidr.empty()) + int(!r.host.empty()) + int(!r.path.empty());
    if (r.team.empty() || patterns != 1) {
      return bad("ownership: each rule needs a team and exactly one of cidr, host, path");
    }
    // A bare address is a network of one.
    const bool bare = r.cidr.find('/') == std::string::npos;
    const std::string cidr =
        bare ? r.cidr + (r.cidr.find(':') == std::string::npos ? "/32" : "/128") : r.cidr;
    if (!r.cidr.empty() && !valid_cidr(cidr)) return bad("ownership: bad cidr '" + r.cidr + "'");
  }
  return ok();
}

}  // namespace certward::config_detail
