// cert revoke (one certificate, or every certificate matching a selection) and ca revoke,
// locally or through --server: the same revocation service either way.

#include "ca/revocation.h"
#include "cli/commands.h"

namespace certward::cli {
namespace {

using nlohmann::json;

struct RevokeOptions {
  std::optional<std::string> id;
  std::string reason = "unspecified";
  std::optional<std::string> invalidity_date;
  // A bulk selection, when no id is given.
  std::optional<std::string> authority, team, tag, issued_after, issued_before, key_sha256;
  bool dry_run = false;
  std::optional<std::int64_t> expect;
  std::optional<std::string> at;
  bool replace_only = false;
};

bool is_bulk(const RevokeOptions& o) {
  return o.authority || o.team || o.tag || o.issued_after || o.issued_before || o.key_sha256;
}

Result<std::optional<SysTime>> opt_time(const std::optional<std::string>& text) {
  if (!text) return std::optional<SysTime>();
  CW_ASSIGN_OR_RETURN(auto t, parse_time(*text));
  return std::optional<SysTime>(t);
}

Result<json> revoke_one_local(const RevokeOptions& o, Context& c) {
  ca::RevokeRequest r;
  r.id = *o.id;
  CW_ASSIGN_OR_RETURN(r.reason, ca::parse_revocation_reason(o.reason));
  CW_ASSIGN_OR_RETURN(r.invalidity_date, opt_time(o.invalidity_date));
  r.requester.actor = c.actor();
  r.channel = ca::Channel::kCli;
  CW_ASSIGN_OR_RETURN(auto record, c.revocation().revoke(r));
  return record_json(record, c.clock().now());
}

Result<json> revoke_bulk_local(const RevokeOptions& o, Context& c) {
  ca::BulkRevokeRequest r;
  r.selection.authority = o.authority;
  r.selection.team = o.team;
  r.selection.tag = o.tag;
  r.selection.key_sha256 = o.key_sha256;
  CW_ASSIGN_OR_RETURN(r.selection.issued_after, opt_time(o.issued_after));
  CW_ASSIGN_OR_RETURN(r.selection.issued_before, opt_time(o.issued_before));
  CW_ASSIGN_OR_RETURN(r.reason, ca::parse_revocation_reason(o.reason));
  CW_ASSIGN_OR_RETURN(r.invalidity_date, opt_time(o.invalidity_date));
  r.dry_run = o.dry_run;
  r.expected_count = o.expect;
  CW_ASSIGN_OR_RETURN(r.at, opt_time(o.at));
  r.replace_only = o.replace_only;
  r.requester.actor = c.actor();
  r.channel = ca::Channel::kCli;
  CW_ASSIGN_OR_RETURN(auto result, c.revocation().revoke_bulk(r));
  return api::bulk_revocation_json(result, o.dry_run);
}

json bulk_body(const RevokeOptions& o) {
  json body = {{"reason", o.reason}, {"dry_run", o.dry_run}};
  auto put = [&](const char* key, const std::optional<std::string>& v) {
    if (v) body[key] = *v;
  };
  put("authority", o.authority);
  put("team", o.team);
  put("tag", o.tag);
  put("issued_after", o.issued_after);
  put("issued_before", o.issued_before);
  put("key_sha256", o.key_sha256);
  put("invalidity_date", o.invalidity_date);
  if (o.expect) body["expected_count"] = *o.expect;
  put("at", o.at);
  if (o.replace_only) body["replace_only"] = true;
  return body;
}

void print_bulk(const json& r) {
  if (r.value("dry_run", false)) {
    for (const auto& c : r["items"]) {
      std::printf("%s %s %s\n", c.value("fingerprint", "").c_str(), c.value("serial", "").c_str(),
                  c.value("authority", "").c_str());
    }
    std::printf("%lld certificates would be revoked; revoke them with --expect %lld\n",
                static_cast<long long>(r.value("matched", 0)),
                static_cast<long long>(r.value("matched", 0)));
    return;
  }
  if (r.value("scheduled", false)) {
    std::printf("asked %lld certificates to be replaced now\n",
                static_cast<long long>(r.value("matched", 0)));
    return;
  }
  std::printf("revoked %lld certificates\n", static_cast<long long>(r.value("matched", 0)));
}

void print_revoked(const json& r) {
  std::printf("revoked %s (serial %s): %s at %s\n", r.value("fingerprint", "").c_str(),
              r.value("serial", "").c_str(), r.value("revocation_reason", "").c_str(),
              r.value("revoked_at", "").c_str());
}

std::string crl_pem(std::span<const std::uint8_t> der) {
  const std::string b64 = to_base64(der);
  std::string out = "-----BEGIN X509 CRL-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END X509 CRL-----\n";
}

}  // namespace

void add_revoke_commands(CLI::App& app, Globals& g) {
  {
    auto o = std::make_shared<RevokeOptions>();
    auto* cert_cmd = app.get_subcommand("cert");
    auto* cmd = cert_cmd->add_subcommand(
        "revoke", "revoke one certificate, or every certificate matching a selection");
    cmd->add_option("id", o->id, "fingerprint, unique prefix or serial (one certificate)");
    cmd->add_option("--reason", o->reason,
                    "RFC 5280 reason: unspecified, keyCompromise, cACompromise, "
                    "affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn")
        ->capture_default_str();
    cmd->add_option("--invalidity-date", o->invalidity_date,
                    "when the key was (suspected) compromised, RFC 3339");
    cmd->add_option("--authority", o->authority, "bulk: every certificate of this authority");
    cmd->add_option("--team", o->team, "bulk: of this team");
    cmd->add_option("--tag", o->tag, "bulk: with this tag");
    cmd->add_option("--issued-after", o->issued_after, "bulk: notBefore at or after (RFC 3339)");
    cmd->add_option("--issued-before", o->issued_before, "bulk: notBefore before (RFC 3339)");
    cmd->add_option("--key-sha256", o->key_sha256,
                    "bulk: carrying this public key (SHA-256 of the SubjectPublicKeyInfo)");
    cmd->add_flag("--dry-run", o->dry_run, "bulk: list what would be revoked, revoke nothing");
    cmd->add_option("--expect", o->expect,
                    "bulk: the count the dry run showed; refused if another number matches now");
    cmd->add_option("--at", o->at,
                    "bulk: revoke then (RFC 3339, in the future); until then their clients are "
                    "told to renew now (ACME renewal information)");
    cmd->add_flag("--replace-only", o->replace_only,
                  "bulk: revoke nothing, only tell their clients to renew now");
    cmd->callback([&g, o] {
      const bool bulk = is_bulk(*o);
      if (o->id.has_value() == bulk) {
        g.exit_code =
            report_error({ErrorCode::kInvalidArgument,
                          "give one certificate id, or a selection (--authority, --team, --tag, "
                          "--issued-after, --issued-before, --key-sha256), not both"});
        return;
      }
      if (!bulk && (o->dry_run || o->expect || o->at || o->replace_only)) {
        g.exit_code =
            report_error({ErrorCode::kInvalidArgument,
                          "--dry-run, --expect, --at and --replace-only are for a bulk selection"});
        return;
      }
      if (bulk) {
        run_either(
            g, [o](Context& c) { return revoke_bulk_local(*o, c); },
            [o](const Remote& r) { return r.post("/api/v1/certificates/revoke", bulk_body(*o)); },
            print_bulk);
        return;
      }
      run_either(
          g, [o](Context& c) { return revoke_one_local(*o, c); },
          [o](const Remote& r) {
            json body = {{"reason", o->reason}};
            if (o->invalidity_date) body["invalidity_date"] = *o->invalidity_date;
            return r.post("/api/v1/certificates/" + url_encode(*o->id) + "/revoke", body);
          },
          print_revoked);
    });
  }
  {
    auto o = std::make_shared<RevokeOptions>();
    auto name = std::make_shared<std::string>();
    auto* cmd = app.get_subcommand("ca")->add_subcommand(
        "revoke", "revoke a subordinate authority: its parent's CRL lists it, it signs nothing");
    cmd->add_option("name", *name, "authority name")->required();
    cmd->add_option("--reason", o->reason, "RFC 5280 reason (cACompromise, superseded, ...)")
        ->capture_default_str();
    cmd->add_option("--invalidity-date", o->invalidity_date, "RFC 3339");
    cmd->callback([&g, o, name] {
      run_either(
          g,
          [o, name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto reason, ca::parse_revocation_reason(o->reason));
            CW_ASSIGN_OR_RETURN(auto invalidity, opt_time(o->invalidity_date));
            ca::Requester requester;
            requester.actor = c.actor();
            CW_ASSIGN_OR_RETURN(
                auto info, c.revocation().revoke_authority(*name, reason, invalidity, requester));
            return authority_json(info);
          },
          [o, name](const Remote& r) {
            json body = {{"reason", o->reason}};
            if (o->invalidity_date) body["invalidity_date"] = *o->invalidity_date;
            return r.post("/api/v1/authorities/" + url_encode(*name) + "/revoke", body);
          },
          [](const json& a) {
            std::printf("authority %s is %s\n", a.value("name", "").c_str(),
                        a.value("status", "").c_str());
          });
    });
  }
  {
    struct Opts {
      std::string name;
      bool delta = false, der = false, publish = false;
      std::optional<std::string> out;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.get_subcommand("ca")->add_subcommand(
        "crl", "write an authority's newest CRL (publishing what is due with --publish)");
    cmd->add_option("name", o->name, "authority name")->required();
    cmd->add_flag("--delta", o->delta, "the delta CRL instead of the full one");
    cmd->add_flag("--der", o->der, "DER instead of PEM");
    cmd->add_flag("--publish", o->publish,
                  "publish a new CRL first if one is due (an offline root: its ARL)");
    cmd->add_option("-o,--out", o->out, "output file (default: stdout)");
    cmd->footer(
        "Works on the local database. A running server publishes by itself and serves the "
        "CRLs at http://<server.http_listen>/crl/<name>.crl and <name>-delta.crl.");
    cmd->callback([&g, o] {
      std::string data;
      const bool json_requested = g.json;
      g.json = false;  // the document is the file itself
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            if (o->publish) CW_RETURN_IF_ERROR(c.crls().publish(o->name));
            CW_ASSIGN_OR_RETURN(auto crl, c.crls().current(o->name, o->delta));
            if (!crl) {
              return fail(ErrorCode::kNotFound,
                          "authority '" + o->name + "' has no " + (o->delta ? "delta CRL" : "CRL") +
                              " yet (a server publishes them; or use --publish)");
            }
            data = o->der ? std::string(as_chars(crl->der)) : crl_pem(crl->der);
            return json::object();
          },
          [&](const Remote&) -> Result<json> {
            return fail(ErrorCode::kInvalidArgument,
                        "ca crl reads the local database; fetch " + o->name +
                            ".crl from the server's plain-HTTP listener (/crl/) instead");
          },
          [](const json&) {});
      g.json = json_requested;
      if (g.exit_code != kExitOk) return;
      if (Status written = write_document(o->out, data); !written)
        g.exit_code = report_error(written.error());
    });
  }
}

}  // namespace certward::cli
