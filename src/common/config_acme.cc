// [acme] and [acme.directories.<name>]: the ACME server's directories, lifetimes, validator
// and rate limits (docs/configuration.md).

#include <algorithm>
#include <set>

#include "common/config_toml.h"

namespace certward::config_detail {
namespace {

// The path words of a directory's resources: a directory named like one would shadow the
// default directory's routes.
const std::set<std::string, std::less<>> kReservedNames = {
    "directory", "new-nonce", "new-account", "new-order", "revoke-cert", "key-change",
    "account",   "order",     "authz",       "chall",     "cert",        "renewal-info"};

// The keys a directory table may set; `handled` tells whether `key` was one of them.
Result<bool> parse_directory_key(std::string_view key, const toml::node& v,
                                 AcmeDirectorySettings& d, std::string_view src) {
  if (key == "profiles") {
    CW_ASSIGN_OR_RETURN(d.profiles, get_strings(v, key, src));
  } else if (key == "default_profile") {
    CW_ASSIGN_OR_RETURN(d.default_profile, get_string(v, key, src));
  } else if (key == "authority") {
    CW_ASSIGN_OR_RETURN(d.authority, get_string(v, key, src));
  } else if (key == "external_account_required") {
    CW_ASSIGN_OR_RETURN(d.external_account_required, get_bool(v, key, src));
  } else if (key == "terms_of_service") {
    CW_ASSIGN_OR_RETURN(d.terms_of_service, get_string(v, key, src));
  } else if (key == "website") {
    CW_ASSIGN_OR_RETURN(d.website, get_string(v, key, src));
  } else if (key == "caa_identities") {
    CW_ASSIGN_OR_RETURN(d.caa_identities, get_strings(v, key, src));
  } else {
    return false;
  }
  return true;
}

}  // namespace

Status parse_acme(const toml::table& t, AcmeSettings& acme, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    CW_ASSIGN_OR_RETURN(bool handled, parse_directory_key(key, v, acme.directory, src));
    if (handled || key == "directories") continue;
    if (key == "enabled") {
      CW_ASSIGN_OR_RETURN(acme.enabled, get_bool(v, key, src));
    } else if (key == "order_lifetime") {
      CW_ASSIGN_OR_RETURN(acme.order_lifetime, get_duration(v, key, src));
    } else if (key == "authorization_lifetime") {
      CW_ASSIGN_OR_RETURN(acme.authorization_lifetime, get_duration(v, key, src));
    } else if (key == "pending_authorization_lifetime") {
      CW_ASSIGN_OR_RETURN(acme.pending_authorization_lifetime, get_duration(v, key, src));
    } else if (key == "nonce_lifetime") {
      CW_ASSIGN_OR_RETURN(acme.nonce_lifetime, get_duration(v, key, src));
    } else if (key == "max_nonces") {
      CW_ASSIGN_OR_RETURN(acme.max_nonces, get_int_as<std::size_t>(v, key, src));
    } else if (key == "http01_port") {
      CW_ASSIGN_OR_RETURN(acme.http01_port, get_int_as<std::uint16_t>(v, key, src));
    } else if (key == "https_port") {
      CW_ASSIGN_OR_RETURN(acme.https_port, get_int_as<std::uint16_t>(v, key, src));
    } else if (key == "tls_alpn01_port") {
      CW_ASSIGN_OR_RETURN(acme.tls_alpn01_port, get_int_as<std::uint16_t>(v, key, src));
    } else if (key == "resolver") {
      CW_ASSIGN_OR_RETURN(acme.resolver, get_string(v, key, src));
    } else if (key == "validation_timeout") {
      CW_ASSIGN_OR_RETURN(acme.validation_timeout, get_duration(v, key, src));
    } else if (key == "validation_retries") {
      CW_ASSIGN_OR_RETURN(acme.validation_retries, get_int_as<int>(v, key, src));
    } else if (key == "validation_threads") {
      CW_ASSIGN_OR_RETURN(acme.validation_threads, get_int_as<int>(v, key, src));
    } else if (key == "orders_per_account_per_hour") {
      CW_ASSIGN_OR_RETURN(acme.orders_per_account_per_hour, get_int_as<int>(v, key, src));
    } else if (key == "pending_orders_per_account") {
      CW_ASSIGN_OR_RETURN(acme.pending_orders_per_account, get_int_as<int>(v, key, src));
    } else if (key == "certificates_per_domain_per_week") {
      CW_ASSIGN_OR_RETURN(acme.certificates_per_domain_per_week, get_int_as<int>(v, key, src));
    } else if (key == "new_accounts_per_address_per_hour") {
      CW_ASSIGN_OR_RETURN(acme.new_accounts_per_address_per_hour, get_int_as<int>(v, key, src));
    } else {
      return unknown_key(v, "acme", key, src);
    }
  }
  // The named directories inherit from [acme], whatever the order of the file.
  if (const auto* dirs = t.get("directories")) {
    if (!dirs->is_table())
      return fail(ErrorCode::kMalformed,
                  where(*dirs, src) + ": [acme.directories] must be a table");
    for (const auto& [name, v] : *dirs->as_table()) {
      const std::string table = "acme.directories." + std::string(name.str());
      if (!v.is_table())
        return fail(ErrorCode::kMalformed, where(v, src) + ": [" + table + "] must be a table");
      AcmeDirectorySettings d = acme.directory;
      d.name = std::string(name.str());
      // A directory that names its own profiles does not inherit [acme]'s default profile.
      if (v.as_table()->contains("profiles")) d.default_profile.clear();
      for (const auto& [dk, dv] : *v.as_table()) {
        CW_ASSIGN_OR_RETURN(bool ok_key, parse_directory_key(dk.str(), dv, d, src));
        if (!ok_key) return unknown_key(dv, table, dk.str(), src);
      }
      acme.directories[d.name] = std::move(d);
    }
  }
  return ok();
}

Status validate_acme(const AcmeSettings& acme) {
  using std::chrono::seconds;
  auto bad = [](std::string_view what) {
    return fail(ErrorCode::kMalformed, "acme." + std::string(what));
  };
  CW_RETURN_IF_ERROR(validate_acme_directory(acme.directory, "acme"));
  for (const auto& [name, d] : acme.directories) {
    if (!acme_directory_name_ok(name))
      return bad("directories: '" + name +
                 "' is not a directory name (a-z, 0-9, '-', '_'; not a resource word)");
    CW_RETURN_IF_ERROR(validate_acme_directory(d, "acme.directories." + name));
  }
  if (acme.order_lifetime < seconds(60) || acme.order_lifetime > std::chrono::days(30))
    return bad("order_lifetime must be between 1m and 30d");
  if (acme.authorization_lifetime < seconds(0) ||
      acme.authorization_lifetime > std::chrono::days(398))
    return bad("authorization_lifetime must be at most 398d");
  if (acme.pending_authorization_lifetime < seconds(60) ||
      acme.pending_authorization_lifetime > std::chrono::days(30))
    return bad("pending_authorization_lifetime must be between 1m and 30d");
  if (acme.nonce_lifetime < seconds(10) || acme.nonce_lifetime > std::chrono::days(1))
    return bad("nonce_lifetime must be between 10s and 1d");
  if (acme.max_nonces < 1000 || acme.max_nonces > 100'000'000)
    return bad("max_nonces must be between 1000 and 100000000");
  if (acme.http01_port == 0 || acme.https_port == 0 || acme.tls_alpn01_port == 0)
    return bad("http01_port, https_port and tls_alpn01_port must be ports (1-65535)");
  if (acme.validation_timeout < seconds(1) || acme.validation_timeout > seconds(300))
    return bad("validation_timeout must be between 1s and 5m");
  if (acme.validation_retries < 0 || acme.validation_retries > 10)
    return bad("validation_retries must be between 0 and 10");
  if (acme.validation_threads < 1 || acme.validation_threads > 64)
    return bad("validation_threads must be between 1 and 64");
  for (int limit :
       {acme.orders_per_account_per_hour, acme.pending_orders_per_account,
        acme.certificates_per_domain_per_week, acme.new_accounts_per_address_per_hour}) {
    if (limit < 0) return bad("rate limits must be 0 (none) or positive");
  }
  return ok();
}

}  // namespace certward::config_detail

namespace certward {

bool acme_directory_name_ok(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }) && !config_detail::kReservedNames.contains(name);
}

Status validate_acme_directory(const AcmeDirectorySettings& d, std::string_view table) {
  auto bad = [&](std::string_view what) {
    return fail(ErrorCode::kMalformed, "[" + std::string(table) + "] " + std::string(what));
  };
  if (d.profiles.empty()) return bad("profiles must name at least one profile");
  if (!d.default_profile.empty() &&
      std::find(d.profiles.begin(), d.profiles.end(), d.default_profile) == d.profiles.end())
    return bad("default_profile must be one of profiles");
  for (const std::string* url : {&d.terms_of_service, &d.website}) {
    if (!url->empty() && !url->starts_with("https://") && !url->starts_with("http://"))
      return bad("terms_of_service and website must be http(s) URLs");
  }
  return ok();
}

}  // namespace certward
