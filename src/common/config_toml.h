#pragma once
// Private to the configuration parser: reading typed values out of TOML nodes with errors
// that name the file and line. Shared by config.cc and the files that parse one section each
// (config_acme.cc).

#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"

namespace certward::config_detail {

std::string where(const toml::node& n, std::string_view source);
Result<std::string> get_string(const toml::node& n, std::string_view key, std::string_view source);
Result<bool> get_bool(const toml::node& n, std::string_view key, std::string_view source);
Result<std::int64_t> get_int(const toml::node& n, std::string_view key, std::string_view source);
Result<std::vector<std::string>> get_strings(const toml::node& n, std::string_view key,
                                             std::string_view source);
Result<std::chrono::seconds> get_duration(const toml::node& n, std::string_view key,
                                          std::string_view source);
Status unknown_key(const toml::node& n, std::string_view table, std::string_view key,
                   std::string_view source);

template <typename T>
Result<T> get_int_as(const toml::node& n, std::string_view key, std::string_view source) {
  CW_ASSIGN_OR_RETURN(std::int64_t v, get_int(n, key, source));
  if (!std::in_range<T>(v)) {
    return fail(ErrorCode::kMalformed,
                where(n, source) + ": '" + std::string(key) + "' is out of range");
  }
  return static_cast<T>(v);
}

// A declaration's table ([[managed]], [[policy.rule]]) as the JSON of a REST body: the
// service that owns it parses both the same way. Dates and times have no JSON form and are
// refused (config_lifecycle.cc).
Result<nlohmann::json> to_json(const toml::node& n, std::string_view src, int depth = 0);
// An array of such tables ([[<table>]]), each with where it was declared.
Status parse_declarations(const toml::node& v, std::string_view table,
                          std::vector<ManagedDeclaration>& out, std::string_view src);

// [policy] and its [[policy.rule]] tables (config_policy.cc).
Status parse_policy(const toml::table& t, PolicySettings& p, std::string_view src);

// [approvals] (config_policy.cc).
Status parse_approvals(const toml::table& t, ApprovalSettings& a, std::string_view src);
Status validate_approvals(const ApprovalSettings& a);
// [acme] and [acme.directories.<name>] (config_acme.cc).
Status parse_acme(const toml::table& t, AcmeSettings& acme, std::string_view src);
Status validate_acme(const AcmeSettings& acme);

// [est] and [est.labels.<name>] (config_enrollment.cc).
Status parse_est(const toml::table& t, EstSettings& est, std::string_view src);
Status validate_est(const EstSettings& est);
Status parse_scep(const toml::table& t, ScepSettings& scep, std::string_view src);
Status validate_scep(const ScepSettings& scep);
Status parse_cmp(const toml::table& t, CmpSettings& cmp, std::string_view src);
Status validate_cmp(const CmpSettings& cmp);

// [discovery] and [[discovery.ownership]] (config_discovery.cc).
Status parse_discovery(const toml::table& t, DiscoverySettings& d, std::string_view src);
Status validate_discovery(const DiscoverySettings& d);

// [lifecycle] and [[managed]] (config_lifecycle.cc).
Status parse_lifecycle(const toml::table& t, LifecycleSettings& l, std::string_view src);
Status parse_managed(const toml::node& v, LifecycleSettings& l, std::string_view src);
Status validate_lifecycle(const LifecycleSettings& l);
Status parse_alerts(const toml::table& t, AlertsDeclaration& a, std::string_view src);

// [ssh] and [ssh.profiles.<name>] (config_ssh.cc).
// Names of authorities, SSH CAs and profiles, issuers: 1-64 of a-z, 0-9, '-', '_', not
// starting with '-' or '_'.
bool valid_resource_name(std::string_view n);

Status parse_ssh(const toml::table& t, SshSettings& ssh, std::string_view src);
Status validate_ssh(const SshSettings& ssh);
Status parse_issuers(const toml::table& t, std::vector<IssuerSettings>& issuers,
                     std::string_view src);
Status validate_issuers(const Config& c);

}  // namespace certward::config_detail
