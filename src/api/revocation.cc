// Revocation over REST: one certificate, a bulk selection (dry run first), an authority. The
// revocation service decides and audits; these routes decode and encode.

#include "ca/revocation.h"

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

struct Reason {
  ca::RevocationReason reason = ca::RevocationReason::kUnspecified;
  std::optional<SysTime> invalidity_date;
};

Result<Reason> reason_of(const Body& b) {
  Reason out;
  CW_ASSIGN_OR_RETURN(auto reason, b.opt_string("reason"));
  if (reason) {
    CW_ASSIGN_OR_RETURN(out.reason, ca::parse_revocation_reason(*reason));
  }
  CW_ASSIGN_OR_RETURN(auto invalidity, b.opt_string("invalidity_date"));
  if (invalidity) {
    CW_ASSIGN_OR_RETURN(out.invalidity_date, parse_time(*invalidity));
  }
  return out;
}

Result<http::Response> revoke_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"reason", "invalidity_date"}));
  CW_ASSIGN_OR_RETURN(auto why, reason_of(b));
  ca::RevokeRequest r;
  r.id = req.params["id"];
  r.reason = why.reason;
  r.invalidity_date = why.invalidity_date;
  r.requester = id.requester();
  r.channel = ca::Channel::kRest;
  CW_ASSIGN_OR_RETURN(auto record, s.revocation.revoke(r));
  return ok_json(record_json(record, s.clock.now()));
}

Result<http::Response> revoke_bulk(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b,
                      Body::parse(req, {"authority", "team", "tag", "issued_after", "issued_before",
                                        "key_sha256", "reason", "invalidity_date", "dry_run",
                                        "expected_count", "at", "replace_only"}));
  ca::BulkRevokeRequest r;
  CW_ASSIGN_OR_RETURN(r.selection.authority, b.opt_string("authority"));
  CW_ASSIGN_OR_RETURN(r.selection.team, b.opt_string("team"));
  CW_ASSIGN_OR_RETURN(r.selection.tag, b.opt_string("tag"));
  CW_ASSIGN_OR_RETURN(r.selection.key_sha256, b.opt_string("key_sha256"));
  for (auto [key, field] : {std::pair{"issued_after", &r.selection.issued_after},
                            std::pair{"issued_before", &r.selection.issued_before}}) {
    CW_ASSIGN_OR_RETURN(auto text, b.opt_string(key));
    if (text) {
      CW_ASSIGN_OR_RETURN(*field, parse_time(*text));
    }
  }
  CW_ASSIGN_OR_RETURN(auto why, reason_of(b));
  r.reason = why.reason;
  r.invalidity_date = why.invalidity_date;
  CW_ASSIGN_OR_RETURN(auto dry_run, b.opt_bool("dry_run"));
  r.dry_run = dry_run.value_or(false);
  CW_ASSIGN_OR_RETURN(r.expected_count, b.opt_int("expected_count"));
  CW_ASSIGN_OR_RETURN(auto at, b.opt_string("at"));
  if (at) {
    CW_ASSIGN_OR_RETURN(r.at, parse_time(*at));
  }
  CW_ASSIGN_OR_RETURN(auto replace_only, b.opt_bool("replace_only"));
  r.replace_only = replace_only.value_or(false);
  r.requester = id.requester();
  r.channel = ca::Channel::kRest;
  CW_ASSIGN_OR_RETURN(auto result, s.revocation.revoke_bulk(r));
  return ok_json(bulk_revocation_json(result, r.dry_run));
}

Result<http::Response> revoke_authority(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"reason", "invalidity_date"}));
  CW_ASSIGN_OR_RETURN(auto why, reason_of(b));
  CW_ASSIGN_OR_RETURN(
      auto info, s.revocation.revoke_authority(req.params["name"], why.reason, why.invalidity_date,
                                               id.requester()));
  return ok_json(authority_json(info));
}

}  // namespace

void add_revocation_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "POST", "/api/v1/certificates/{id}/revoke", Permission::kRevoke,
              BodyKind::kJson, revoke_certificate);
  add_guarded(r, s, "POST", "/api/v1/certificates/revoke", Permission::kRevoke, BodyKind::kJson,
              revoke_bulk);
  add_guarded(r, s, "POST", "/api/v1/authorities/{name}/revoke", Permission::kManageAuthorities,
              BodyKind::kJson, revoke_authority);
}

}  // namespace certward::api
