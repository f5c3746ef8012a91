// [lifecycle] and [[managed]]: where managed certificates may be deployed, how they are
// reconciled, and the managed certificates the configuration declares (docs/configuration.md,
// docs/automation.md).

#include "common/config_toml.h"
#include "common/network.h"

namespace certward::config_detail {

Result<nlohmann::json> to_json(const toml::node& n, std::string_view src, int depth) {
  if (depth > 16) return fail(ErrorCode::kMalformed, where(n, src) + ": nested too deeply");
  if (const auto* t = n.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : *t) {
      CW_ASSIGN_OR_RETURN(out[std::string(k.str())], to_json(v, src, depth + 1));
    }
    return out;
  }
  if (const auto* a = n.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : *a) {
      CW_ASSIGN_OR_RETURN(auto item, to_json(v, src, depth + 1));
      out.push_back(std::move(item));
    }
    return out;
  }
  if (auto s = n.value<std::string>(); s && n.is_string()) return nlohmann::json(*s);
  if (n.is_integer()) return nlohmann::json(*n.value<std::int64_t>());
  if (n.is_floating_point()) return nlohmann::json(*n.value<double>());
  if (n.is_boolean()) return nlohmann::json(*n.value<bool>());
  return fail(ErrorCode::kMalformed, where(n, src) +
                                         ": holds strings, numbers, booleans, lists "
                                         "and tables only");
}

Status parse_lifecycle(const toml::table& t, LifecycleSettings& l, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "allowed_paths") {
      CW_ASSIGN_OR_RETURN(l.allowed_paths, get_strings(v, key, src));
    } else if (key == "allowed_ssh_hosts") {
      CW_ASSIGN_OR_RETURN(l.allowed_ssh_hosts, get_strings(v, key, src));
    } else if (key == "ssh_binary") {
      CW_ASSIGN_OR_RETURN(l.ssh_binary, get_string(v, key, src));
    } else if (key == "scp_binary") {
      CW_ASSIGN_OR_RETURN(l.scp_binary, get_string(v, key, src));
    } else if (key == "team_reload_commands") {
      CW_ASSIGN_OR_RETURN(l.team_reload_commands, get_strings(v, key, src));
    } else if (key == "verify_networks") {
      CW_ASSIGN_OR_RETURN(l.verify_networks, get_strings(v, key, src));
    } else if (key == "team_secrets_dir") {
      CW_ASSIGN_OR_RETURN(l.team_secrets_dir, get_string(v, key, src));
    } else if (key == "concurrency") {
      CW_ASSIGN_OR_RETURN(l.concurrency, get_int_as<int>(v, key, src));
    } else if (key == "batch") {
      CW_ASSIGN_OR_RETURN(l.batch, get_int_as<int>(v, key, src));
    } else if (key == "poll_interval_ms") {
      CW_ASSIGN_OR_RETURN(l.poll_interval_ms, get_int_as<int>(v, key, src));
    } else if (key == "lease") {
      CW_ASSIGN_OR_RETURN(l.lease, get_duration(v, key, src));
    } else if (key == "retry_base") {
      CW_ASSIGN_OR_RETURN(l.retry_base, get_duration(v, key, src));
    } else if (key == "retry_max") {
      CW_ASSIGN_OR_RETURN(l.retry_max, get_duration(v, key, src));
    } else if (key == "max_attempts") {
      CW_ASSIGN_OR_RETURN(l.max_attempts, get_int_as<int>(v, key, src));
    } else if (key == "jitter_percent") {
      CW_ASSIGN_OR_RETURN(l.jitter_percent, get_int_as<int>(v, key, src));
    } else if (key == "agent_deploy_timeout") {
      CW_ASSIGN_OR_RETURN(l.agent_deploy_timeout, get_duration(v, key, src));
    } else if (key == "sweep_interval") {
      CW_ASSIGN_OR_RETURN(l.sweep_interval, get_duration(v, key, src));
    } else {
      CW_RETURN_IF_ERROR(unknown_key(v, "lifecycle", key, src));
    }
  }
  return ok();
}

Status parse_declarations(const toml::node& v, std::string_view table,
                          std::vector<ManagedDeclaration>& out, std::string_view src) {
  const std::string name(table);
  const toml::array* list = v.as_array();
  if (!list) {
    return fail(ErrorCode::kMalformed,
                where(v, src) + ": " + name + " must be an array of tables ([[" + name + "]])");
  }
  for (const toml::node& item : *list) {
    if (!item.is_table()) {
      return fail(ErrorCode::kMalformed, where(item, src) + ": [[" + name + "]] entry");
    }
    CW_ASSIGN_OR_RETURN(auto spec, to_json(item, src));
    out.push_back({std::move(spec), where(item, src)});
  }
  return ok();
}

Status parse_managed(const toml::node& v, LifecycleSettings& l, std::string_view src) {
  return parse_declarations(v, "managed", l.managed, src);
}

Status parse_alerts(const toml::table& t, AlertsDeclaration& a, std::string_view src) {
  CW_ASSIGN_OR_RETURN(a.spec, to_json(t, src));
  a.where = where(t, src);
  return ok();
}

Status validate_lifecycle(const LifecycleSettings& l) {
  auto bad = [](std::string what) {
    return fail(ErrorCode::kMalformed, "lifecycle." + std::move(what));
  };
  for (const auto& path : l.allowed_paths) {
    if (!path.starts_with('/')) return bad("allowed_paths: '" + path + "' is not absolute");
  }
  for (const auto* bin : {&l.ssh_binary, &l.scp_binary}) {
    if (!bin->starts_with('/')) return bad("ssh_binary and scp_binary must be absolute paths");
  }
  for (const auto& command : l.team_reload_commands) {
    if (!command.starts_with('/')) {
      return bad("team_reload_commands: '" + command + "' does not start with an absolute path");
    }
  }
  for (const auto& net : l.verify_networks) {
    if (!parse_cidr(net)) return bad("verify_networks: '" + net + "' is not an address/prefix");
  }
  if (!l.team_secrets_dir.empty() && !l.team_secrets_dir.starts_with('/')) {
    return bad("team_secrets_dir must be an absolute path");
  }
  if (l.concurrency < 1 || l.concurrency > 64) return bad("concurrency must be between 1 and 64");
  if (l.batch < 1 || l.batch > 1000) return bad("batch must be between 1 and 1000");
  if (l.poll_interval_ms < 10 || l.poll_interval_ms > 60'000) {
    return bad("poll_interval_ms must be between 10 and 60000");
  }
  if (l.lease < std::chrono::seconds(30) || l.lease > std::chrono::hours(24)) {
    return bad("lease must be between 30s and 24h");
  }
  if (l.retry_base < std::chrono::seconds(1) || l.retry_max < l.retry_base ||
      l.retry_max > std::chrono::days(1)) {
    return bad("retry_base must be at least 1s and retry_max between it and 1d");
  }
  if (l.max_attempts < 1 || l.max_attempts > 100) {
    return bad("max_attempts must be between 1 and 100");
  }
  if (l.jitter_percent < 0 || l.jitter_percent > 50) {
    return bad("jitter_percent must be between 0 and 50");
  }
  if (l.sweep_interval < std::chrono::seconds(1) || l.sweep_interval > std::chrono::hours(24)) {
    return bad("sweep_interval must be between 1s and 24h");
  }
  if (l.agent_deploy_timeout < std::chrono::seconds(10) ||
      l.agent_deploy_timeout > std::chrono::days(7)) {
    return bad("agent_deploy_timeout must be between 10s and 7d");
  }
  return ok();
}

}  // namespace certward::config_detail
