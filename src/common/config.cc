#include "common/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "common/config_toml.h"

extern char** environ;

namespace certward {
namespace config_detail {

std::string where(const toml::node& n, std::string_view source) {
  const auto& src = n.source();
  return std::string(source) + ":" + std::to_string(src.begin.line);
}

Result<std::string> get_string(const toml::node& n, std::string_view key, std::string_view source) {
  if (auto v = n.value<std::string>()) return *v;
  return fail(ErrorCode::kMalformed,
              where(n, source) + ": '" + std::string(key) + "' must be a string");
}

Result<bool> get_bool(const toml::node& n, std::string_view key, std::string_view source) {
  if (auto v = n.value<bool>()) return *v;
  return fail(ErrorCode::kMalformed,
              where(n, source) + ": '" + std::string(key) + "' must be true or false");
}

Result<std::int64_t> get_int(const toml::node& n, std::string_view key, std::string_view source) {
  if (n.is_integer()) return n.value<std::int64_t>().value_or(0);
  return fail(ErrorCode::kMalformed,
              where(n, source) + ": '" + std::string(key) + "' must be an integer");
}

Result<std::vector<std::string>> get_strings(const toml::node& n, std::string_view key,
                                             std::string_view source) {
  const toml::array* arr = n.as_array();
  if (!arr) {
    return fail(ErrorCode::kMalformed,
                where(n, source) + ": '" + std::string(key) + "' must be an array of strings");
  }
  std::vector<std::string> out;
  for (const auto& el : *arr) {
    CW_ASSIGN_OR_RETURN(std::string s, get_string(el, key, source));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::chrono::seconds> get_duration(const toml::node& n, std::string_view key,
                                          std::string_view source) {
  CW_ASSIGN_OR_RETURN(std::string s, get_string(n, key, source));
  auto d = parse_duration(s);
  if (!d)
    return fail(ErrorCode::kMalformed,
                where(n, source) + ": '" + std::string(key) + "': " + d.error().message);
  return *d;
}

Status unknown_key(const toml::node& n, std::string_view table, std::string_view key,
                   std::string_view source) {
  return fail(ErrorCode::kMalformed, where(n, source) + ": unknown key '" + std::string(key) +
                                         "' in [" + std::string(table) + "]");
}

}  // namespace config_detail

namespace {
using namespace config_detail;

Status parse_database(const toml::table& t, DatabaseSettings& db, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "driver") {
      CW_ASSIGN_OR_RETURN(db.driver, get_string(v, key, src));
    } else if (key == "path") {
      CW_ASSIGN_OR_RETURN(db.path, get_string(v, key, src));
    } else if (key == "url") {
      CW_ASSIGN_OR_RETURN(db.url, get_string(v, key, src));
    } else if (key == "pool_size") {
      CW_ASSIGN_OR_RETURN(db.pool_size, get_int_as<int>(v, key, src));
    } else {
      return unknown_key(v, "database", key, src);
    }
  }
  return ok();
}

// [ca.pkcs11] and its [ca.pkcs11.tokens."<label>"] tables.
Status parse_ca_pkcs11(const toml::table& t, CaSettings& ca, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "module") {
      CW_ASSIGN_OR_RETURN(ca.pkcs11_module, get_string(v, key, src));
      if (!ca.pkcs11_module.starts_with("/")) {
        return fail(ErrorCode::kMalformed,
                    where(v, src) + ": ca.pkcs11.module must be an absolute path");
      }
    } else if (key == "tokens" && v.is_table()) {
      for (const auto& [label, tv] : *v.as_table()) {
        const std::string name(label.str());
        if (!tv.is_table() || name.empty() || name.size() > 32) {
          return fail(ErrorCode::kMalformed,
                      where(tv, src) +
                          ": [ca.pkcs11.tokens.\"<label>\"] is a table per token, "
                          "its label 1 to 32 bytes");
        }
        // Token labels are 32 bytes padded with blanks: one ending in a blank, or holding a
        // control character, could never be found.
        if (name.back() == ' ' || std::any_of(name.begin(), name.end(), [](unsigned char c) {
              return c < 0x20 || c == 0x7f;
            })) {
          return fail(ErrorCode::kMalformed, where(tv, src) + ": token label '" + name +
                                                 "' ends in a blank or holds a control character");
        }
        std::string source;
        int sources = 0;
        for (const auto& [tk, tval] : *tv.as_table()) {
          const std::string_view tkey = tk.str();
          if (tkey == "pin_env") {
            CW_ASSIGN_OR_RETURN(std::string env, get_string(tval, tkey, src));
            if (env.empty())
              return fail(ErrorCode::kMalformed, where(tval, src) + ": empty pin_env");
            source = "env:" + env;
          } else if (tkey == "pin_file") {
            CW_ASSIGN_OR_RETURN(std::string file, get_string(tval, tkey, src));
            if (!file.starts_with("/")) {
              return fail(ErrorCode::kMalformed,
                          where(tval, src) + ": pin_file must be an absolute path");
            }
            source = "file:" + file;
          } else {
            return unknown_key(tval, "ca.pkcs11.tokens." + name, tkey, src);
          }
          ++sources;
        }
        if (sources > 1) {
          return fail(ErrorCode::kMalformed,
                      where(tv, src) + ": token '" + name + "' has both pin_env and pin_file");
        }
        if (source.empty()) {
          return fail(ErrorCode::kMalformed,
                      where(tv, src) + ": token '" + name + "' needs pin_env or pin_file");
        }
        ca.pkcs11_pins[name] = source;
      }
    } else {
      return unknown_key(v, "ca.pkcs11", key, src);
    }
  }
  return ok();
}

Status parse_ca(const toml::table& t, CaSettings& ca, std::string_view src) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "master_key_file") {
      CW_ASSIGN_OR_RETURN(ca.master_key_file, get_string(v, key, src));
    } else if (key == "default_authority") {
      CW_ASSIGN_OR_RETURN(ca.default_authority, get_string(v, key, src));
    } else if (key == "crl_base_url") {
      CW_ASSIGN_OR_RETURN(ca.crl_base_url, get_string(v, key, src));
    } else if (key == "ocsp_url") {
      CW_ASSIGN_OR_RETURN(ca.ocsp_url, get_string(v, key, src));
    } else if (key == "ca_issuers_base_url") {
      CW_ASSIGN_OR_RETURN(ca.ca_issuers_base_url, get_string(v, key, src));
    } else if (key == "authority_recheck") {
      CW_ASSIGN_OR_RETURN(ca.authority_recheck, get_duration(v, key, src));
      if (ca.authority_recheck < std::chrono::seconds(1) ||
          ca.authority_recheck > std::chrono::hours(1)) {
        return fail(ErrorCode::kMalformed, "ca.authority_recheck must be between 1s and 1h");
      }
    } else if (key == "pkcs11" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_ca_pkcs11(*v.as_table(), ca, src));
    } else {
      return unknown_key(v, "ca", key, src);
    }
  }
  return ok();
}

Result<double> get_number(const toml::node& n, std::string_view key, std::string_view source) {
  if (n.is_integer()) return static_cast<double>(n.value<std::int64_t>().value_or(0));
  if (n.is_floating_point()) return n.value<double>().value_or(0);
  return fail(ErrorCode::kMalformed,
              where(n, source) + ": '" + std::string(key) + "' must be a number");
}

Status parse_server(const toml::table& t, ServerSettings& s, std::string_view src) {
  auto as_int = [&](const toml::node& v, std::string_view key, auto& out) -> Status {
    CW_ASSIGN_OR_RETURN(out, get_int_as<std::remove_reference_t<decltype(out)>>(v, key, src));
    return ok();
  };
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "listen") {
      CW_ASSIGN_OR_RETURN(s.listen, get_string(v, key, src));
    } else if (key == "http_listen") {
      CW_ASSIGN_OR_RETURN(s.http_listen, get_string(v, key, src));
    } else if (key == "hostnames") {
      CW_ASSIGN_OR_RETURN(s.hostnames, get_strings(v, key, src));
    } else if (key == "tls_cert_file") {
      CW_ASSIGN_OR_RETURN(s.tls_cert_file, get_string(v, key, src));
    } else if (key == "tls_key_file") {
      CW_ASSIGN_OR_RETURN(s.tls_key_file, get_string(v, key, src));
    } else if (key == "client_ca_file") {
      CW_ASSIGN_OR_RETURN(s.client_ca_file, get_string(v, key, src));
    } else if (key == "certificate_check_interval") {
      CW_ASSIGN_OR_RETURN(s.certificate_check_interval, get_duration(v, key, src));
    } else if (key == "serving_renew_before") {
      CW_ASSIGN_OR_RETURN(s.serving_renew_before, get_duration(v, key, src));
    } else if (key == "io_threads") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.io_threads));
    } else if (key == "worker_threads") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.worker_threads));
    } else if (key == "max_body_bytes") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.max_body_bytes));
    } else if (key == "read_timeout_seconds") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.read_timeout_seconds));
    } else if (key == "idle_timeout_seconds") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.idle_timeout_seconds));
    } else if (key == "shutdown_timeout_seconds") {
      CW_RETURN_IF_ERROR(as_int(v, key, s.shutdown_timeout_seconds));
    } else if (key == "rate_limit" && v.is_table()) {
      for (const auto& [rk, rv] : *v.as_table()) {
        const std::string_view rkey = rk.str();
        if (rkey == "requests_per_second") {
          CW_ASSIGN_OR_RETURN(s.rate_limit.requests_per_second, get_number(rv, rkey, src));
        } else if (rkey == "burst") {
          CW_ASSIGN_OR_RETURN(s.rate_limit.burst, get_number(rv, rkey, src));
        } else {
          return unknown_key(rv, "server.rate_limit", rkey, src);
        }
      }
    } else {
      return unknown_key(v, "server", key, src);
    }
  }
  return ok();
}

Status parse_profile(std::string_view name, const toml::table& t, ProfileSettings& p,
                     std::string_view src) {
  p.name = std::string(name);
  const std::string table = "profiles." + p.name;
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "description") {
      CW_ASSIGN_OR_RETURN(p.description, get_string(v, key, src));
    } else if (key == "key_types") {
      CW_ASSIGN_OR_RETURN(p.key_types, get_strings(v, key, src));
    } else if (key == "default_validity") {
      CW_ASSIGN_OR_RETURN(p.default_validity, get_duration(v, key, src));
    } else if (key == "max_validity") {
      CW_ASSIGN_OR_RETURN(p.max_validity, get_duration(v, key, src));
    } else if (key == "key_usage") {
      CW_ASSIGN_OR_RETURN(p.key_usage, get_strings(v, key, src));
    } else if (key == "extended_key_usage") {
      CW_ASSIGN_OR_RETURN(p.extended_key_usage, get_strings(v, key, src));
    } else if (key == "allowed_domains") {
      CW_ASSIGN_OR_RETURN(p.allowed_domains, get_strings(v, key, src));
    } else if (key == "allowed_ip_ranges") {
      CW_ASSIGN_OR_RETURN(p.allowed_ip_ranges, get_strings(v, key, src));
    } else if (key == "allow_wildcards") {
      CW_ASSIGN_OR_RETURN(p.allow_wildcards, get_bool(v, key, src));
    } else if (key == "allow_ip_sans") {
      CW_ASSIGN_OR_RETURN(p.allow_ip_sans, get_bool(v, key, src));
    } else if (key == "allow_email_sans") {
      CW_ASSIGN_OR_RETURN(p.allow_email_sans, get_bool(v, key, src));
    } else if (key == "allow_uri_sans") {
      CW_ASSIGN_OR_RETURN(p.allow_uri_sans, get_bool(v, key, src));
    } else if (key == "require_san") {
      CW_ASSIGN_OR_RETURN(p.require_san, get_bool(v, key, src));
    } else if (key == "subject_template") {
      CW_ASSIGN_OR_RETURN(p.subject_template, get_string(v, key, src));
    } else if (key == "requires_approval") {
      CW_ASSIGN_OR_RETURN(p.requires_approval, get_bool(v, key, src));
    } else if (key == "ca") {
      CW_ASSIGN_OR_RETURN(p.ca, get_bool(v, key, src));
    } else if (key == "path_length") {
      CW_ASSIGN_OR_RETURN(p.path_length, get_int_as<int>(v, key, src));
    } else if (key == "policy_oids") {
      CW_ASSIGN_OR_RETURN(p.policy_oids, get_strings(v, key, src));
    } else if (key == "issuers") {
      CW_ASSIGN_OR_RETURN(p.issuers, get_strings(v, key, src));
    } else {
      return unknown_key(v, table, key, src);
    }
  }
  return ok();
}

Status parse_crl(const toml::table& t, std::string_view table, CrlSettings& crl,
                 std::string_view src, const std::set<std::string_view>& skip = {}) {
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (skip.contains(key)) continue;
    if (key == "crl_validity") {
      CW_ASSIGN_OR_RETURN(crl.validity, get_duration(v, key, src));
    } else if (key == "crl_interval") {
      CW_ASSIGN_OR_RETURN(crl.interval, get_duration(v, key, src));
    } else if (key == "delta_crl_validity") {
      CW_ASSIGN_OR_RETURN(crl.delta_validity, get_duration(v, key, src));
    } else if (key == "delta_crl_interval") {
      // "0s" (any unit) turns delta CRLs off; durations are otherwise positive.
      auto text = get_string(v, key, src);
      if (text && text->size() >= 2 && text->find_first_not_of('0') == text->size() - 1 &&
          std::string_view("smhdy").find(text->back()) != std::string_view::npos) {
        crl.delta_interval = std::chrono::seconds(0);
      } else {
        CW_ASSIGN_OR_RETURN(crl.delta_interval, get_duration(v, key, src));
      }
    } else if (key == "crl_on_revoke") {
      CW_ASSIGN_OR_RETURN(crl.on_revoke, get_string(v, key, src));
    } else {
      return unknown_key(v, table, key, src);
    }
  }
  return ok();
}

Status parse_revocation(const toml::table& t, RevocationSettings& r, std::string_view src) {
  static const std::set<std::string_view> kOwn = {
      "ocsp_validity",    "ocsp_signer",        "ocsp_responder_validity",
      "refresh_interval", "ocsp_cache_entries", "ocsp_max_requests",
      "authorities"};
  // The defaults first, so an authority's table overrides them whatever the order in the file.
  CW_RETURN_IF_ERROR(parse_crl(t, "revocation", r.crl, src, kOwn));
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    if (key == "ocsp_validity") {
      CW_ASSIGN_OR_RETURN(r.ocsp_validity, get_duration(v, key, src));
    } else if (key == "ocsp_signer") {
      CW_ASSIGN_OR_RETURN(r.ocsp_signer, get_string(v, key, src));
    } else if (key == "ocsp_responder_validity") {
      CW_ASSIGN_OR_RETURN(r.ocsp_responder_validity, get_duration(v, key, src));
    } else if (key == "refresh_interval") {
      CW_ASSIGN_OR_RETURN(r.refresh_interval, get_duration(v, key, src));
    } else if (key == "ocsp_cache_entries") {
      CW_ASSIGN_OR_RETURN(r.ocsp_cache_entries, get_int_as<std::size_t>(v, key, src));
    } else if (key == "ocsp_max_requests") {
      CW_ASSIGN_OR_RETURN(r.ocsp_max_requests, get_int_as<std::size_t>(v, key, src));
    }
  }
  if (const auto* authorities = t.get("authorities")) {
    if (!authorities->is_table()) {
      return fail(ErrorCode::kMalformed,
                  where(*authorities, src) + ": [revocation.authorities] must be a table");
    }
    for (const auto& [name, v] : *authorities->as_table()) {
      const std::string table = "revocation.authorities." + std::string(name.str());
      if (!v.is_table()) {
        return fail(ErrorCode::kMalformed, where(v, src) + ": [" + table + "] must be a table");
      }
      CrlSettings crl = r.crl;
      CW_RETURN_IF_ERROR(parse_crl(*v.as_table(), table, crl, src));
      r.authority_crl[std::string(name.str())] = std::move(crl);
    }
  }
  return ok();
}

Status parse_root(const toml::table& root, Config& c, std::string_view src) {
  for (const auto& [k, v] : root) {
    const std::string_view key = k.str();
    if (key == "data_dir") {
      CW_ASSIGN_OR_RETURN(c.data_dir, get_string(v, key, src));
    } else if (key == "log_level") {
      CW_ASSIGN_OR_RETURN(c.log_level, get_string(v, key, src));
    } else if (key == "database" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_database(*v.as_table(), c.database, src));
    } else if (key == "ca" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_ca(*v.as_table(), c.ca, src));
    } else if (key == "server" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_server(*v.as_table(), c.server, src));
    } else if (key == "revocation" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_revocation(*v.as_table(), c.revocation, src));
    } else if (key == "acme" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_acme(*v.as_table(), c.acme, src));
    } else if (key == "est" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_est(*v.as_table(), c.est, src));
    } else if (key == "scep" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_scep(*v.as_table(), c.scep, src));
    } else if (key == "cmp" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_cmp(*v.as_table(), c.cmp, src));
    } else if (key == "discovery" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_discovery(*v.as_table(), c.discovery, src));
    } else if (key == "lifecycle" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_lifecycle(*v.as_table(), c.lifecycle, src));
    } else if (key == "alerts" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_alerts(*v.as_table(), c.alerts, src));
    } else if (key == "managed") {
      CW_RETURN_IF_ERROR(parse_managed(v, c.lifecycle, src));
    } else if (key == "policy" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_policy(*v.as_table(), c.policy, src));
    } else if (key == "ssh" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_ssh(*v.as_table(), c.ssh, src));
    } else if (key == "issuers" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_issuers(*v.as_table(), c.issuers, src));
    } else if (key == "approvals" && v.is_table()) {
      CW_RETURN_IF_ERROR(parse_approvals(*v.as_table(), c.approvals, src));
    } else if (key == "profiles" && v.is_table()) {
      for (const auto& [pname, pv] : *v.as_table()) {
        if (!pv.is_table()) {
          return fail(ErrorCode::kMalformed, where(pv, src) + ": [profiles." +
                                                 std::string(pname.str()) + "] must be a table");
        }
        ProfileSettings p;
        CW_RETURN_IF_ERROR(parse_profile(pname.str(), *pv.as_table(), p, src));
        c.profiles.push_back(std::move(p));
      }
    } else {
      return unknown_key(v, "top level", key, src);
    }
  }
  return ok();
}

// A URL that certificates will carry (CDP, AIA): http(s) or ldap, and nothing but URI
// characters, so no relying party reads it differently from what was configured. Checked
// after the environment is applied: CERTWARD_CRL_BASE_URL and CERTWARD_OCSP_URL too.
Status check_url(const std::string& url, std::string_view key) {
  if (url.empty()) return ok();
  const bool scheme =
      url.starts_with("http://") || url.starts_with("https://") || url.starts_with("ldap://");
  const bool chars = std::all_of(url.begin(), url.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~:/?#[]@!$&'()*+,;=%").find(c) != std::string_view::npos;
  });
  if (!scheme || !chars || url.size() > 2048) {
    return fail(ErrorCode::kMalformed,
                "ca." + std::string(key) +
                    " must be an http://, https:// or ldap:// URL of URI characters only");
  }
  return ok();
}

Status validate_crl(const CrlSettings& crl, const std::string& table) {
  using std::chrono::seconds;
  auto bad = [&](std::string_view what) {
    return fail(ErrorCode::kMalformed, "[" + table + "] " + std::string(what));
  };
  if (crl.validity < seconds(60) || crl.validity > std::chrono::days(366))
    return bad("crl_validity must be between 1m and 366d");
  if (crl.interval < seconds(10) || crl.interval >= crl.validity)
    return bad("crl_interval must be at least 10s and below crl_validity");
  if (crl.delta_interval.count() != 0) {
    if (crl.delta_validity < seconds(60) || crl.delta_validity > crl.validity)
      return bad("delta_crl_validity must be between 1m and crl_validity");
    if (crl.delta_interval < seconds(10) || crl.delta_interval >= crl.delta_validity)
      return bad(
          "delta_crl_interval must be 0s (no delta CRLs), or at least 10s and below "
          "delta_crl_validity");
  }
  if (crl.on_revoke != "full" && crl.on_revoke != "delta")
    return bad("crl_on_revoke must be \"full\" or \"delta\"");
  if (crl.on_revoke == "delta" && crl.delta_interval.count() == 0)
    return bad("crl_on_revoke = \"delta\" needs delta CRLs (delta_crl_interval > 0s)");
  return ok();
}

Status validate_revocation(const RevocationSettings& r) {
  using std::chrono::seconds;
  CW_RETURN_IF_ERROR(validate_crl(r.crl, "revocation"));
  for (const auto& [name, crl] : r.authority_crl) {
    CW_RETURN_IF_ERROR(validate_crl(crl, "revocation.authorities." + name));
  }
  if (r.ocsp_validity < seconds(60) || r.ocsp_validity > std::chrono::days(7))
    return fail(ErrorCode::kMalformed, "revocation.ocsp_validity must be between 1m and 7d");
  if (r.ocsp_signer != "delegated" && r.ocsp_signer != "ca")
    return fail(ErrorCode::kMalformed, "revocation.ocsp_signer must be \"delegated\" or \"ca\"");
  if (r.ocsp_responder_validity < std::chrono::hours(1) ||
      r.ocsp_responder_validity > std::chrono::days(90) ||
      r.ocsp_responder_validity < 3 * r.ocsp_validity) {
    // A responder is renewed with a third of its life left, which must outlast every response
    // it signed that a relying party may still hold.
    return fail(ErrorCode::kMalformed,
                "revocation.ocsp_responder_validity must be between 1h and 90d and at least "
                "three times ocsp_validity");
  }
  if (r.refresh_interval < seconds(1) || r.refresh_interval > std::chrono::hours(1))
    return fail(ErrorCode::kMalformed, "revocation.refresh_interval must be between 1s and 1h");
  if (r.ocsp_cache_entries > 100'000'000)
    return fail(ErrorCode::kMalformed, "revocation.ocsp_cache_entries must be at most 100000000");
  if (r.ocsp_max_requests < 1 || r.ocsp_max_requests > 1000)
    return fail(ErrorCode::kMalformed, "revocation.ocsp_max_requests must be between 1 and 1000");
  return ok();
}

Status validate(const Config& c) {
  CW_RETURN_IF_ERROR(validate_revocation(c.revocation));
  CW_RETURN_IF_ERROR(validate_acme(c.acme));
  CW_RETURN_IF_ERROR(validate_est(c.est));
  CW_RETURN_IF_ERROR(validate_scep(c.scep));
  CW_RETURN_IF_ERROR(validate_cmp(c.cmp));
  CW_RETURN_IF_ERROR(validate_discovery(c.discovery));
  CW_RETURN_IF_ERROR(validate_lifecycle(c.lifecycle));
  CW_RETURN_IF_ERROR(validate_approvals(c.approvals));
  CW_RETURN_IF_ERROR(validate_ssh(c.ssh));
  CW_RETURN_IF_ERROR(validate_issuers(c));
  CW_RETURN_IF_ERROR(check_url(c.ca.crl_base_url, "crl_base_url"));
  CW_RETURN_IF_ERROR(check_url(c.ca.ocsp_url, "ocsp_url"));
  CW_RETURN_IF_ERROR(check_url(c.ca.ca_issuers_base_url, "ca_issuers_base_url"));
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(c.log_level)) {
    return fail(ErrorCode::kMalformed, "log_level must be one of trace, debug, info, warn, error");
  }
  if (c.database.driver != "sqlite" && c.database.driver != "postgres") {
    return fail(ErrorCode::kMalformed, "database.driver must be \"sqlite\" or \"postgres\"");
  }
  if (c.database.driver == "postgres" && c.database.url.empty()) {
    return fail(ErrorCode::kMalformed,
                "database.url is required when database.driver = \"postgres\"");
  }
  if (c.database.pool_size < 1 || c.database.pool_size > 256) {
    return fail(ErrorCode::kMalformed, "database.pool_size must be between 1 and 256");
  }
  if (c.data_dir.empty()) return fail(ErrorCode::kMalformed, "data_dir must not be empty");
  const ServerSettings& s = c.server;
  if (s.io_threads < 0 || s.io_threads > 256)
    return fail(ErrorCode::kMalformed, "server.io_threads must be between 0 and 256");
  if (s.worker_threads < 1 || s.worker_threads > 1024) {
    return fail(ErrorCode::kMalformed, "server.worker_threads must be between 1 and 1024");
  }
  if (s.max_body_bytes < 1024 || s.max_body_bytes > (std::int64_t{64} << 20)) {
    return fail(ErrorCode::kMalformed, "server.max_body_bytes must be between 1 KiB and 64 MiB");
  }
  if (s.read_timeout_seconds < 1 || s.idle_timeout_seconds < 1 || s.shutdown_timeout_seconds < 1) {
    return fail(ErrorCode::kMalformed, "server timeouts must be at least 1 second");
  }
  if (s.rate_limit.requests_per_second < 0 || s.rate_limit.burst < 0 ||
      (s.rate_limit.requests_per_second > 0 && s.rate_limit.burst < 1)) {
    return fail(ErrorCode::kMalformed,
                "server.rate_limit needs requests_per_second >= 0 and burst >= 1");
  }
  if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
    return fail(ErrorCode::kMalformed, "server.tls_cert_file and server.tls_key_file go together");
  }
  if (s.certificate_check_interval < std::chrono::seconds(1) ||
      s.certificate_check_interval > std::chrono::days(1)) {
    return fail(ErrorCode::kMalformed,
                "server.certificate_check_interval must be between 1s and 1d");
  }
  return ok();
}

}  // namespace

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.size() < 2)
    return fail(ErrorCode::kMalformed,
                "duration '" + std::string(text) + "' needs a number and a unit (s, m, h, d, y)");
  std::int64_t n = 0;
  const auto* end = text.data() + text.size() - 1;
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || p != end || n <= 0) {
    return fail(ErrorCode::kMalformed,
                "duration '" + std::string(text) + "' must be a positive whole number and a unit");
  }
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'y':
      unit = 365 * 86400;
      break;
    default:
      return fail(ErrorCode::kMalformed,
                  "duration '" + std::string(text) + "' has an unknown unit (s, m, h, d, y)");
  }
  if (n > (std::int64_t{100} * 365 * 86400) / unit) {
    return fail(ErrorCode::kMalformed,
                "duration '" + std::string(text) + "' is longer than 100 years");
  }
  return std::chrono::seconds(n * unit);
}

std::string format_duration(std::chrono::seconds d) {
  const std::int64_t s = d.count();
  if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  Config c;
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::kMalformed, std::string(source_name) + ":" +
                                           std::to_string(e.source().begin.line) + ": " +
                                           std::string(e.description()));
  }
  CW_RETURN_IF_ERROR(parse_root(root, c, source_name));
  return c;
}

namespace {

// "http://<host:port>" of the plain-HTTP listener as relying parties reach it: the configured
// address, or for a wildcard one the server's first host name. Empty when there is none to
// point at (no listener, or a wildcard address and no host name).
std::string own_http_base(const Config& c) {
  const std::string& listen = c.server.http_listen;
  const auto colon = listen.rfind(':');
  // Port 0 (any free port, for tests) names no address anyone could reach.
  if (listen.empty() || colon == std::string::npos || listen.substr(colon + 1) == "0") return {};
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    if (c.server.hostnames.empty()) return {};
    host = c.server.hostnames.front();
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
  }
  return "http://" + host + ":" + port;
}

}  // namespace

void finalize_config(Config& c) {
  if (c.database.path.empty()) c.database.path = c.data_dir + "/certward.db";
  if (c.ca.master_key_file.empty()) c.ca.master_key_file = c.data_dir + "/master.key";
  // Certificates point relying parties at certward's own CRLs and OCSP responder unless told
  // otherwise: a certificate without them cannot be revoked in any way its users would notice.
  const std::string base = own_http_base(c);
  if (c.ca.crl_base_url.empty() && !base.empty()) c.ca.crl_base_url = base + "/crl";
  if (c.ca.ocsp_url.empty() && !base.empty()) c.ca.ocsp_url = base + "/ocsp";
  if (c.ca.crl_base_url == "none") c.ca.crl_base_url.clear();
  if (c.ca.ocsp_url == "none") c.ca.ocsp_url.clear();
}

Result<Config> load_config(const std::optional<std::string>& path,
                           const std::map<std::string, std::string>& env) {
  Config c;
  if (path) {
    std::ifstream in(*path, std::ios::binary);
    if (!in) return fail(ErrorCode::kNotFound, "cannot read configuration file " + *path);
    std::stringstream ss;
    ss << in.rdbuf();
    CW_ASSIGN_OR_RETURN(c, parse_config(ss.str(), *path));
  }
  auto env_value = [&](const char* name) -> const std::string* {
    auto it = env.find(name);
    return it == env.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (auto* v = env_value("CERTWARD_DATA_DIR")) c.data_dir = *v;
  if (auto* v = env_value("CERTWARD_LOG_LEVEL")) c.log_level = *v;
  if (auto* v = env_value("CERTWARD_DATABASE_DRIVER")) c.database.driver = *v;
  if (auto* v = env_value("CERTWARD_DATABASE_URL")) c.database.url = *v;
  if (auto* v = env_value("CERTWARD_DATABASE_PATH")) c.database.path = *v;
  if (auto* v = env_value("CERTWARD_MASTER_KEY_FILE")) c.ca.master_key_file = *v;
  if (auto* v = env_value("CERTWARD_CRL_BASE_URL")) c.ca.crl_base_url = *v;
  if (auto* v = env_value("CERTWARD_OCSP_URL")) c.ca.ocsp_url = *v;
  if (auto* v = env_value("CERTWARD_LISTEN")) c.server.listen = *v;
  if (auto* v = env_value("CERTWARD_HTTP_LISTEN")) c.server.http_listen = *v;
  finalize_config(c);
  CW_RETURN_IF_ERROR(validate(c));
  return c;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view kv(*e);
    if (!kv.starts_with("CERTWARD_")) continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace certward
