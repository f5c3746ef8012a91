// The catalog: certificate profiles and authorities (/api/v1/profiles, /api/v1/authorities),
// and the CA certificates served on the plain-HTTP listener (/ca/<name>.crt).

#include <algorithm>
#include <climits>

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"
#include "ca/crl_publisher.h"
#include "ca/hierarchy.h"
#include "http/problem.h"
#include "x509/bundle.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> list_profiles(Services& s, http::Request&, const Identity&) {
  json items = json::array();
  for (const auto& p : s.profiles.all()) items.push_back(profile_json(p));
  return ok_json({{"items", items}});
}

Result<http::Response> get_profile(Services& s, http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(const ca::Profile* p, s.profiles.find(req.params["name"]));
  return ok_json(profile_json(*p));
}

// The latest full and delta CRLs an authority published: what an operator checks first when
// relying parties report revocation errors. From the publisher's memory, not a query each.
json crl_status(Services& s, const std::string& authority) {
  json out = json::object();
  if (!s.crls) return out;
  const SysTime now = s.clock.now();
  for (const bool delta : {false, true}) {
    auto crl = s.crls->current(authority, delta);
    if (!crl || !*crl) {
      out[delta ? "delta_crl" : "crl"] = nullptr;
      continue;
    }
    const auto& c = **crl;
    out[delta ? "delta_crl" : "crl"] = {{"number", c.number},
                                        {"this_update", format_time(c.this_update)},
                                        {"next_update", format_time(c.next_update)},
                                        {"entries", c.entries},
                                        {"overdue", c.next_update < now}};
  }
  return out;
}

json authority_with_status(Services& s, const ca::AuthorityInfo& a) {
  json j = authority_json(a);
  j.update(crl_status(s, a.name));
  return j;
}

Result<http::Response> list_authorities(Services& s, http::Request&, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto list, s.authorities.list());
  json items = json::array();
  for (const auto& a : list) items.push_back(authority_with_status(s, a));
  return ok_json({{"items", items}});
}

Result<http::Response> get_authority(Services& s, http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto a, s.authorities.info(req.params["name"]));
  return ok_json(authority_with_status(s, a));
}

// Disabling stops the authority signing anything (in every replica within
// ca.authority_recheck); its certificates stay valid.
Result<http::Response> set_authority_enabled(Services& s, http::Request& req, const Identity& id,
                                             bool enabled) {
  CW_RETURN_IF_ERROR(s.authorities.set_enabled(req.params["name"], enabled, id.actor));
  CW_ASSIGN_OR_RETURN(auto a, s.authorities.info(req.params["name"]));
  return ok_json(authority_json(a));
}
Result<http::Response> disable_authority(Services& s, http::Request& req, const Identity& id) {
  return set_authority_enabled(s, req, id, false);
}
Result<http::Response> enable_authority(Services& s, http::Request& req, const Identity& id) {
  return set_authority_enabled(s, req, id, true);
}

Result<http::Response> authority_chain(Services& s, http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto a, s.authorities.info(req.params["name"]));
  std::vector<x509::Certificate> certs = {a.certificate};
  certs.insert(certs.end(), a.chain.begin(), a.chain.end());
  return http::Response::text(200, x509::to_pem(certs), "application/pem-certificate-chain");
}

Result<http::Response> create_authority(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(
      auto b, Body::parse(req, {"name", "kind", "parent", "subject", "key_type", "validity",
                                "path_length", "permitted", "excluded", "key_store", "token",
                                "key_label", "key_id", "existing_key"}));
  ca::AuthorityRequest r;
  r.channel = ca::Channel::kRest;
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
  CW_ASSIGN_OR_RETURN(r.token_key, token_key_request(b));
  CW_ASSIGN_OR_RETURN(auto info, ca::create_authority(s.ra, s.authorities, r, id.requester()));
  return ok_json(authority_json(info), 201);
}

Result<http::Response> import_authority(Services& s, http::Request& req, const Identity& id) {
  auto parsed = Body::parse(req, {"name", "certificate_pem", "private_key_pem", "key_passphrase",
                                  "chain_pem", "parent", "kind"});
  // The raw body holds the CA key: from here on only the parsed copy is used, and the
  // secrets are taken out of that into SecretBytes, which cleanse themselves.
  crypto::cleanse(req.body);
  CW_ASSIGN_OR_RETURN(auto b, std::move(parsed));
  ca::ImportOptions o;
  // Secrets first, so that no early return leaves them in the parsed body.
  // Kept in its Result rather than moved into a new optional, which g++ 12 -O2 takes for a
  // read of uninitialised memory (-Wmaybe-uninitialized).
  auto key = b.take_secret("private_key_pem");
  if (!key) return std::unexpected(key.error());
  CW_ASSIGN_OR_RETURN(o.key_passphrase, b.take_secret("key_passphrase"));
  if (!*key || (*key)->empty())
    return fail(ErrorCode::kMalformed, "field 'private_key_pem' is required");
  o.private_key = std::move(**key);
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
  CW_ASSIGN_OR_RETURN(auto info, s.authorities.import(o, id.actor));
  return ok_json(authority_json(info), 201);
}

Result<http::Response> list_cross_certificates(Services& s, http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto list, s.authorities.cross_certificates(req.params["name"]));
  json items = json::array();
  for (const auto& c : list) items.push_back(cross_certificate_json(c));
  return ok_json({{"items", items}});
}

Result<http::Response> add_cross_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"certificate_pem", "chain_pem"}));
  CW_ASSIGN_OR_RETURN(auto bundle, b.string("certificate_pem"));
  CW_ASSIGN_OR_RETURN(auto chain, b.opt_string("chain_pem"));
  // Exactly one certificate in certificate_pem: the issuers go in chain_pem.
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(bundle)));
  if (certs.size() != 1) {
    return fail(ErrorCode::kMalformed,
                "certificate_pem holds " + std::to_string(certs.size()) +
                    " certificates; give the cross-certificate alone and its issuers in chain_pem");
  }
  if (chain && chain->find_first_not_of(" \t\r\n") != std::string::npos) {
    // What is given must be read: a chain with nothing readable in it is not an empty chain.
    auto issuers = x509::parse_certificates(as_bytes(*chain));
    if (!issuers) {
      return fail(ErrorCode::kMalformed, "chain_pem holds no certificate: " +
                                             issuers.error().message);
    }
    bundle += "\n" + *chain;
  }
  CW_ASSIGN_OR_RETURN(auto cross, s.authorities.add_cross_certificate(req.params["name"],
                                                                      as_bytes(bundle), id.actor));
  return ok_json(cross_certificate_json(cross), 201);
}

Result<http::Response> remove_cross_certificate(Services& s, http::Request& req,
                                                const Identity& id) {
  CW_RETURN_IF_ERROR(s.authorities.remove_cross_certificate(req.params["name"],
                                                            req.params["fingerprint"], id.actor));
  return http::Response{.status = 204, .headers = {}, .body = {}};
}

http::Response ca_certificate_file(Services& s, http::Request& req) {
  std::string file = req.params["file"];
  const bool pem = file.ends_with(".pem");
  if (!file.ends_with(".crt") && !pem) {
    return http::Response::problem(404, "Not Found",
                                   "CA certificates are served as <name>.crt (DER) or <name>.pem");
  }
  file.resize(file.size() - 4);
  auto a = s.authorities.info(file);
  if (!a) return http::problem_for(a.error());
  if (pem) return http::Response::text(200, a->certificate.pem(), "application/x-pem-file");
  return http::Response::text(200, std::string(as_chars(a->certificate.der())),
                              "application/pkix-cert");
}

}  // namespace

void add_catalog_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/profiles", Permission::kReadCatalog, BodyKind::kNone,
              list_profiles);
  add_guarded(r, s, "GET", "/api/v1/profiles/{name}", Permission::kReadCatalog, BodyKind::kNone,
              get_profile);

  add_guarded(r, s, "GET", "/api/v1/authorities", Permission::kReadCatalog, BodyKind::kNone,
              list_authorities);
  add_guarded(r, s, "POST", "/api/v1/authorities", Permission::kManageAuthorities, BodyKind::kJson,
              create_authority);
  add_guarded(r, s, "POST", "/api/v1/authorities/import", Permission::kManageAuthorities,
              BodyKind::kJson, import_authority);
  add_guarded(r, s, "GET", "/api/v1/authorities/{name}", Permission::kReadCatalog, BodyKind::kNone,
              get_authority);
  add_guarded(r, s, "GET", "/api/v1/authorities/{name}/chain", Permission::kReadCatalog,
              BodyKind::kNone, authority_chain);
  add_guarded(r, s, "GET", "/api/v1/authorities/{name}/cross-certificates",
              Permission::kReadCatalog, BodyKind::kNone, list_cross_certificates);
  add_guarded(r, s, "POST", "/api/v1/authorities/{name}/cross-certificates",
              Permission::kManageAuthorities, BodyKind::kJson, add_cross_certificate);
  add_guarded(r, s, "DELETE", "/api/v1/authorities/{name}/cross-certificates/{fingerprint}",
              Permission::kManageAuthorities, BodyKind::kNone, remove_cross_certificate);
  add_guarded(r, s, "POST", "/api/v1/authorities/{name}/disable", Permission::kManageAuthorities,
              BodyKind::kNone, disable_authority);
  add_guarded(r, s, "POST", "/api/v1/authorities/{name}/enable", Permission::kManageAuthorities,
              BodyKind::kNone, enable_authority);
}

void add_ca_certificate_routes(http::Router& r, Services& s) {
  r.add("GET", "/ca/{file}", [&s](http::Request& req) { return ca_certificate_file(s, req); });
}

}  // namespace certward::api
