// REST API v1 handlers. Each is a thin adapter: the guard authenticates, authorises and
// rate-limits; the handler decodes, calls one service, encodes.

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>

#include "api/api.h"
#include "api/body.h"
#include "api/json.h"
#include "ca/hierarchy.h"
#include "http/problem.h"
#include "x509/bundle.h"
#include "x509/csr.h"
#include "x509/names.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;
using ApiHandler = std::function<Result<http::Response>(http::Request&, const Identity&)>;

enum class BodyKind : std::uint8_t { kNone, kJson };

http::Response ok_json(const json& j, int status = 200) {
  return http::Response::json(status, j.dump());
}

json page_json(json items, const std::optional<std::string>& next) {
  return {{"items", std::move(items)}, {"next_cursor", next ? json(*next) : json(nullptr)}};
}

Result<std::optional<std::string>> query_text(const http::Request& r, std::string_view key) {
  auto v = r.query_value(key);
  if (!v) return std::optional<std::string>();
  if (v->empty())
    return fail(ErrorCode::kMalformed, "query parameter '" + std::string(key) + "' is empty");
  return std::optional<std::string>(std::string(*v));
}

Result<std::optional<std::int64_t>> query_int(const http::Request& r, std::string_view key) {
  CW_ASSIGN_OR_RETURN(auto v, query_text(r, key));
  if (!v) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) {
    return fail(ErrorCode::kMalformed,
                "query parameter '" + std::string(key) + "' must be an integer");
  }
  return std::optional<std::int64_t>(n);
}

Status check_query(const http::Request& r, std::initializer_list<std::string_view> known) {
  for (const auto& [k, v] : r.query) {
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return fail(ErrorCode::kMalformed, "unknown query parameter '" + k + "'");
    }
  }
  return ok();
}

class Api : public std::enable_shared_from_this<Api> {
 public:
  explicit Api(Services& s) : s_(s) {}

  void register_routes(http::Router& r) {
    r.add("GET", "/healthz", [](http::Request&) { return ok_json({{"status", "ok"}}); });
    r.add("GET", "/readyz", [self = shared_from_this()](http::Request&) { return self->readyz(); });
    r.add("GET", "/metrics", [self = shared_from_this()](http::Request&) {
      return http::Response::text(200, self->s_.metrics.render(self->s_.inventory),
                                  "text/plain; version=0.0.4; charset=utf-8");
    });
    r.add("GET", "/api/v1/openapi.json",
          [](http::Request&) { return http::Response::json(200, openapi_document()); });
    add(r, "GET", "/api/v1/whoami", Permission::kReadCatalog, BodyKind::kNone, &Api::whoami);

    add(r, "GET", "/api/v1/profiles", Permission::kReadCatalog, BodyKind::kNone,
        &Api::list_profiles);
    add(r, "GET", "/api/v1/profiles/{name}", Permission::kReadCatalog, BodyKind::kNone,
        &Api::get_profile);

    add(r, "GET", "/api/v1/authorities", Permission::kReadCatalog, BodyKind::kNone,
        &Api::list_authorities);
    add(r, "POST", "/api/v1/authorities", Permission::kManageAuthorities, BodyKind::kJson,
        &Api::create_authority);
    add(r, "POST", "/api/v1/authorities/import", Permission::kManageAuthorities, BodyKind::kJson,
        &Api::import_authority);
    add(r, "GET", "/api/v1/authorities/{name}", Permission::kReadCatalog, BodyKind::kNone,
        &Api::get_authority);
    add(r, "GET", "/api/v1/authorities/{name}/chain", Permission::kReadCatalog, BodyKind::kNone,
        &Api::authority_chain);

    add(r, "GET", "/api/v1/certificates", Permission::kReadInventory, BodyKind::kNone,
        &Api::list_certificates);
    add(r, "POST", "/api/v1/certificates", Permission::kIssue, BodyKind::kJson, &Api::issue);
    add(r, "POST", "/api/v1/certificates/import", Permission::kImport, BodyKind::kJson,
        &Api::import_certificates);
    add(r, "GET", "/api/v1/certificates/{id}", Permission::kReadInventory, BodyKind::kNone,
        &Api::get_certificate);
    add(r, "GET", "/api/v1/certificates/{id}/download", Permission::kReadInventory, BodyKind::kNone,
        &Api::download);
    add(r, "PATCH", "/api/v1/certificates/{id}", Permission::kEditInventory, BodyKind::kJson,
        &Api::update_certificate);

    add(r, "GET", "/api/v1/audit/events", Permission::kReadAudit, BodyKind::kNone,
        &Api::audit_events);
    add(r, "GET", "/api/v1/audit/verify", Permission::kReadAudit, BodyKind::kNone,
        &Api::audit_verify);

    add(r, "GET", "/api/v1/teams", Permission::kReadPrincipals, BodyKind::kNone, &Api::list_teams);
    add(r, "POST", "/api/v1/teams", Permission::kManagePrincipals, BodyKind::kJson,
        &Api::create_team);
    add(r, "GET", "/api/v1/principals", Permission::kReadPrincipals, BodyKind::kNone,
        &Api::list_principals);
    add(r, "POST", "/api/v1/principals", Permission::kManagePrincipals, BodyKind::kJson,
        &Api::create_principal);
    add(r, "POST", "/api/v1/principals/{name}/disable", Permission::kManagePrincipals,
        BodyKind::kNone, &Api::disable_principal);
    add(r, "POST", "/api/v1/principals/{name}/enable", Permission::kManagePrincipals,
        BodyKind::kNone, &Api::enable_principal);
    add(r, "POST", "/api/v1/principals/{name}/certificates", Permission::kManagePrincipals,
        BodyKind::kJson, &Api::map_certificate);
    add(r, "DELETE", "/api/v1/principals/{name}/certificates/{fingerprint}",
        Permission::kManagePrincipals, BodyKind::kNone, &Api::unmap_certificate);
    add(r, "GET", "/api/v1/tokens", Permission::kReadPrincipals, BodyKind::kNone,
        &Api::list_tokens);
    add(r, "POST", "/api/v1/tokens", Permission::kManagePrincipals, BodyKind::kJson,
        &Api::create_token);
    add(r, "DELETE", "/api/v1/tokens/{id}", Permission::kManagePrincipals, BodyKind::kNone,
        &Api::revoke_token);
  }

  void register_public_routes(http::Router& r) {
    r.add("GET", "/healthz", [](http::Request&) { return ok_json({{"status", "ok"}}); });
    r.add("GET", "/ca/{file}", [self = shared_from_this()](http::Request& req) {
      return self->ca_certificate_file(req);
    });
  }

 private:
  using Method = Result<http::Response> (Api::*)(http::Request&, const Identity&);

  void add(http::Router& r, const char* method, const char* pattern, Permission perm, BodyKind body,
           Method m) {
    r.add(method, pattern, [self = shared_from_this(), perm, body, m](http::Request& req) {
      return self->guarded(req, perm, body, [&self, m](http::Request& rq, const Identity& id) {
        return ((*self).*m)(rq, id);
      });
    });
  }

  Result<Identity> authenticate(const http::Request& req) {
    if (auto h = req.header("authorization")) {
      constexpr std::string_view kBearer = "Bearer ";
      if (!h->starts_with(kBearer))
        return fail(ErrorCode::kUnauthorized, "use 'Authorization: Bearer <token>'");
      return s_.auth.authenticate_token(h->substr(kBearer.size()));
    }
    if (req.client_certificate) return s_.auth.authenticate_certificate(*req.client_certificate);
    return fail(ErrorCode::kUnauthorized,
                "authentication required: an 'Authorization: Bearer <token>' header or a client "
                "certificate");
  }

  http::Response guarded(http::Request& req, Permission perm, BodyKind body, const ApiHandler& fn) {
    auto identity = authenticate(req);
    if (!identity) {
      if (identity.error().code == ErrorCode::kUnavailable) {
        return http::problem_for(identity.error());
      }
      auto r = http::problem(401, "Unauthorized", "unauthorized", identity.error().message,
                             "unauthenticated");
      r.set_header("WWW-Authenticate", "Bearer realm=\"certward\"");
      return r;
    }
    if (!auth::role_allows(identity->role, perm)) {
      return http::problem(
          403, "Forbidden", "unauthorized",
          "role '" + std::string(auth::role_name(identity->role)) + "' may not do this",
          "forbidden");
    }
    const auto decision = s_.limiter.allow(identity->principal);
    if (!decision.allowed) {
      s_.metrics.count_rate_limited();
      auto r = http::problem(429, "Too Many Requests", "rate_limited",
                             "rate limit exceeded for principal " + identity->principal);
      r.set_header("Retry-After", std::to_string(decision.retry_after.count()));
      return r;
    }
    if (body == BodyKind::kJson && !is_json_content_type(req)) {
      return http::problem(415, "Unsupported Media Type", "invalid_argument",
                           "send the body as JSON with 'Content-Type: application/json'",
                           "unsupported_media_type");
    }
    auto result = fn(req, *identity);
    if (!result) return http::problem_for(result.error());
    return std::move(*result);
  }

  http::Response readyz() {
    if (auto ready = s_.ready(); !ready) return http::problem_for(ready.error());
    return ok_json({{"status", "ready"}});
  }

  Result<http::Response> whoami(http::Request&, const Identity& id) {
    json j = {{"principal", id.principal},
              {"role", auth::role_name(id.role)},
              {"team", id.team ? json(*id.team) : json(nullptr)},
              {"actor", id.actor}};
    return ok_json(j);
  }

  // Profiles and authorities.
  Result<http::Response> list_profiles(http::Request&, const Identity&) {
    json items = json::array();
    for (const auto& p : s_.profiles.all()) items.push_back(profile_json(p));
    return ok_json({{"items", items}});
  }
  Result<http::Response> get_profile(http::Request& req, const Identity&) {
    CW_ASSIGN_OR_RETURN(const ca::Profile* p, s_.profiles.find(req.params["name"]));
    return ok_json(profile_json(*p));
  }
  Result<http::Response> list_authorities(http::Request&, const Identity&) {
    CW_ASSIGN_OR_RETURN(auto list, s_.authorities.list());
    json items = json::array();
    for (const auto& a : list) items.push_back(authority_json(a));
    return ok_json({{"items", items}});
  }
  Result<http::Response> get_authority(http::Request& req, const Identity&) {
    CW_ASSIGN_OR_RETURN(auto a, s_.authorities.info(req.params["name"]));
    return ok_json(authority_json(a));
  }
  Result<http::Response> authority_chain(http::Request& req, const Identity&) {
    CW_ASSIGN_OR_RETURN(auto a, s_.authorities.info(req.params["name"]));
    std::vector<x509::Certificate> certs = {a.certificate};
    certs.insert(certs.end(), a.chain.begin(), a.chain.end());
    return http::Response::text(200, x509::to_pem(certs), "application/pem-certificate-chain");
  }
  Result<http::Response> create_authority(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(
        auto b, Body::parse(req, {"name", "kind", "parent", "subject", "key_type", "validity",
                                  "path_length", "permitted", "excluded"}));
    ca::AuthorityRequest r;
    CW_ASSIGN_OR_RETURN(r.name, b.string("name"));
    CW_ASSIGN_OR_RETURN(auto kind, b.string("kind"));
    CW_ASSIGN_OR_RETURN(r.kind, ca::parse_authority_kind(kind));
    CW_ASSIGN_OR_RETURN(r.subject, b.string("subject"));
    CW_ASSIGN_OR_RETURN(r.parent, b.opt_string("parent"));
    CW_ASSIGN_OR_RETURN(auto key_type, b.opt_string("key_type"));
    if (key_type) {
      CW_ASSIGN_OR_RETURN(r.key_type, crypto::parse_key_type(*key_type));
    }
    CW_ASSIGN_OR_RETURN(auto validity, b.opt_string("validity"));
    if (validity) {
      CW_ASSIGN_OR_RETURN(r.validity, parse_duration(*validity));
    }
    CW_ASSIGN_OR_RETURN(auto path_length, b.opt_int("path_length"));
    if (path_length) {
      // Out of range either way stays out of range; create_authority says what the range is.
      r.path_length = static_cast<int>(std::clamp<std::int64_t>(*path_length, -1, INT_MAX));
    }
    CW_ASSIGN_OR_RETURN(r.permitted, b.strings("permitted"));
    CW_ASSIGN_OR_RETURN(r.excluded, b.strings("excluded"));
    CW_ASSIGN_OR_RETURN(auto info, ca::create_authority(s_.ra, s_.authorities, r, requester(id)));
    return ok_json(authority_json(info), 201);
  }
  Result<http::Response> import_authority(http::Request& req, const Identity& id) {
    auto parsed = Body::parse(req, {"name", "certificate_pem", "private_key_pem", "key_passphrase",
                                    "chain_pem", "parent", "kind"});
    // The raw body holds the CA key: from here on only the parsed copy is used, and the
    // secrets are taken out of that into SecretBytes, which cleanse themselves.
    crypto::cleanse(req.body);
    CW_ASSIGN_OR_RETURN(auto b, std::move(parsed));
    ca::ImportOptions o;
    // Secrets first, so that no early return leaves them in the parsed body.
    CW_ASSIGN_OR_RETURN(auto key, b.take_secret("private_key_pem"));
    CW_ASSIGN_OR_RETURN(o.key_passphrase, b.take_secret("key_passphrase"));
    if (!key || key->empty())
      return fail(ErrorCode::kMalformed, "field 'private_key_pem' is required");
    o.private_key = std::move(*key);
    CW_ASSIGN_OR_RETURN(o.name, b.string("name"));
    CW_ASSIGN_OR_RETURN(auto cert, b.string("certificate_pem"));
    CW_ASSIGN_OR_RETURN(auto chain, b.opt_string("chain_pem"));
    CW_ASSIGN_OR_RETURN(o.parent, b.opt_string("parent"));
    CW_ASSIGN_OR_RETURN(auto kind, b.opt_string("kind"));
    if (kind) {
      CW_ASSIGN_OR_RETURN(o.kind, ca::parse_authority_kind(*kind));
    }
    o.certificate.assign(cert.begin(), cert.end());
    if (chain) o.chain.assign(chain->begin(), chain->end());
    CW_ASSIGN_OR_RETURN(auto info, s_.authorities.import(o, id.actor));
    return ok_json(authority_json(info), 201);
  }
  http::Response ca_certificate_file(http::Request& req) {
    std::string file = req.params["file"];
    const bool pem = file.ends_with(".pem");
    if (!file.ends_with(".crt") && !pem) {
      return http::Response::problem(
          404, "Not Found", "CA certificates are served as <name>.crt (DER) or <name>.pem");
    }
    file.resize(file.size() - 4);
    auto a = s_.authorities.info(file);
    if (!a) return http::problem_for(a.error());
    if (pem) return http::Response::text(200, a->certificate.pem(), "application/x-pem-file");
    return http::Response::text(200, std::string(as_chars(a->certificate.der())),
                                "application/pkix-cert");
  }

  // Certificates.
  static ca::Requester requester(const Identity& id) {
    ca::Requester r;
    r.actor = id.actor;
    r.team = id.team;
    if (id.scope) r.scope = ca::Scope{id.scope->profiles, id.scope->domains, id.scope->authorities};
    return r;
  }

  static bool team_scoped(const Identity& id) { return id.role == auth::Role::kRequester; }

  Result<http::Response> list_certificates(http::Request& req, const Identity& id) {
    CW_RETURN_IF_ERROR(check_query(
        req, {"status", "expiring_within", "issuer", "authority", "key_algorithm", "key_bits",
              "search", "owner", "team", "origin", "tag", "limit", "cursor"}));
    inventory::Filter f;
    const SysTime now = s_.clock.now();
    CW_ASSIGN_OR_RETURN(auto status, query_text(req, "status"));
    if (status) {
      CW_ASSIGN_OR_RETURN(f.status, inventory::parse_status(*status));
    }
    CW_ASSIGN_OR_RETURN(auto within, query_text(req, "expiring_within"));
    if (within) {
      CW_ASSIGN_OR_RETURN(auto d, parse_duration(*within));
      f.expires_after = now;
      f.expires_before = now + d;
    }
    CW_ASSIGN_OR_RETURN(f.issuer, query_text(req, "issuer"));
    CW_ASSIGN_OR_RETURN(f.authority, query_text(req, "authority"));
    CW_ASSIGN_OR_RETURN(f.key_algorithm, query_text(req, "key_algorithm"));
    CW_ASSIGN_OR_RETURN(auto bits, query_int(req, "key_bits"));
    if (bits) f.key_bits = static_cast<int>(*bits);
    CW_ASSIGN_OR_RETURN(f.search, query_text(req, "search"));
    CW_ASSIGN_OR_RETURN(f.owner, query_text(req, "owner"));
    CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
    CW_ASSIGN_OR_RETURN(auto origin, query_text(req, "origin"));
    if (origin) {
      CW_ASSIGN_OR_RETURN(f.origin, inventory::parse_origin(*origin));
    }
    CW_ASSIGN_OR_RETURN(f.tag, query_text(req, "tag"));
    if (team_scoped(id)) {
      if (f.team && f.team != id.team)
        return fail(ErrorCode::kUnauthorized, "requesters see only their team's certificates");
      f.team = id.team.value_or("");
    }
    inventory::PageRequest page;
    CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
    if (limit) {
      if (*limit < 1 || *limit > 1000)
        return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
      page.limit = static_cast<int>(*limit);
    }
    CW_ASSIGN_OR_RETURN(page.cursor, query_text(req, "cursor"));
    CW_ASSIGN_OR_RETURN(auto result, s_.inventory.query(f, page));
    json items = json::array();
    for (const auto& rec : result.items) items.push_back(record_json(rec, now));
    return ok_json(page_json(std::move(items), result.next_cursor));
  }

  Result<inventory::CertificateRecord> visible_record(const http::Request& req,
                                                      const Identity& id) {
    auto it = req.params.find("id");
    CW_ASSIGN_OR_RETURN(auto rec, s_.inventory.resolve(it->second));
    if (team_scoped(id) && rec.meta.team != id.team) {
      // Indistinguishable from absence: a requester learns nothing about other teams.
      return fail(ErrorCode::kNotFound, "no certificate matches '" + it->second + "'");
    }
    return rec;
  }

  Result<http::Response> get_certificate(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(auto rec, visible_record(req, id));
    CW_ASSIGN_OR_RETURN(auto cert, s_.inventory.certificate(rec.fingerprint));
    json j = record_json(rec, s_.clock.now());
    j["certificate"] = certificate_json(cert.info());
    j["pem"] = cert.pem();
    return ok_json(j);
  }

  // Owner, team and tags: a JSON merge patch (a field absent stays, null clears it) plus
  // add_tags/remove_tags for changing labels without a read-modify-write race.
  Result<http::Response> update_certificate(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(auto b,
                        Body::parse(req, {"owner", "team", "tags", "add_tags", "remove_tags"}));
    CW_ASSIGN_OR_RETURN(auto rec, visible_record(req, id));
    inventory::MetadataUpdate u;
    CW_ASSIGN_OR_RETURN(u.owner, b.opt_string("owner"));
    if (b.is_null("owner")) u.owner = "";
    CW_ASSIGN_OR_RETURN(u.team, b.opt_string("team"));
    if (b.is_null("team")) u.team = "";
    CW_ASSIGN_OR_RETURN(u.tags, b.opt_strings("tags"));
    if (b.is_null("tags")) u.tags.emplace();
    CW_ASSIGN_OR_RETURN(u.add_tags, b.strings("add_tags"));
    CW_ASSIGN_OR_RETURN(u.remove_tags, b.strings("remove_tags"));
    if (u.team && !u.team->empty()) CW_RETURN_IF_ERROR(s_.auth.require_team(*u.team));
    // A requester labels its own team's certificates and cannot hand them to another team
    // (or to none, which would hide them from itself).
    if (team_scoped(id) && u.team && u.team != id.team) {
      return fail(ErrorCode::kUnauthorized, "a requester cannot move certificates out of its team");
    }
    CW_ASSIGN_OR_RETURN(auto updated, s_.inventory.update_metadata(rec.fingerprint, u, id.actor));
    return ok_json(record_json(updated, s_.clock.now()));
  }

  Result<http::Response> download(http::Request& req, const Identity& id) {
    CW_RETURN_IF_ERROR(check_query(req, {"format"}));
    CW_ASSIGN_OR_RETURN(auto rec, visible_record(req, id));
    CW_ASSIGN_OR_RETURN(auto cert, s_.inventory.certificate(rec.fingerprint));
    const std::string format(req.query_value("format").value_or("pem"));
    if (format == "pem") return http::Response::text(200, cert.pem(), "application/x-pem-file");
    if (format == "der")
      return http::Response::text(200, std::string(as_chars(cert.der())), "application/pkix-cert");
    CW_ASSIGN_OR_RETURN(auto chain, s_.authorities.chain_for(cert, rec.meta.authority));
    if (format == "chain")
      return http::Response::text(200, x509::to_pem(chain), "application/pem-certificate-chain");
    if (format == "p7b") {
      CW_ASSIGN_OR_RETURN(Bytes p7, x509::make_pkcs7(chain));
      return http::Response::text(200, std::string(as_chars(p7)), "application/pkcs7-mime");
    }
    if (format == "p12") {
      // A certificates-only PKCS#12 (a trust store): certward does not keep leaf keys.
      auto password = req.header("x-pkcs12-password");
      if (!password || password->empty()) {
        return fail(ErrorCode::kInvalidArgument,
                    "format p12 needs the password in an X-PKCS12-Password header");
      }
      CW_ASSIGN_OR_RETURN(Bytes p12, x509::make_pkcs12_certificates(chain, *password));
      return http::Response::text(200, std::string(as_chars(p12)), "application/x-pkcs12");
    }
    return fail(ErrorCode::kInvalidArgument,
                "unknown format '" + format + "' (pem, der, chain, p7b, p12)");
  }

  Result<http::Response> issue(http::Request& req, const Identity& id) {
    auto parsed = Body::parse(
        req, {"profile", "csr", "key_type", "common_name", "sans", "authority", "validity", "owner",
              "team", "tags", "format", "pkcs12_password", "key_password"});
    crypto::cleanse(req.body);  // it may hold passwords: only the parsed copy is used
    CW_ASSIGN_OR_RETURN(auto b, std::move(parsed));
    // Secrets first, so that no early return leaves them in the parsed body.
    CW_ASSIGN_OR_RETURN(auto p12_password, b.take_secret("pkcs12_password"));
    CW_ASSIGN_OR_RETURN(auto key_password, b.take_secret("key_password"));
    ca::EnrollmentRequest r;
    CW_ASSIGN_OR_RETURN(r.profile, b.string("profile"));
    CW_ASSIGN_OR_RETURN(auto csr, b.opt_string("csr"));
    CW_ASSIGN_OR_RETURN(auto key_type, b.opt_string("key_type"));
    if (csr.has_value() == key_type.has_value()) {
      return fail(ErrorCode::kInvalidArgument, "give exactly one of 'csr' (PEM) and 'key_type'");
    }
    if (csr) {
      CW_ASSIGN_OR_RETURN(r.csr, x509::parse_csr(as_bytes(*csr)));
    } else {
      CW_ASSIGN_OR_RETURN(r.server_key, crypto::parse_key_type(*key_type));
    }
    CW_ASSIGN_OR_RETURN(r.common_name, b.opt_string("common_name"));
    CW_ASSIGN_OR_RETURN(auto sans, b.strings("sans"));
    for (const auto& s : sans) {
      CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(s));
      r.sans.push_back(san);
    }
    CW_ASSIGN_OR_RETURN(r.authority, b.opt_string("authority"));
    CW_ASSIGN_OR_RETURN(auto validity, b.opt_string("validity"));
    if (validity) {
      CW_ASSIGN_OR_RETURN(r.validity, parse_duration(*validity));
    }
    CW_ASSIGN_OR_RETURN(r.owner, b.opt_string("owner"));
    CW_ASSIGN_OR_RETURN(r.team, b.opt_string("team"));
    CW_ASSIGN_OR_RETURN(r.tags, b.strings("tags"));
    CW_ASSIGN_OR_RETURN(auto format, b.opt_string("format"));
    const std::string fmt = format.value_or("pem");
    if (fmt != "pem" && fmt != "pkcs12")
      return fail(ErrorCode::kInvalidArgument, "format must be 'pem' or 'pkcs12'");
    if (fmt == "pkcs12" && (!r.server_key || !p12_password || p12_password->empty())) {
      return fail(ErrorCode::kInvalidArgument,
                  "format 'pkcs12' needs 'key_type' and a 'pkcs12_password'");
    }
    r.requester = requester(id);
    r.channel = ca::Channel::kRest;
    auto enrolled = s_.ra.enroll(std::move(r));
    if (!enrolled && enrolled.error().code == ErrorCode::kNotFound) {
      // An unknown profile or authority named in the body is a bad request, not a missing URL.
      return fail(ErrorCode::kInvalidArgument, enrolled.error().message);
    }
    CW_ASSIGN_OR_RETURN(auto issued, std::move(enrolled));

    json j = record_like(issued);
    if (issued.private_key) {
      if (fmt == "pkcs12") {
        CW_ASSIGN_OR_RETURN(Bytes p12, x509::make_pkcs12(*issued.private_key, issued.certificate,
                                                         issued.chain, p12_password->chars(),
                                                         issued.certificate.info().subject_cn));
        j["pkcs12"] = to_base64(p12);
      } else {
        std::optional<std::string_view> passphrase;
        if (key_password) passphrase = key_password->chars();
        CW_ASSIGN_OR_RETURN(auto key_pem, issued.private_key->to_pkcs8_pem(passphrase));
        j["private_key_pem"] = std::string(as_chars(key_pem.span()));
      }
    }
    http::Response resp = ok_json(j, 201);
    resp.set_header("Location", "/api/v1/certificates/" + issued.certificate.info().sha256_hex);
    resp.set_header("Cache-Control", "no-store");
    return resp;
  }

  static json record_like(const ca::IssuedCertificate& issued) {
    return {{"fingerprint", issued.certificate.info().sha256_hex},
            {"serial", issued.certificate.info().serial_hex},
            {"authority", issued.authority},
            {"profile", issued.profile},
            {"certificate", certificate_json(issued.certificate.info())},
            {"certificate_pem", issued.certificate.pem()},
            {"chain_pem", x509::to_pem(issued.chain)}};
  }

  Result<http::Response> import_certificates(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(
        auto b, Body::parse(req, {"pem", "der", "pkcs12", "password", "owner", "team", "tags"}));
    CW_ASSIGN_OR_RETURN(auto pem, b.opt_string("pem"));
    CW_ASSIGN_OR_RETURN(auto der_b64, b.opt_string("der"));
    CW_ASSIGN_OR_RETURN(auto p12_b64, b.opt_string("pkcs12"));
    CW_ASSIGN_OR_RETURN(auto password, b.opt_string("password"));
    if (int(pem.has_value()) + int(der_b64.has_value()) + int(p12_b64.has_value()) != 1) {
      return fail(ErrorCode::kInvalidArgument,
                  "give exactly one of 'pem', 'der' (base64) and 'pkcs12' (base64)");
    }
    std::vector<x509::Certificate> certs;
    if (pem) {
      CW_ASSIGN_OR_RETURN(certs, x509::parse_certificates(as_bytes(*pem)));
    } else if (der_b64) {
      CW_ASSIGN_OR_RETURN(Bytes der, from_base64(*der_b64));
      CW_ASSIGN_OR_RETURN(certs, x509::parse_certificates(der));
    } else {
      CW_ASSIGN_OR_RETURN(Bytes p12, from_base64(*p12_b64));
      CW_ASSIGN_OR_RETURN(auto contents, x509::parse_pkcs12(p12, password.value_or("")));
      if (contents.leaf) certs.push_back(*contents.leaf);
      certs.insert(certs.end(), contents.chain.begin(), contents.chain.end());
      if (certs.empty()) return fail(ErrorCode::kMalformed, "the PKCS#12 holds no certificate");
    }
    inventory::RecordMeta meta;
    meta.origin = inventory::Origin::kImported;
    CW_ASSIGN_OR_RETURN(meta.owner, b.opt_string("owner"));
    CW_ASSIGN_OR_RETURN(meta.team, b.opt_string("team"));
    CW_ASSIGN_OR_RETURN(meta.tags, b.strings("tags"));
    CW_ASSIGN_OR_RETURN(auto report,
                        s_.inventory.import_certificates(certs, meta, id.actor, "api"));
    json items = json::array();
    for (const auto& i : report.items)
      items.push_back({{"fingerprint", i.fingerprint}, {"inserted", i.inserted}});
    return ok_json(
        {{"inserted", report.inserted}, {"duplicates", report.duplicates}, {"items", items}},
        report.inserted > 0 ? 201 : 200);
  }

  // Audit.
  Result<http::Response> audit_events(http::Request& req, const Identity&) {
    CW_RETURN_IF_ERROR(check_query(req, {"actor", "action", "target_type", "target_id", "since",
                                         "until", "before_seq", "limit"}));
    audit::EventFilter f;
    CW_ASSIGN_OR_RETURN(f.actor, query_text(req, "actor"));
    CW_ASSIGN_OR_RETURN(f.action, query_text(req, "action"));
    CW_ASSIGN_OR_RETURN(f.target_type, query_text(req, "target_type"));
    CW_ASSIGN_OR_RETURN(f.target_id, query_text(req, "target_id"));
    CW_ASSIGN_OR_RETURN(auto since, query_text(req, "since"));
    if (since) {
      CW_ASSIGN_OR_RETURN(f.since, parse_time(*since));
    }
    CW_ASSIGN_OR_RETURN(auto until, query_text(req, "until"));
    if (until) {
      CW_ASSIGN_OR_RETURN(f.until, parse_time(*until));
    }
    CW_ASSIGN_OR_RETURN(f.after_seq, query_int(req, "before_seq"));
    CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
    if (limit) f.limit = static_cast<int>(std::clamp<std::int64_t>(*limit, -1, 100000));
    CW_ASSIGN_OR_RETURN(auto events, s_.audit.list(f));
    json items = json::array();
    for (const auto& e : events) items.push_back(event_json(e));
    std::optional<std::string> next;
    if (static_cast<int>(events.size()) == f.limit && !events.empty())
      next = std::to_string(events.back().seq);
    return ok_json(
        {{"items", items}, {"next_before_seq", next ? json(std::stoll(*next)) : json(nullptr)}});
  }
  Result<http::Response> audit_verify(http::Request& req, const Identity&) {
    CW_RETURN_IF_ERROR(check_query(req, {"checkpoint"}));
    CW_ASSIGN_OR_RETURN(auto text, query_text(req, "checkpoint"));
    std::optional<audit::Checkpoint> checkpoint;
    if (text) {
      CW_ASSIGN_OR_RETURN(checkpoint, audit::parse_checkpoint(*text));
    }
    CW_ASSIGN_OR_RETURN(auto report, s_.audit.verify(checkpoint));
    return ok_json(verify_report_json(report, checkpoint.has_value()));
  }

  // Teams, principals, tokens.
  Result<http::Response> list_teams(http::Request&, const Identity&) {
    CW_ASSIGN_OR_RETURN(auto teams, s_.auth.list_teams());
    json items = json::array();
    for (const auto& t : teams) items.push_back(team_json(t));
    return ok_json({{"items", items}});
  }
  Result<http::Response> create_team(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "description", "allowed_profiles",
                                                  "allowed_domains", "allowed_authorities"}));
    auth::Team t;
    CW_ASSIGN_OR_RETURN(t.name, b.string("name"));
    CW_ASSIGN_OR_RETURN(auto desc, b.opt_string("description"));
    t.description = desc.value_or("");
    CW_ASSIGN_OR_RETURN(t.allowed_profiles, b.strings("allowed_profiles"));
    CW_ASSIGN_OR_RETURN(t.allowed_domains, b.strings("allowed_domains"));
    CW_ASSIGN_OR_RETURN(t.allowed_authorities, b.strings("allowed_authorities"));
    CW_RETURN_IF_ERROR(
        ca::check_grant(s_.profiles, s_.authorities, t.allowed_profiles, t.allowed_authorities));
    CW_ASSIGN_OR_RETURN(auto created, s_.auth.create_team(t, id.actor));
    return ok_json(team_json(created), 201);
  }
  Result<http::Response> list_principals(http::Request&, const Identity&) {
    CW_ASSIGN_OR_RETURN(auto list, s_.auth.list_principals());
    json items = json::array();
    for (const auto& p : list) items.push_back(principal_json(p));
    return ok_json({{"items", items}});
  }
  Result<http::Response> create_principal(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "role", "team"}));
    auth::Principal p;
    CW_ASSIGN_OR_RETURN(p.name, b.string("name"));
    CW_ASSIGN_OR_RETURN(auto role, b.string("role"));
    CW_ASSIGN_OR_RETURN(p.role, auth::parse_role(role));
    CW_ASSIGN_OR_RETURN(p.team, b.opt_string("team"));
    CW_ASSIGN_OR_RETURN(auto created, s_.auth.create_principal(p, id.actor));
    return ok_json(principal_json(created), 201);
  }
  Result<http::Response> set_disabled(http::Request& req, const Identity& id, bool disabled) {
    CW_RETURN_IF_ERROR(s_.auth.set_principal_disabled(req.params["name"], disabled, id.actor));
    CW_ASSIGN_OR_RETURN(auto p, s_.auth.principal(req.params["name"]));
    return ok_json(principal_json(p));
  }
  Result<http::Response> disable_principal(http::Request& req, const Identity& id) {
    return set_disabled(req, id, true);
  }
  Result<http::Response> enable_principal(http::Request& req, const Identity& id) {
    return set_disabled(req, id, false);
  }
  Result<http::Response> map_certificate(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"certificate_pem", "fingerprint"}));
    CW_ASSIGN_OR_RETURN(auto pem, b.opt_string("certificate_pem"));
    CW_ASSIGN_OR_RETURN(auto fp, b.opt_string("fingerprint"));
    if (pem.has_value() == fp.has_value()) {
      return fail(ErrorCode::kInvalidArgument,
                  "give exactly one of 'certificate_pem' and 'fingerprint'");
    }
    std::string fingerprint;
    if (pem) {
      CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(*pem)));
      fingerprint = certs.front().info().sha256_hex;
    } else {
      CW_ASSIGN_OR_RETURN(fingerprint, auth::certificate_fingerprint(*fp));
    }
    CW_RETURN_IF_ERROR(s_.auth.map_certificate(fingerprint, req.params["name"], id.actor));
    return ok_json({{"principal", req.params["name"]}, {"fingerprint", fingerprint}}, 201);
  }
  Result<http::Response> unmap_certificate(http::Request& req, const Identity& id) {
    CW_RETURN_IF_ERROR(
        s_.auth.unmap_certificate(req.params["fingerprint"], req.params["name"], id.actor));
    return http::Response{.status = 204, .headers = {}, .body = {}};
  }
  Result<http::Response> list_tokens(http::Request& req, const Identity&) {
    CW_RETURN_IF_ERROR(check_query(req, {"principal"}));
    CW_ASSIGN_OR_RETURN(auto principal, query_text(req, "principal"));
    CW_ASSIGN_OR_RETURN(auto tokens, s_.auth.list_tokens(principal));
    json items = json::array();
    for (const auto& t : tokens) items.push_back(token_json(t));
    return ok_json({{"items", items}});
  }
  Result<http::Response> create_token(http::Request& req, const Identity& id) {
    CW_ASSIGN_OR_RETURN(
        auto b, Body::parse(req, {"principal", "role", "team", "description", "ttl", "no_expiry"}));
    auth::TokenRequest t;
    CW_ASSIGN_OR_RETURN(t.principal, b.string("principal"));
    CW_ASSIGN_OR_RETURN(auto role, b.opt_string("role"));
    if (role) {
      CW_ASSIGN_OR_RETURN(t.role, auth::parse_role(*role));
    }
    CW_ASSIGN_OR_RETURN(t.team, b.opt_string("team"));
    CW_ASSIGN_OR_RETURN(auto desc, b.opt_string("description"));
    t.description = desc.value_or("");
    CW_ASSIGN_OR_RETURN(auto ttl, b.opt_string("ttl"));
    if (ttl) {
      CW_ASSIGN_OR_RETURN(t.ttl, parse_duration(*ttl));
    }
    CW_ASSIGN_OR_RETURN(auto no_expiry, b.opt_bool("no_expiry"));
    t.no_expiry = no_expiry.value_or(false);
    CW_ASSIGN_OR_RETURN(auto created, s_.auth.create_token(t, id.actor));
    json j = token_json(created.info);
    j["token"] = created.secret;  // shown once
    http::Response resp = ok_json(j, 201);
    resp.set_header("Cache-Control", "no-store");
    return resp;
  }
  Result<http::Response> revoke_token(http::Request& req, const Identity& id) {
    CW_RETURN_IF_ERROR(s_.auth.revoke_token(req.params["id"], id.actor));
    return http::Response{.status = 204, .headers = {}, .body = {}};
  }

  Services& s_;
};

}  // namespace

std::shared_ptr<http::Router> make_api_router(Services& services) {
  auto router = std::make_shared<http::Router>();
  // Each handler holds a reference to the Api object, which lives as long as the router.
  std::make_shared<Api>(services)->register_routes(*router);
  return router;
}

std::shared_ptr<http::Router> make_public_router(Services& services) {
  auto router = std::make_shared<http::Router>();
  std::make_shared<Api>(services)->register_public_routes(*router);
  return router;
}

}  // namespace certward::api
