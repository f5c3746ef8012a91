// The inventory and issuance: /api/v1/certificates (list, issue through the RA, import, read,
// download, label).

#include "api/body.h"
#include "api/json.h"
#include "api/rest_impl.h"
#include "x509/bundle.h"
#include "x509/csr.h"
#include "x509/names.h"

namespace certward::api {
namespace {

using auth::Identity;
using auth::Permission;
using nlohmann::json;

json page_json(json items, const std::optional<std::string>& next) {
  return {{"items", std::move(items)}, {"next_cursor", next ? json(*next) : json(nullptr)}};
}

Result<http::Response> list_certificates(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(
      req, {"status", "expiring_within", "issuer", "authority", "key_algorithm", "key_bits",
            "search", "owner", "team", "origin", "tag", "limit", "cursor", "sort"}));
  inventory::Filter f;
  const SysTime now = s.clock.now();
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
  if (bits) {
    if (*bits < 1 || *bits > 65536) {
      return fail(ErrorCode::kInvalidArgument, "key_bits must be between 1 and 65536");
    }
    f.key_bits = static_cast<int>(*bits);
  }
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
  CW_ASSIGN_OR_RETURN(auto sort, query_text(req, "sort"));
  if (sort && *sort != "not_after" && *sort != "-not_after")
    return fail(ErrorCode::kInvalidArgument, "sort must be not_after or -not_after");
  page.latest_first = sort == "-not_after";
  CW_ASSIGN_OR_RETURN(auto result, s.inventory.query(f, page));
  json items = json::array();
  for (const auto& rec : result.items) items.push_back(record_json(rec, now));
  return ok_json(page_json(std::move(items), result.next_cursor));
}

Result<http::Response> get_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto rec, visible_record(s, req, id));
  CW_ASSIGN_OR_RETURN(auto cert, s.inventory.certificate(rec.fingerprint));
  json j = record_json(rec, s.clock.now());
  j["certificate"] = certificate_json(cert.info());
  j["pem"] = cert.pem();
  return ok_json(j);
}

// Owner, team and tags: a JSON merge patch (a field absent stays, null clears it) plus
// add_tags/remove_tags for changing labels without a read-modify-write race.
Result<http::Response> update_certificate(Services& s, http::Request& req, const Identity& id) {
  CW_ASSIGN_OR_RETURN(auto b,
                      Body::parse(req, {"owner", "team", "tags", "add_tags", "remove_tags"}));
  CW_ASSIGN_OR_RETURN(auto rec, visible_record(s, req, id));
  inventory::MetadataUpdate u;
  CW_ASSIGN_OR_RETURN(u.owner, b.opt_string("owner"));
  if (b.is_null("owner")) u.owner = "";
  CW_ASSIGN_OR_RETURN(u.team, b.opt_string("team"));
  if (b.is_null("team")) u.team = "";
  CW_ASSIGN_OR_RETURN(u.tags, b.opt_strings("tags"));
  if (b.is_null("tags")) u.tags.emplace();
  CW_ASSIGN_OR_RETURN(u.add_tags, b.strings("add_tags"));
  CW_ASSIGN_OR_RETURN(u.remove_tags, b.strings("remove_tags"));
  if (u.team && !u.team->empty()) CW_RETURN_IF_ERROR(s.auth.require_team(*u.team));
  // A requester labels its own team's certificates and cannot hand them to another team
  // (or to none, which would hide them from itself): checked on the locked row.
  if (team_scoped(id)) u.editor_team = id.team.value_or("");
  CW_ASSIGN_OR_RETURN(auto updated, s.inventory.update_metadata(rec.fingerprint, u, id.actor));
  return ok_json(record_json(updated, s.clock.now()));
}

Result<http::Response> download(Services& s, http::Request& req, const Identity& id) {
  CW_RETURN_IF_ERROR(check_query(req, {"format"}));
  CW_ASSIGN_OR_RETURN(auto rec, visible_record(s, req, id));
  CW_ASSIGN_OR_RETURN(auto cert, s.inventory.certificate(rec.fingerprint));
  const std::string format(req.query_value("format").value_or("pem"));
  if (format == "pem") return http::Response::text(200, cert.pem(), "application/x-pem-file");
  if (format == "der")
    return http::Response::text(200, std::string(as_chars(cert.der())), "application/pkix-cert");
  CW_ASSIGN_OR_RETURN(auto chain, s.authorities.chain_for(cert, rec.meta.authority));
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

json record_like(const ca::IssuedCertificate& issued) {
  return {{"fingerprint", issued.certificate.info().sha256_hex},
          {"serial", issued.certificate.info().serial_hex},
          {"authority", issued.authority},
          {"profile", issued.profile},
          {"certificate", certificate_json(issued.certificate.info())},
          {"certificate_pem", issued.certificate.pem()},
          {"chain_pem", x509::to_pem(issued.chain)}};
}

Result<http::Response> issue(Services& s, http::Request& req, const Identity& id) {
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
  for (const auto& text : sans) {
    CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(text));
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
  r.requester = id.requester();
  r.channel = ca::Channel::kRest;
  auto enrolled = [&]() -> Result<ca::EnrollOutcome> {
    if (s.approvals) return s.approvals->enroll(std::move(r));
    CW_ASSIGN_OR_RETURN(auto issued, s.ra.enroll(std::move(r)));
    return ca::EnrollOutcome(std::move(issued));
  }();
  if (!enrolled && enrolled.error().code == ErrorCode::kNotFound) {
    // An unknown profile or authority named in the body is a bad request, not a missing URL.
    return fail(ErrorCode::kInvalidArgument, enrolled.error().message);
  }
  CW_ASSIGN_OR_RETURN(auto outcome, std::move(enrolled));
  if (auto* held = std::get_if<ca::ApprovalRequest>(&outcome)) {
    // Accepted, not issued: the certificate exists once an approver approves.
    http::Response resp = ok_json(ca::approval_json(*held), 202);
    resp.set_header("Location", "/api/v1/approvals/" + held->id);
    return resp;
  }
  auto& issued = std::get<ca::IssuedCertificate>(outcome);

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

Result<http::Response> import_certificates(Services& s, http::Request& req, const Identity& id) {
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
  // Imported certificates come from the wild: an odd extension is recorded, not refused.
  constexpr auto kLenient = x509::Parsing::kLenient;
  std::vector<x509::Certificate> certs;
  if (pem) {
    CW_ASSIGN_OR_RETURN(certs, x509::parse_certificates(as_bytes(*pem), kLenient));
  } else if (der_b64) {
    CW_ASSIGN_OR_RETURN(Bytes der, from_base64(*der_b64));
    CW_ASSIGN_OR_RETURN(certs, x509::parse_certificates(der, kLenient));
  } else {
    CW_ASSIGN_OR_RETURN(Bytes p12, from_base64(*p12_b64));
    CW_ASSIGN_OR_RETURN(auto contents, x509::parse_pkcs12(p12, password.value_or(""), kLenient));
    if (contents.leaf) certs.push_back(*contents.leaf);
    certs.insert(certs.end(), contents.chain.begin(), contents.chain.end());
    if (certs.empty()) return fail(ErrorCode::kMalformed, "the PKCS#12 holds no certificate");
  }
  inventory::RecordMeta meta;
  meta.origin = inventory::Origin::kImported;
  CW_ASSIGN_OR_RETURN(meta.owner, b.opt_string("owner"));
  CW_ASSIGN_OR_RETURN(meta.team, b.opt_string("team"));
  CW_ASSIGN_OR_RETURN(meta.tags, b.strings("tags"));
  CW_ASSIGN_OR_RETURN(auto report, s.inventory.import_certificates(certs, meta, id.actor, "api"));
  json items = json::array();
  for (const auto& i : report.items)
    items.push_back({{"fingerprint", i.fingerprint}, {"inserted", i.inserted}});
  return ok_json(
      {{"inserted", report.inserted}, {"duplicates", report.duplicates}, {"items", items}},
      report.inserted > 0 ? 201 : 200);
}

}  // namespace

Result<inventory::CertificateRecord> visible_record(Services& s, const http::Request& req,
                                                    const Identity& id) {
  auto it = req.params.find("id");
  // A requester's id is resolved among its team's certificates only.
  CW_ASSIGN_OR_RETURN(
      auto rec,
      s.inventory.resolve(it->second,
                          team_scoped(id) ? std::optional(id.team.value_or("")) : std::nullopt));
  if (team_scoped(id) && rec.meta.team != id.team) {
    // Indistinguishable from absence: a requester learns nothing about other teams.
    return fail(ErrorCode::kNotFound, "no certificate matches '" + it->second + "'");
  }
  return rec;
}

void add_certificate_routes(http::Router& r, Services& s) {
  add_guarded(r, s, "GET", "/api/v1/certificates", Permission::kReadInventory, BodyKind::kNone,
              list_certificates);
  add_guarded(r, s, "POST", "/api/v1/certificates", Permission::kIssue, BodyKind::kJson, issue);
  add_guarded(r, s, "POST", "/api/v1/certificates/import", Permission::kImport, BodyKind::kJson,
              import_certificates);
  add_guarded(r, s, "GET", "/api/v1/certificates/{id}", Permission::kReadInventory, BodyKind::kNone,
              get_certificate);
  add_guarded(r, s, "GET", "/api/v1/certificates/{id}/download", Permission::kReadInventory,
              BodyKind::kNone, download);
  add_guarded(r, s, "PATCH", "/api/v1/certificates/{id}", Permission::kEditInventory,
              BodyKind::kJson, update_certificate);
}

}  // namespace certward::api
