#include <nlohmann/json.hpp>

#include "api/body.h"
#include "api/guard.h"
#include "http/problem.h"
#include "protocols/ssh/ssh.h"

namespace certward::protocols::ssh {
namespace {

using auth::Identity;
using auth::Permission;
using certward::ssh::CertType;
using certward::ssh::SshService;
using nlohmann::json;

json profile_json(const SshProfileSettings& p) {
  json teams = json::object();
  for (const auto& [team, patterns] : p.team_principals) teams[team] = patterns;
  return {{"name", p.name},
          {"type", p.type},
          {"authority", p.authority},
          {"max_validity", format_duration(p.max_validity)},
          {"default_validity", format_duration(p.default_validity)},
          {"principals", p.principals},
          {"team_principals", teams},
          {"extensions", p.extensions},
          {"allowed_extensions", p.allowed_extensions},
          {"allow_force_command", p.allow_force_command},
          {"allow_source_address", p.allow_source_address}};
}

Result<http::Response> create_authority(SshService& ssh, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, api::Body::parse(req, {"name", "key_type", "key_store", "token",
                                                     "key_label", "key_id", "existing_key"}));
  certward::ssh::SshAuthorityRequest r;
  CW_ASSIGN_OR_RETURN(r.name, b.string("name"));
  CW_ASSIGN_OR_RETURN(auto key_type, b.opt_string("key_type"));
  if (key_type) {
    CW_ASSIGN_OR_RETURN(r.key_type, crypto::parse_key_type(*key_type));
  }
  CW_ASSIGN_OR_RETURN(r.token_key, api::token_key_request(b));
  CW_ASSIGN_OR_RETURN(auto a, ssh.create_authority(r, id.actor));
  return api::ok_json(authority_json(a), 201);
}

Result<http::Response> sign(SshService& ssh, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(
      auto b, api::Body::parse(req, {"profile", "authority", "type", "public_key", "principals",
                                     "validity", "key_id", "force_command", "source_address",
                                     "extensions"}));
  certward::ssh::SshSignRequest r;
  CW_ASSIGN_OR_RETURN(auto profile, b.opt_string("profile"));
  r.profile = profile.value_or("");
  CW_ASSIGN_OR_RETURN(r.authority, b.opt_string("authority"));
  CW_ASSIGN_OR_RETURN(auto type, b.opt_string("type"));
  if (type) {
    if (*type != "user" && *type != "host") {
      return fail(ErrorCode::kInvalidArgument, "type is \"user\" or \"host\"");
    }
    r.type = *type == "host" ? CertType::kHost : CertType::kUser;
  }
  CW_ASSIGN_OR_RETURN(r.public_key, b.string("public_key"));
  CW_ASSIGN_OR_RETURN(r.principals, b.strings("principals"));
  CW_ASSIGN_OR_RETURN(auto validity, b.opt_string("validity"));
  if (validity) {
    CW_ASSIGN_OR_RETURN(r.validity, parse_duration(*validity));
  }
  CW_ASSIGN_OR_RETURN(r.key_id, b.opt_string("key_id"));
  CW_ASSIGN_OR_RETURN(r.force_command, b.opt_string("force_command"));
  CW_ASSIGN_OR_RETURN(r.source_address, b.opt_string("source_address"));
  CW_ASSIGN_OR_RETURN(r.extensions, b.opt_strings("extensions"));
  CW_ASSIGN_OR_RETURN(auto rec, ssh.sign(r, id.requester(), ca::Channel::kRest));
  return api::ok_json(certificate_json(rec), 201);
}

Result<http::Response> list(SshService& ssh, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(api::check_query(
      req, {"search", "authority", "expiring_within", "include_expired", "limit"}));
  certward::ssh::SshCertificateFilter f;
  CW_ASSIGN_OR_RETURN(f.search, api::query_text(req, "search"));
  CW_ASSIGN_OR_RETURN(f.authority, api::query_text(req, "authority"));
  CW_ASSIGN_OR_RETURN(auto within, api::query_text(req, "expiring_within"));
  if (within) {
    CW_ASSIGN_OR_RETURN(f.expiring_within, parse_duration(*within));
  }
  CW_ASSIGN_OR_RETURN(auto expired, api::query_text(req, "include_expired"));
  if (expired && *expired != "true" && *expired != "false") {
    return fail(ErrorCode::kMalformed, "include_expired is true or false");
  }
  f.include_expired = expired && *expired == "true";
  CW_ASSIGN_OR_RETURN(f.limit, api::query_limit(req, f.limit));
  // A team's requesters see their team's certificates only.
  if (id.scope) f.team = id.team.value_or("");
  CW_ASSIGN_OR_RETURN(auto records, ssh.list(f));
  json items = json::array();
  for (const auto& r : records) items.push_back(certificate_json(r));
  return api::ok_json({{"items", items}});
}

Result<http::Response> get_one(SshService& ssh, http::Request& req, const Identity& id) {
  auto rec = ssh.get(req.params.at("id"));
  if (rec && id.scope && rec->team != id.team) {
    return fail(ErrorCode::kNotFound, "no SSH certificate '" + req.params.at("id") + "'");
  }
  if (!rec) return std::unexpected(rec.error());
  return api::ok_json(certificate_json(*rec));
}

Result<http::Response> revoke(SshService& ssh, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, api::Body::parse(req, {"reason"}));
  CW_ASSIGN_OR_RETURN(auto reason, b.opt_string("reason"));
  CW_ASSIGN_OR_RETURN(auto rec, ssh.revoke(req.params.at("id"), reason.value_or(""),
                                           id.requester()));
  return api::ok_json(certificate_json(rec));
}

// Binds a handler taking the SSH service to the guard's handler shape.
template <typename F>
api::GuardedHandler with(SshService& ssh, F f) {
  return [&ssh, f](api::Services&, http::Request& req, const Identity& id) {
    return f(ssh, req, id);
  };
}

}  // namespace

json authority_json(const certward::ssh::SshAuthorityInfo& a) {
  json j = {{"name", a.name},
            {"key_type", a.key_type},
            {"public_key", a.public_key},
            {"fingerprint", a.fingerprint},
            {"key_storage", a.key_storage},
            {"created_at", format_time(a.created_at)}};
  if (a.key_token) j["key_token"] = *a.key_token;
  return j;
}

json certificate_json(const certward::ssh::SshCertificateRecord& c) {
  json j = {{"id", c.id},
            {"authority", c.authority},
            {"serial", std::to_string(c.serial)},
            {"type", std::string(certward::ssh::cert_type_name(c.type))},
            {"key_id", c.key_id},
            {"principals", c.principals},
            {"key_fingerprint", c.key_fingerprint},
            {"valid_after", format_time(c.valid_after)},
            {"valid_before", format_time(c.valid_before)},
            {"profile", c.profile},
            {"team", c.team ? json(*c.team) : json(nullptr)},
            {"requester", c.requester},
            {"certificate", c.certificate},
            {"created_at", format_time(c.created_at)}};
  if (c.revoked_at) {
    j["revoked_at"] = format_time(*c.revoked_at);
    j["revocation_reason"] = c.revocation_reason.value_or("unspecified");
  }
  return j;
}

std::unique_ptr<http::Router> make_api_router(api::Services& services, SshService& ssh) {
  auto r = std::make_unique<http::Router>();
  const std::string base = "/api/v1/ssh";
  api::add_guarded(*r, services, "GET", base + "/authorities", Permission::kReadCatalog,
                   api::BodyKind::kNone,
                   with(ssh, [](SshService& s, http::Request& req,
                                const Identity&) -> Result<http::Response> {
                     CW_RETURN_IF_ERROR(api::check_query(req, {}));
                     CW_ASSIGN_OR_RETURN(auto all, s.authorities());
                     json items = json::array();
                     for (const auto& a : all) items.push_back(authority_json(a));
                     return api::ok_json({{"items", items}});
                   }));
  api::add_guarded(*r, services, "POST", base + "/authorities", Permission::kManageAuthorities,
                   api::BodyKind::kJson, with(ssh, create_authority));
  api::add_guarded(*r, services, "GET", base + "/authorities/{name}", Permission::kReadCatalog,
                   api::BodyKind::kNone,
                   with(ssh, [](SshService& s, http::Request& req,
                                const Identity&) -> Result<http::Response> {
                     CW_ASSIGN_OR_RETURN(auto a, s.authority(req.params.at("name")));
                     return api::ok_json(authority_json(a));
                   }));
  api::add_guarded(*r, services, "GET", base + "/profiles", Permission::kReadCatalog,
                   api::BodyKind::kNone,
                   with(ssh, [](SshService& s, http::Request& req,
                                const Identity&) -> Result<http::Response> {
                     CW_RETURN_IF_ERROR(api::check_query(req, {}));
                     json items = json::array();
                     for (const auto& p : s.profiles()) items.push_back(profile_json(p));
                     return api::ok_json({{"items", items}});
                   }));
  api::add_guarded(*r, services, "POST", base + "/certificates", Permission::kIssue,
                   api::BodyKind::kJson, with(ssh, sign));
  api::add_guarded(*r, services, "GET", base + "/certificates", Permission::kReadInventory,
                   api::BodyKind::kNone, with(ssh, list));
  api::add_guarded(*r, services, "GET", base + "/certificates/{id}", Permission::kReadInventory,
                   api::BodyKind::kNone, with(ssh, get_one));
  api::add_guarded(*r, services, "POST", base + "/certificates/{id}/revoke", Permission::kRevoke,
                   api::BodyKind::kJson, with(ssh, revoke));
  return r;
}

std::unique_ptr<http::Router> make_public_router(SshService& ssh) {
  auto r = std::make_unique<http::Router>();
  r->add("GET", "/{file}", [&ssh](http::Request& req) {
    const std::string& file = req.params.at("file");
    auto not_found = [] {
      // The name is not echoed: it is the requester's, decoded.
      http::Response resp = http::Response::text(404, "no such SSH CA file\n");
      resp.set_header("X-Content-Type-Options", "nosniff");
      return resp;
    };
    const bool pub = file.ends_with(".pub");
    const bool krl = file.ends_with(".krl");
    if (!pub && !krl) return not_found();
    const std::string name = file.substr(0, file.size() - 4);
    if (!ca::check_authority_name(name)) return not_found();
    if (pub) {
      auto a = ssh.authority(name);
      if (!a) return a.error().code == ErrorCode::kNotFound ? not_found()
                                                             : http::problem_for(a.error());
      http::Response resp = http::Response::text(200, a->public_key + "\n");
      resp.set_header("X-Content-Type-Options", "nosniff");
      return resp;
    }
    auto list = ssh.krl(name);
    if (!list) return list.error().code == ErrorCode::kNotFound ? not_found()
                                                                 : http::problem_for(list.error());
    http::Response resp;
    resp.status = 200;
    resp.body.assign(as_chars(*list));
    resp.set_header("Content-Type", "application/octet-stream");
    resp.set_header("Cache-Control", "no-cache");
    return resp;
  });
  return r;
}

}  // namespace certward::protocols::ssh
