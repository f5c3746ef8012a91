// Enrollment credentials (/api/v1/enrollment/credentials): made and revoked by those who
// manage principals (a credential lets a device enroll in a team's name), read by those who
// may read principals; secrets are shown once, in the answer that made them.

#include <algorithm>

#include "api/body.h"
#include "api/enrollment.h"
#include "api/guard.h"
#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::CredentialKind;
using auth::Identity;
using auth::Permission;
using nlohmann::json;

json optional_time(const std::optional<SysTime>& t) {
  return t ? json(format_time(*t)) : json(nullptr);
}

// One CSV field (RFC 4180): quoted when it holds a separator, a quote or a line break; a field
// a spreadsheet would take for a formula is prefixed with an apostrophe.
std::string csv_field(std::string_view s) {
  std::string v(s);
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v = "'" + v;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

Result<auth::CredentialRequest> request_of(const Body& b, const ca::ProfileSet& profiles) {
  auth::CredentialRequest r;
  CW_ASSIGN_OR_RETURN(auto kind, b.string("kind"));
  auto k = auth::parse_credential_kind(kind);
  if (!k) return fail(ErrorCode::kInvalidArgument, "kind must be one of est, scep, cmp");
  r.kind = *k;
  CW_ASSIGN_OR_RETURN(r.team, b.string("team"));
  CW_ASSIGN_OR_RETURN(r.profile, b.string("profile"));
  // A credential for a profile nobody can issue under would only fail on the device.
  CW_ASSIGN_OR_RETURN(const ca::Profile* profile, profiles.find(r.profile));
  if (profile->internal || profile->ca)
    return fail(ErrorCode::kInvalidArgument,
                "profile '" + r.profile + "' cannot be used for device enrollment");
  CW_ASSIGN_OR_RETURN(r.authority, b.opt_string("authority"));
  CW_ASSIGN_OR_RETURN(r.label, b.opt_string("label"));
  CW_ASSIGN_OR_RETURN(auto max_uses, b.opt_int("max_uses"));
  if (max_uses) {
    if (*max_uses < 0 || *max_uses > 1'000'000)
      return fail(ErrorCode::kInvalidArgument, "max_uses must be between 0 (any) and 1000000");
    r.max_uses = static_cast<int>(*max_uses);
  }
  CW_ASSIGN_OR_RETURN(auto lifetime, b.opt_string("lifetime"));
  if (lifetime) {
    auto d = parse_duration(*lifetime);
    if (!d) return fail(ErrorCode::kInvalidArgument, "lifetime: " + d.error().message);
    r.lifetime = *d;
  }
  CW_ASSIGN_OR_RETURN(auto description, b.opt_string("description"));
  r.description = description.value_or("");
  return r;
}

Result<http::Response> create_credential(Services& s, auth::EnrollmentCredentials& creds,
                                         const Config& config, http::Request& req,
                                         const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b,
                      Body::parse(req, {"kind", "team", "profile", "authority", "label", "max_uses",
                                        "lifetime", "description", "expected_subject"}));
  CW_ASSIGN_OR_RETURN(auto r, request_of(b, s.profiles));
  CW_ASSIGN_OR_RETURN(r.expected_subject, b.opt_string("expected_subject"));
  std::vector<std::string> subjects;
  if (r.expected_subject) subjects.push_back(*r.expected_subject);
  CW_RETURN_IF_ERROR(check_credential(s.auth, s.authorities, config, r, subjects));
  CW_ASSIGN_OR_RETURN(auto made, creds.create(r, id.actor));
  json j = credential_json(made.info, s.clock.now());
  j["secret"] = made.secret;  // shown once
  auto resp = ok_json(j, 201);
  resp.set_header("Cache-Control", "no-store");
  return resp;
}

Result<http::Response> create_batch(Services& s, auth::EnrollmentCredentials& creds,
                                    const Config& config, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"format"}));
  CW_ASSIGN_OR_RETURN(auto format, query_text(req, "format"));
  if (format && *format != "json" && *format != "csv")
    return fail(ErrorCode::kInvalidArgument, "format must be json or csv");
  CW_ASSIGN_OR_RETURN(auto b,
                      Body::parse(req, {"kind", "team", "profile", "authority", "label", "max_uses",
                                        "lifetime", "description", "count", "expected_subjects"}));
  auth::BatchRequest r;
  CW_ASSIGN_OR_RETURN(r.each, request_of(b, s.profiles));
  CW_ASSIGN_OR_RETURN(auto count, b.opt_int("count"));
  CW_ASSIGN_OR_RETURN(r.expected_subjects, b.strings("expected_subjects"));
  if (count.has_value() == !r.expected_subjects.empty())
    return fail(ErrorCode::kInvalidArgument, "give exactly one of count and expected_subjects");
  if (count) {
    if (*count < 1 || *count > auth::kMaxBatch)
      return fail(ErrorCode::kInvalidArgument, "count must be between 1 and 10000");
    r.count = static_cast<int>(*count);
  }
  CW_RETURN_IF_ERROR(check_credential(s.auth, s.authorities, config, r.each, r.expected_subjects));
  CW_ASSIGN_OR_RETURN(auto made, creds.create_batch(r, id.actor));
  const SysTime now = s.clock.now();
  json items = json::array();
  for (const auto& c : made.credentials) {
    json j = credential_json(c.info, now);
    j["secret"] = c.secret;
    items.push_back(std::move(j));
  }
  http::Response resp;
  if (format == "csv") {
    resp = http::Response::text(201, credentials_csv(items), "text/csv; charset=utf-8");
    resp.set_header("Content-Disposition",
                    "attachment; filename=\"enrollment-" + made.batch + ".csv\"");
  } else {
    resp = ok_json({{"batch", made.batch}, {"items", std::move(items)}}, 201);
  }
  resp.set_header("Cache-Control", "no-store");
  return resp;
}

Result<http::Response> list_credentials(Services& s, auth::EnrollmentCredentials& creds,
                                        const Config&, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"team", "batch", "kind", "limit", "after"}));
  auth::CredentialFilter f;
  CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
  CW_ASSIGN_OR_RETURN(f.batch, query_text(req, "batch"));
  CW_ASSIGN_OR_RETURN(auto kind, query_text(req, "kind"));
  if (kind) {
    f.kind = auth::parse_credential_kind(*kind);
    if (!f.kind) return fail(ErrorCode::kInvalidArgument, "kind must be one of est, scep, cmp");
  }
  CW_ASSIGN_OR_RETURN(f.limit, query_limit(req, 100));
  CW_ASSIGN_OR_RETURN(f.after, query_text(req, "after"));
  CW_ASSIGN_OR_RETURN(auto list, creds.list(f));
  const SysTime now = s.clock.now();
  json items = json::array();
  for (const auto& c : list) items.push_back(credential_json(c, now));
  json next = nullptr;
  if (static_cast<int>(list.size()) == f.limit) next = list.back().id;
  return ok_json({{"items", std::move(items)}, {"next_after", std::move(next)}});
}

Result<http::Response> get_credential(Services& s, auth::EnrollmentCredentials& creds,
                                      const Config&, http::Request& req, const Identity&) {
  const std::string& id = req.params.at("id");
  CW_ASSIGN_OR_RETURN(auto c, creds.get(id));
  CW_ASSIGN_OR_RETURN(auto uses, creds.uses(id));
  return ok_json(credential_json(c, uses, s.clock.now()));
}

Result<http::Response> revoke_credential(Services& s, auth::EnrollmentCredentials& creds,
                                         const Config&, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto c, creds.revoke(req.params.at("id"), id.actor));
  return ok_json(credential_json(c, s.clock.now()));
}

}  // namespace

std::string credentials_csv(const json& items) {
  auto field = [](const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string out = "id,kind,secret,expected_subject,profile,team,expires_at\r\n";
  for (const auto& c : items) {
    // Ids and secrets are base64url made here, exported as they are: a secret starting with
    // '-' must reach the device unchanged.
    out += field(c, "id") + "," + field(c, "kind") + "," + field(c, "secret") + "," +
           csv_field(field(c, "expected_subject")) + "," + csv_field(field(c, "profile")) + "," +
           csv_field(field(c, "team")) + "," + field(c, "expires_at") + "\r\n";
  }
  return out;
}

Status check_credential(const auth::AuthService& auth, const ca::AuthorityService& authorities,
                        const Config& config, const auth::CredentialRequest& r,
                        std::span<const std::string> subjects) {
  CW_ASSIGN_OR_RETURN(ca::Scope scope, auth.team_scope(r.team));
  if (std::find(scope.profiles.begin(), scope.profiles.end(), r.profile) == scope.profiles.end())
    return fail(ErrorCode::kInvalidArgument,
                "team '" + r.team + "' may not use profile '" + r.profile + "'");
  const std::string& fallback = authorities.settings().default_authority;
  const std::string authority = r.authority.value_or(fallback);
  if (auto a = authorities.info(authority); !a)
    return fail(ErrorCode::kInvalidArgument, "no authority '" + authority + "'");
  const bool granted = scope.authorities.empty()
                           ? authority == fallback
                           : std::find(scope.authorities.begin(), scope.authorities.end(),
                                       authority) != scope.authorities.end();
  if (!granted)
    return fail(ErrorCode::kInvalidArgument,
                "team '" + r.team + "' may not use authority '" + authority + "'");
  for (const std::string& subject : subjects) {
    const bool within =
        std::any_of(scope.domains.begin(), scope.domains.end(),
                    [&](const std::string& d) { return ca::name_within(subject, d); });
    if (!within)
      return fail(ErrorCode::kInvalidArgument,
                  "expected subject '" + subject + "' is outside team '" + r.team + "''s domains");
  }
  if (!r.label) return ok();
  // A label is where the credential may enroll: an EST label or a CMP label, of its profile.
  const bool est = r.kind == auth::CredentialKind::kEst;
  if (!est && r.kind != auth::CredentialKind::kCmp)
    return fail(ErrorCode::kInvalidArgument, "labels are for EST and CMP credentials");
  const std::string protocol = est ? "EST" : "CMP";
  const bool enabled = est ? config.est.enabled : config.cmp.enabled;
  std::optional<std::string> profile;
  if (est) {
    if (auto it = config.est.labels.find(*r.label); it != config.est.labels.end())
      profile = it->second.profile;
  } else if (auto it = config.cmp.labels.find(*r.label); it != config.cmp.labels.end()) {
    profile = it->second.profile;
  }
  if (!enabled || !profile)
    return fail(ErrorCode::kInvalidArgument, "no " + protocol + " label '" + *r.label + "'");
  if (*profile != r.profile)
    return fail(ErrorCode::kInvalidArgument,
                protocol + " label '" + *r.label + "' enrolls profile '" + *profile + "'");
  return ok();
}

json credential_json(const auth::CredentialInfo& c, SysTime now) {
  auto opt = [](const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); };
  return {{"id", c.id},
          {"kind", auth::credential_kind_name(c.kind)},
          {"team", c.team},
          {"profile", c.profile},
          {"authority", opt(c.authority)},
          {"label", opt(c.label)},
          {"expected_subject", opt(c.expected_subject)},
          {"max_uses", c.max_uses},
          {"uses", c.uses},
          {"state", c.state(now)},
          {"expires_at", optional_time(c.expires_at)},
          {"batch", opt(c.batch)},
          {"description", c.description},
          {"created_by", c.created_by},
          {"created_at", format_time(c.created_at)},
          {"last_used_at", optional_time(c.last_used_at)},
          {"revoked_at", optional_time(c.revoked_at)}};
}

json credential_json(const auth::CredentialInfo& c, std::span<const auth::CredentialUse> uses,
                     SysTime now) {
  json j = credential_json(c, now);
  json u = json::array();
  for (const auto& use : uses)
    u.push_back({{"certificate", use.certificate},
                 {"channel", use.channel},
                 {"used_at", format_time(use.used_at)}});
  j["certificates"] = std::move(u);
  return j;
}

std::unique_ptr<http::Router> make_enrollment_router(Services& services,
                                                     auth::EnrollmentCredentials& credentials,
                                                     const Config& config) {
  auto router = std::make_unique<http::Router>();
  auto bind = [&credentials, &config](auto fn) {
    return [&credentials, &config, fn](Services& s, http::Request& req,
                                       const Identity& id) -> Result<http::Response> {
      return fn(s, credentials, config, req, id);
    };
  };
  const std::string base = "/api/v1/enrollment/credentials";
  add_guarded(*router, services, "GET", base, Permission::kReadPrincipals, BodyKind::kNone,
              bind(list_credentials));
  add_guarded(*router, services, "POST", base, Permission::kManagePrincipals, BodyKind::kJson,
              bind(create_credential));
  add_guarded(*router, services, "POST", base + "/batch", Permission::kManagePrincipals,
              BodyKind::kJson, bind(create_batch));
  add_guarded(*router, services, "GET", base + "/{id}", Permission::kReadPrincipals,
              BodyKind::kNone, bind(get_credential));
  add_guarded(*router, services, "DELETE", base + "/{id}", Permission::kManagePrincipals,
              BodyKind::kNone, bind(revoke_credential));
  return router;
}

}  // namespace certward::api
