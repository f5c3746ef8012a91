// Discovery (/api/v1/discovery/...): scans run by the server and their reports, recurring
// scans, agents' reports of their hosts' files, and where certificates and SSH keys were seen
// (also /api/v1/certificates/{id}/sightings).

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"
#include "discovery/wire.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

Result<http::Response> submit_scan(Services& s, http::Request& req, const Identity& id) {
  // The spec's members, at the top of the body.
  CW_ASSIGN_OR_RETURN(
      auto b, Body::parse(req, {"kind", "targets", "ports", "sni", "concurrency", "rate_limit",
                                "probe_legacy", "check_revocation", "paths", "include", "exclude",
                                "follow_symlinks", "one_filesystem"}));
  CW_ASSIGN_OR_RETURN(auto spec, discovery::parse_scan_spec(b.json()));
  CW_ASSIGN_OR_RETURN(auto scan, s.discovery.submit(spec, id.actor));
  auto resp = ok_json(discovery::scan_record_json(scan), 202);
  resp.set_header("Location", "/api/v1/discovery/scans/" + scan.id);
  return resp;
}

Result<http::Response> list_scans(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit"}));
  CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
  CW_ASSIGN_OR_RETURN(auto scans, s.discovery.list(static_cast<int>(limit.value_or(50))));
  json items = json::array();
  for (auto& scan : scans) {
    json j = discovery::scan_record_json(scan);
    // The list is a summary; each scan's places are in its own document.
    if (j.contains("report")) j["report"].erase("results");
    items.push_back(std::move(j));
  }
  return ok_json({{"items", items}});
}

Result<http::Response> get_scan(Services& s, http::Request& req, const Identity&) {
  CW_ASSIGN_OR_RETURN(auto scan, s.discovery.get(req.params["id"]));
  return ok_json(discovery::scan_record_json(scan));
}

Result<http::Response> create_schedule(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"name", "interval", "spec"}));
  CW_ASSIGN_OR_RETURN(auto name, b.string("name"));
  CW_ASSIGN_OR_RETURN(auto interval_text, b.string("interval"));
  CW_ASSIGN_OR_RETURN(auto interval, parse_duration(interval_text));
  auto spec_it = b.json().find("spec");
  if (spec_it == b.json().end()) return fail(ErrorCode::kMalformed, "field 'spec' is required");
  CW_ASSIGN_OR_RETURN(auto spec, discovery::parse_scan_spec(*spec_it));
  CW_ASSIGN_OR_RETURN(auto schedule, s.discovery.create_schedule(name, spec, interval, id.actor));
  return ok_json(discovery::schedule_json(schedule), 201);
}

Result<http::Response> list_schedules(Services& s, http::Request& req, const Identity&) {
  CW_RETURN_IF_ERROR(check_query(req, {}));
  CW_ASSIGN_OR_RETURN(auto all, s.discovery.schedules());
  json items = json::array();
  for (const auto& sch : all) items.push_back(discovery::schedule_json(sch));
  return ok_json({{"items", items}});
}

Result<http::Response> delete_schedule(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(s.discovery.delete_schedule(req.params["name"], id.actor));
  return ok_json({{"name", req.params["name"]}, {"deleted", true}});
}

// An agent's report of its host's files, in parts (discovery::Discovery::agent_report).
Result<http::Response> agent_report(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b, Body::parse(req, {"scan", "host", "roots", "final", "observations"}));
  CW_ASSIGN_OR_RETURN(auto scan, b.opt_string("scan"));
  CW_ASSIGN_OR_RETURN(auto host, b.string("host"));
  CW_ASSIGN_OR_RETURN(auto roots, b.strings("roots"));
  CW_ASSIGN_OR_RETURN(auto final, b.opt_bool("final"));
  std::vector<discovery::FileObservation> observations;
  if (auto it = b.json().find("observations"); it != b.json().end() && !it->is_null()) {
    if (!it->is_array()) return fail(ErrorCode::kMalformed, "field 'observations' must be a list");
    if (it->size() > discovery::Discovery::kMaxAgentPart) {
      return fail(ErrorCode::kInvalidArgument, "too many observations in one part");
    }
    for (const auto& o : *it) {
      CW_ASSIGN_OR_RETURN(auto obs, discovery::parse_file_observation(o));
      observations.push_back(std::move(obs));
    }
  }
  CW_ASSIGN_OR_RETURN(auto record,
                      s.discovery.agent_report(scan, host, roots, std::move(observations),
                                               final.value_or(false), id.actor));
  json j = discovery::scan_record_json(record);
  if (j.contains("report")) j["report"].erase("results");
  return ok_json(j, scan ? 200 : 201);
}

Result<http::Response> list_sightings(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(
      check_query(req, {"kind", "location", "team", "fingerprint", "active", "limit"}));
  inventory::SightingFilter f;
  CW_ASSIGN_OR_RETURN(f.kind, query_text(req, "kind"));
  CW_ASSIGN_OR_RETURN(f.location_prefix, query_text(req, "location"));
  CW_ASSIGN_OR_RETURN(f.team, query_text(req, "team"));
  CW_ASSIGN_OR_RETURN(f.fingerprint, query_text(req, "fingerprint"));
  CW_ASSIGN_OR_RETURN(auto active, query_text(req, "active"));
  if (active && *active != "true" && *active != "false") {
    return fail(ErrorCode::kMalformed, "active must be true or false");
  }
  f.active_only = active == "true";
  if (team_scoped(id)) {
    if (f.team && f.team != id.team) {
      return fail(ErrorCode::kUnauthorized, "requesters see only their team's sightings");
    }
    f.team = id.team.value_or("");
  }
  CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
  CW_ASSIGN_OR_RETURN(auto list, s.sightings.list(f, static_cast<int>(limit.value_or(100))));
  json items = json::array();
  for (const auto& sg : list) items.push_back(sighting_json(sg));
  return ok_json({{"items", items}});
}

Result<http::Response> certificate_sightings(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"limit"}));
  CW_ASSIGN_OR_RETURN(auto rec, visible_record(s, req, id));
  inventory::SightingFilter f;
  f.fingerprint = rec.fingerprint;
  // A certificate a requester may see can also be served or stored by other teams (a shared
  // wildcard, a public CA certificate): their places stay theirs, as in list_sightings.
  if (team_scoped(id)) f.team = id.team.value_or("");
  CW_ASSIGN_OR_RETURN(auto limit, query_int(req, "limit"));
  CW_ASSIGN_OR_RETURN(auto list, s.sightings.list(f, static_cast<int>(limit.value_or(100))));
  json items = json::array();
  for (const auto& sg : list) items.push_back(sighting_json(sg));
  return ok_json({{"fingerprint", rec.fingerprint}, {"items", items}});
}

}  // namespace

void add_discovery_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "POST", "/api/v1/discovery/scans", Permission::kScan, BodyKind::kJson,
              submit_scan);
  add_guarded(r, s, "GET", "/api/v1/discovery/scans", Permission::kScan, BodyKind::kNone,
              list_scans);
  add_guarded(r, s, "GET", "/api/v1/discovery/scans/{id}", Permission::kScan, BodyKind::kNone,
              get_scan);
  add_guarded(r, s, "GET", "/api/v1/discovery/schedules", Permission::kScan, BodyKind::kNone,
              list_schedules);
  add_guarded(r, s, "POST", "/api/v1/discovery/schedules", Permission::kScan, BodyKind::kJson,
              create_schedule);
  add_guarded(r, s, "DELETE", "/api/v1/discovery/schedules/{name}", Permission::kScan,
              BodyKind::kNone, delete_schedule);
  add_guarded(r, s, "POST", "/api/v1/discovery/agent-reports", Permission::kReportDiscovery,
              BodyKind::kJson, agent_report);
  add_guarded(r, s, "GET", "/api/v1/discovery/sightings", Permission::kReadInventory,
              BodyKind::kNone, list_sightings);
  add_guarded(r, s, "GET", "/api/v1/certificates/{id}/sightings", Permission::kReadInventory,
              BodyKind::kNone, certificate_sightings);
}

}  // namespace certward::api
