// [ssh] and [ssh.profiles.<name>]: the SSH certificate authority's profiles (docs/ssh.md).
#include "common/config_toml.h"

namespace certward::config_detail {
namespace {

constexpr std::string_view kExtensions[] = {"no-touch-required",      "permit-X11-forwarding",
                                            "permit-agent-forwarding", "permit-port-forwarding",
                                            "permit-pty",              "permit-user-rc"};

bool known_extension(std::string_view e) {
  return std::find(std::begin(kExtensions), std::end(kExtensions), e) != std::end(kExtensions);
}

Status parse_profile(std::string name, const toml::table& t, SshProfileSettings& p,
                     std::string_view src) {
  p.name = std::move(name);
  bool allowed_set = false;
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "type") {
      CW_ASSIGN_OR_RETURN(p.type, get_string(v, key, src));
    } else if (key == "authority") {
      CW_ASSIGN_OR_RETURN(p.authority, get_string(v, key, src));
    } else if (key == "max_validity") {
      CW_ASSIGN_OR_RETURN(p.max_validity, get_duration(v, key, src));
    } else if (key == "default_validity") {
      CW_ASSIGN_OR_RETURN(p.default_validity, get_duration(v, key, src));
    } else if (key == "principals") {
      CW_ASSIGN_OR_RETURN(p.principals, get_strings(v, key, src));
    } else if (key == "extensions") {
      CW_ASSIGN_OR_RETURN(p.extensions, get_strings(v, key, src));
    } else if (key == "allowed_extensions") {
      CW_ASSIGN_OR_RETURN(p.allowed_extensions, get_strings(v, key, src));
      allowed_set = true;
    } else if (key == "allow_force_command") {
      CW_ASSIGN_OR_RETURN(p.allow_force_command, get_bool(v, key, src));
    } else if (key == "allow_source_address") {
      CW_ASSIGN_OR_RETURN(p.allow_source_address, get_bool(v, key, src));
    } else if (key == "team_principals" && v.is_table()) {
      for (const auto& [team, tv] : *v.as_table()) {
        CW_ASSIGN_OR_RETURN(p.team_principals[std::string(team.str())],
                            get_strings(tv, team.str(), src));
      }
    } else {
      return unknown_key(v, "ssh.profiles." + p.name, key, src);
    }
  }
  if (!allowed_set) p.allowed_extensions = p.extensions;
  return ok();
}

}  // namespace

Status parse_ssh(const toml::table& t, SshSettings& ssh, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "default_authority") {
      CW_ASSIGN_OR_RETURN(ssh.default_authority, get_string(v, key, src));
    } else if (key == "profiles" && v.is_table()) {
      for (const auto& [name, pv] : *v.as_table()) {
        if (!pv.is_table()) {
          return fail(ErrorCode::kMalformed, where(pv, src) + ": [ssh.profiles." +
                                                 std::string(name.str()) + "] must be a table");
        }
        SshProfileSettings p;
        CW_RETURN_IF_ERROR(parse_profile(std::string(name.str()), *pv.as_table(), p, src));
        ssh.profiles.push_back(std::move(p));
      }
    } else {
      return unknown_key(v, "ssh", key, src);
    }
  }
  return ok();
}

Status validate_ssh(const SshSettings& ssh) {
  if (!valid_resource_name(ssh.default_authority)) {
    return fail(ErrorCode::kMalformed, "ssh.default_authority: not an SSH CA name");
  }
  for (const auto& p : ssh.profiles) {
    auto bad = [&](const std::string& what) {
      return fail(ErrorCode::kMalformed, "ssh.profiles." + p.name + ": " + what);
    };
    if (!valid_resource_name(p.name)) return bad("a profile name is a-z, 0-9, '-' and '_'");
    if (!p.authority.empty() && !valid_resource_name(p.authority))
      return bad("authority: not an SSH CA name");
    auto empty_pattern = [](const std::vector<std::string>& v) {
      return std::any_of(v.begin(), v.end(), [](const std::string& s) { return s.empty(); });
    };
    if (empty_pattern(p.principals)) return bad("an empty principal pattern");
    for (const auto& [team, patterns] : p.team_principals) {
      if (empty_pattern(patterns)) return bad("team_principals." + team + ": an empty pattern");
    }
    if (p.type != "user" && p.type != "host") return bad("type is \"user\" or \"host\"");
    if (p.max_validity < std::chrono::minutes(1) || p.max_validity > std::chrono::days(3650)) {
      return bad("max_validity is 1m to 3650d");
    }
    if (p.default_validity < std::chrono::minutes(1) || p.default_validity > p.max_validity) {
      return bad("default_validity is 1m to max_validity");
    }
    for (const auto* list : {&p.extensions, &p.allowed_extensions}) {
      for (const auto& e : *list) {
        if (!known_extension(e)) return bad("unknown extension '" + e + "'");
        if (p.type == "host") return bad("host certificates carry no extensions");
      }
    }
    for (const auto& e : p.extensions) {
      if (std::find(p.allowed_extensions.begin(), p.allowed_extensions.end(), e) ==
          p.allowed_extensions.end()) {
        return bad("extension '" + e + "' is granted but not in allowed_extensions");
      }
    }
    if (p.type == "host" && (p.allow_force_command || p.allow_source_address)) {
      return bad("host certificates carry no critical options");
    }
    for (const auto& [team, patterns] : p.team_principals) {
      if (patterns.empty()) return bad("team_principals." + team + " allows no principal");
    }
  }
  return ok();
}

}  // namespace certward::config_detail
