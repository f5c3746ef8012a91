// [issuers.<name>]: upstream CAs (docs/issuers.md).
#include <set>

#include "common/config_toml.h"

namespace certward::config_detail {
namespace {

Status parse_issuer(std::string name, const toml::table& t, IssuerSettings& i,
                    std::string_view src) {
  i.name = std::move(name);
  const std::string table = "issuers." + i.name;
  for (const auto& [k, v] : t) {
    const std::string_view key = k.str();
    auto str = [&](std::string& out) -> Status {
      CW_ASSIGN_OR_RETURN(out, get_string(v, key, src));
      return ok();
    };
    auto opt = [&](std::optional<std::string>& out) -> Status {
      CW_ASSIGN_OR_RETURN(out, get_string(v, key, src));
      return ok();
    };
    if (key == "type") {
      CW_RETURN_IF_ERROR(str(i.type));
    } else if (key == "timeout") {
      CW_ASSIGN_OR_RETURN(i.timeout, get_duration(v, key, src));
    } else if (key == "order_timeout") {
      CW_ASSIGN_OR_RETURN(i.order_timeout, get_duration(v, key, src));
    } else if (key == "dns_propagation") {
      CW_ASSIGN_OR_RETURN(i.dns_propagation, get_duration(v, key, src));
    } else if (key == "ca_file") {
      CW_RETURN_IF_ERROR(opt(i.ca_file));
    } else if (key == "trust_anchors") {
      CW_RETURN_IF_ERROR(opt(i.trust_anchors));
    } else if (key == "directory") {
      CW_RETURN_IF_ERROR(str(i.directory));
    } else if (key == "contact") {
      CW_ASSIGN_OR_RETURN(i.contact, get_strings(v, key, src));
    } else if (key == "eab_kid") {
      CW_RETURN_IF_ERROR(opt(i.eab_kid));
    } else if (key == "eab_hmac_key_env") {
      CW_RETURN_IF_ERROR(opt(i.eab_hmac_key_env));
    } else if (key == "eab_hmac_key_file") {
      CW_RETURN_IF_ERROR(opt(i.eab_hmac_key_file));
    } else if (key == "profile") {
      CW_RETURN_IF_ERROR(opt(i.profile));
    } else if (key == "challenge") {
      CW_RETURN_IF_ERROR(str(i.challenge));
    } else if (key == "preferred_chain") {
      CW_RETURN_IF_ERROR(opt(i.preferred_chain));
    } else if (key == "dns_server") {
      CW_RETURN_IF_ERROR(opt(i.dns_server));
    } else if (key == "dns_zone") {
      CW_RETURN_IF_ERROR(opt(i.dns_zone));
    } else if (key == "tsig_key_name") {
      CW_RETURN_IF_ERROR(opt(i.tsig_key_name));
    } else if (key == "tsig_algorithm") {
      CW_RETURN_IF_ERROR(str(i.tsig_algorithm));
    } else if (key == "tsig_secret_env") {
      CW_RETURN_IF_ERROR(opt(i.tsig_secret_env));
    } else if (key == "tsig_secret_file") {
      CW_RETURN_IF_ERROR(opt(i.tsig_secret_file));
    } else if (key == "dns_hook") {
      CW_RETURN_IF_ERROR(opt(i.dns_hook));
    } else if (key == "url") {
      CW_RETURN_IF_ERROR(str(i.url));
    } else if (key == "auth_key_env") {
      CW_RETURN_IF_ERROR(opt(i.auth_key_env));
    } else if (key == "auth_key_file") {
      CW_RETURN_IF_ERROR(opt(i.auth_key_file));
    } else if (key == "label") {
      CW_RETURN_IF_ERROR(opt(i.label));
    } else {
      return unknown_key(v, table, key, src);
    }
  }
  return ok();
}

}  // namespace

bool valid_resource_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

Status parse_issuers(const toml::table& t, std::vector<IssuerSettings>& issuers,
                     std::string_view src) {
  for (const auto& [name, v] : t) {
    if (!v.is_table()) {
      return fail(ErrorCode::kMalformed,
                  where(v, src) + ": [issuers." + std::string(name.str()) + "] must be a table");
    }
    IssuerSettings i;
    CW_RETURN_IF_ERROR(parse_issuer(std::string(name.str()), *v.as_table(), i, src));
    issuers.push_back(std::move(i));
  }
  return ok();
}

Status validate_issuers(const Config& c) {
  for (const auto& i : c.issuers) {
    auto bad = [&](const std::string& what) {
      return fail(ErrorCode::kMalformed, "issuers." + i.name + ": " + what);
    };
    // Issuer names share the authorities' namespace: a profile's list names either.
    if (!valid_resource_name(i.name)) return bad("an issuer name is a-z, 0-9, '-' and '_'");
    if (i.timeout < std::chrono::seconds(1) || i.timeout > std::chrono::minutes(5))
      return bad("timeout is 1s to 5m");
    if (i.order_timeout < std::chrono::seconds(5) || i.order_timeout > std::chrono::hours(1))
      return bad("order_timeout is 5s to 1h");
    if (i.dns_propagation > std::chrono::minutes(10)) return bad("dns_propagation is at most 10m");
    const bool both_secret_sources = (i.eab_hmac_key_env && i.eab_hmac_key_file) ||
                                     (i.tsig_secret_env && i.tsig_secret_file) ||
                                     (i.auth_key_env && i.auth_key_file);
    if (both_secret_sources) return bad("give a secret's _env or its _file, not both");
    // Credentials do not go in URLs: they would show wherever the URL is shown.
    for (const std::string* url : {&i.directory, &i.url}) {
      const auto start = url->find("://");
      const std::string authority =
          start == std::string::npos
              ? ""
              : url->substr(start + 3, url->find('/', start + 3) - start - 3);
      if (authority.find('@') != std::string::npos ||
          url->find_first_of(" \t\r\n") != std::string::npos)
        return bad("a URL with credentials or spaces in it; give secrets in *_env or *_file");
    }
    if (i.type == "acme") {
      if (!i.directory.starts_with("https://"))
        return bad("directory is the ACME directory's https:// URL");
      if (!i.url.empty() || i.auth_key_env || i.auth_key_file || i.label)
        return bad("url, auth_key_* and label are for type = \"cfssl\"");
      if (bool(i.eab_kid) != bool(i.eab_hmac_key_env || i.eab_hmac_key_file))
        return bad("eab_kid goes with eab_hmac_key_env or eab_hmac_key_file");
      for (const auto& contact : i.contact) {
        if (!contact.starts_with("mailto:")) return bad("contact entries are mailto: URLs");
      }
      if (i.challenge == "dns-01") {
        const bool rfc2136 = i.dns_server.has_value();
        if (rfc2136 == i.dns_hook.has_value())
          return bad("dns-01 publishes through dns_server (RFC 2136) or dns_hook: one of them");
        if (rfc2136 &&
            (!i.dns_zone || !i.tsig_key_name || !(i.tsig_secret_env || i.tsig_secret_file)))
          return bad("dns_server needs dns_zone, tsig_key_name and tsig_secret_env or _file");
        if (i.tsig_algorithm != "hmac-sha256" && i.tsig_algorithm != "hmac-sha384" &&
            i.tsig_algorithm != "hmac-sha512")
          return bad("tsig_algorithm is hmac-sha256, hmac-sha384 or hmac-sha512");
      } else if (i.challenge != "http-01") {
        return bad("challenge is \"http-01\" or \"dns-01\"");
      } else if (i.dns_server || i.dns_hook) {
        return bad("dns_server and dns_hook are for challenge = \"dns-01\"");
      }
    } else if (i.type == "cfssl") {
      if (!i.url.starts_with("https://") && !i.url.starts_with("http://"))
        return bad("url is CFSSL's http:// or https:// base URL");
      if (!i.directory.empty() || i.eab_kid || !i.contact.empty())
        return bad("directory, contact and eab_* are for type = \"acme\"");
      if (!i.auth_key_env && !i.auth_key_file)
        return bad(
            "CFSSL signs for certward only through its authenticated endpoint: give "
            "auth_key_env or auth_key_file");
    } else {
      return bad("type is \"acme\" or \"cfssl\"");
    }
  }
  // A profile's issuers must exist: certward's authorities live in the database and are
  // checked when the server starts; the names here must at least be well formed.
  for (const auto& p : c.profiles) {
    if (!p.issuers) continue;
    for (const auto& n : *p.issuers) {
      if (!valid_resource_name(n))
        return fail(ErrorCode::kMalformed,
                    "profiles." + p.name + ".issuers: '" + n + "' is not an issuer name");
    }
  }
  return ok();
}

}  // namespace certward::config_detail
