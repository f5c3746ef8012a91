// cert list|show|export|import: the inventory, locally or through --server.

#include "cli/commands.h"
#include "cli/progress.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key); }

struct ListOptions {
  std::optional<std::string> status, expiring_within, issuer, authority, key_algorithm, search,
      owner, team, origin, tag, cursor;
  std::optional<int> key_bits;
  int limit = 50;
};

Result<inventory::Filter> make_filter(const ListOptions& o, SysTime now) {
  inventory::Filter f;
  if (o.status) {
    CW_ASSIGN_OR_RETURN(f.status, inventory::parse_status(*o.status));
  }
  if (o.expiring_within) {
    CW_ASSIGN_OR_RETURN(auto d, parse_duration(*o.expiring_within));
    f.expires_after = now;
    f.expires_before = now + d;
  }
  f.issuer = o.issuer;
  f.authority = o.authority;
  f.key_algorithm = o.key_algorithm;
  f.key_bits = o.key_bits;
  f.search = o.search;
  f.owner = o.owner;
  f.team = o.team;
  f.tag = o.tag;
  if (o.origin) {
    CW_ASSIGN_OR_RETURN(f.origin, inventory::parse_origin(*o.origin));
  }
  return f;
}

std::string list_query(const ListOptions& o) {
  std::string q = "?limit=" + std::to_string(o.limit);
  auto add = [&](const char* k, const std::optional<std::string>& v) {
    if (v) q += std::string("&") + k + "=" + url_encode(*v);
  };
  add("status", o.status);
  add("expiring_within", o.expiring_within);
  add("issuer", o.issuer);
  add("authority", o.authority);
  add("key_algorithm", o.key_algorithm);
  add("search", o.search);
  add("owner", o.owner);
  add("team", o.team);
  add("origin", o.origin);
  add("tag", o.tag);
  add("cursor", o.cursor);
  if (o.key_bits) q += "&key_bits=" + std::to_string(*o.key_bits);
  return q;
}

void print_page(const json& page) {
  Table t({"FINGERPRINT", "NAME", "STATUS", "NOT AFTER", "KEY", "ORIGIN", "ISSUER"});
  for (const auto& r : page["items"]) {
    std::string name = text(r, "common_name");
    if (name.empty() && !r["sans"].empty()) name = r["sans"][0].get<std::string>();
    t.add({text(r, "fingerprint").substr(0, 16), name, text(r, "status"), text(r, "not_after"),
           text(r, "key_algorithm") + " " + std::to_string(r.value("key_bits", 0)),
           text(r, "origin"), text(r, "issuer")});
  }
  t.print();
  if (page["next_cursor"].is_string()) {
    std::printf("\nmore: --cursor %s\n", page["next_cursor"].get<std::string>().c_str());
  }
}

void print_record(const json& r) {
  auto row = [](const char* k, const std::string& v) {
    if (!v.empty()) std::printf("%-22s %s\n", k, v.c_str());
  };
  auto join = [](const json& arr) {
    std::string s;
    for (const auto& x : arr) s += (s.empty() ? "" : ", ") + x.get<std::string>();
    return s;
  };
  const json& c = r["certificate"];
  row("Subject:", text(c, "subject"));
  row("Issuer:", text(c, "issuer"));
  row("Serial:", text(c, "serial"));
  row("Not before:", text(c, "not_before"));
  row("Not after:", text(c, "not_after"));
  row("Names:", join(c["sans"]));
  row("Key:", text(c["key"], "algorithm") + " " +
                  (text(c["key"], "curve").empty() ? std::to_string(c["key"].value("bits", 0))
                                                   : text(c["key"], "curve")));
  row("Signature:", text(c, "signature_algorithm"));
  row("Key usage:", join(c["key_usage"]));
  row("Extended key usage:", join(c["extended_key_usage"]));
  row("CRL:", join(c["crl_distribution_points"]));
  row("OCSP:", join(c["ocsp_urls"]));
  row("SHA-256:", text(c, "sha256"));
  row("Status:", text(r, "status"));
  row("Origin:", text(r, "origin"));
  row("Issued via:", text(r, "channel"));
  row("Authority:", text(r, "authority"));
  row("Profile:", text(r, "profile"));
  row("Owner:", text(r, "owner"));
  row("Team:", text(r, "team"));
  row("Tags:", join(r["tags"]));
}

Result<json> show_local(Context& c, const std::string& id) {
  CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(id));
  CW_ASSIGN_OR_RETURN(auto cert, c.inventory().certificate(rec.fingerprint));
  json j = record_json(rec, c.clock().now());
  j["certificate"] = certificate_json(cert.info());
  j["pem"] = cert.pem();
  return j;
}

Result<std::string> export_local(Context& c, const std::string& id, const std::string& format) {
  CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(id));
  CW_ASSIGN_OR_RETURN(auto cert, c.inventory().certificate(rec.fingerprint));
  std::vector<x509::Certificate> certs = {cert};
  if (format == "chain" || format == "p7b") {
    CW_ASSIGN_OR_RETURN(certs, c.authorities().chain_for(cert, rec.meta.authority));
  }
  if (format == "pem" || format == "chain") return x509::to_pem(certs);
  if (format == "der") return std::string(as_chars(cert.der()));
  if (format == "p7b") {
    CW_ASSIGN_OR_RETURN(Bytes p7, x509::make_pkcs7(certs));
    return std::string(as_chars(p7));
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown --format '" + format + "' (pem, der, chain, p7b)");
}

// One file for the import API: PEM text, DER, P7B or P12 (base64).
Result<json> import_body(const std::string& data, const std::optional<std::string>& password) {
  CW_ASSIGN_OR_RETURN(auto format, x509::detect_format(as_bytes(data)));
  switch (format) {
    case x509::ContainerFormat::kPem:
      return json{{"pem", data}};
    case x509::ContainerFormat::kDer:
      return json{{"der", to_base64(as_bytes(data))}};
    case x509::ContainerFormat::kPkcs7: {
      CW_ASSIGN_OR_RETURN(auto certs, x509::parse_pkcs7(as_bytes(data)));
      return json{{"pem", x509::to_pem(certs)}};
    }
    case x509::ContainerFormat::kPkcs12:
      if (!password)
        return fail(ErrorCode::kBadPassword,
                    "PKCS#12 file needs a password (--password-file or --password-env)");
      return json{{"pkcs12", to_base64(as_bytes(data))}, {"password", *password}};
  }
  return fail(ErrorCode::kMalformed, "unrecognised file");
}

struct ImportOpts {
  std::vector<std::string> paths, tags;
  std::optional<std::string> pass_file, pass_env, owner, team;
  bool bulk = false, batched = false;
};

// Imports o.paths here, with a progress line on a terminal; Ctrl-C stops between batches and
// the report says "interrupted". Per-certificate items only with --json (a person sees the
// failures and the totals).
Result<json> import_local(Context& c, const ImportOpts& o, bool json_output,
                          std::optional<ErrorCode>& first_error) {
  CW_ASSIGN_OR_RETURN(auto password, read_secret(o.pass_file, o.pass_env));
  inventory::ImportOptions options;
  options.pkcs12_password = std::move(password);
  options.meta = {
      inventory::Origin::kImported, std::nullopt, std::nullopt, o.owner, o.team, o.tags};
  options.actor = c.actor();
  options.items =
      json_output ? inventory::ImportItems::kEvery : inventory::ImportItems::kFailuresOnly;
  if (o.bulk) options.mode = inventory::ImportMode::kBulk;
  if (o.batched) options.mode = inventory::ImportMode::kBatched;
  Progress progress("files", std::nullopt, json_output);
  options.on_progress = [&progress](const inventory::ImportProgress& p) {
    progress.set_total(p.files_total);
    if (p.indexing) {
      progress.update(p.files_done, std::to_string(p.inserted) + " imported; building indexes");
      return;
    }
    progress.update(p.files_done, std::to_string(p.inserted) + " imported, " +
                                      std::to_string(p.duplicates) + " already present, " +
                                      std::to_string(p.failed) + " failed");
  };
  std::optional<InterruptScope> interrupt(std::in_place);
  options.stop = &InterruptScope::flag();
  auto report = c.inventory().import_paths(o.paths, options);
  interrupt.reset();
  progress.finish();
  CW_RETURN_IF_ERROR(report);
  json items = json::array();
  for (const auto& i : report->items) {
    json j = {{"source", i.source}, {"fingerprint", i.fingerprint}, {"inserted", i.inserted}};
    if (i.error) {
      j["error"] = {{"code", error_code_name(i.error->code)}, {"message", i.error->message}};
      if (!first_error) first_error = i.error->code;
    }
    items.push_back(j);
  }
  if (report->interrupted) {
    // What was done, on stderr, whatever the output format: the summary on stdout stays the
    // one line scripts read.
    std::fprintf(stderr,
                 "certward: interrupted: %lld files done, certificates imported %d, already "
                 "present %d; the other files were not read\n",
                 static_cast<long long>(report->files), report->inserted, report->duplicates);
  }
  return json{{"inserted", report->inserted},
              {"duplicates", report->duplicates},
              {"failed", report->failed},
              {"files", report->files},
              {"interrupted", report->interrupted},
              {"bulk", report->bulk},
              {"items", items}};
}

void print_import(const json& report) {
  for (const auto& i : report.value("items", json::array())) {
    if (i.contains("error")) {
      std::fprintf(stderr, "certward: %s: %s\n", text(i, "source").c_str(),
                   text(i["error"], "message").c_str());
    }
  }
  std::printf("imported %d, already present %d, failed %d\n", report.value("inserted", 0),
              report.value("duplicates", 0), report.value("failed", 0));
}

}  // namespace

void add_cert_commands(CLI::App& app, Globals& g) {
  auto* cert_cmd = app.add_subcommand("cert", "query and manage the certificate inventory");
  cert_cmd->require_subcommand(1);
  {
    auto o = std::make_shared<ListOptions>();
    auto* cmd = cert_cmd->add_subcommand("list", "list certificates, soonest expiry first");
    cmd->add_option("--status", o->status,
                    "valid, expiring, expired, revoked, superseded, not_yet_valid");
    cmd->add_option("--expiring-within", o->expiring_within,
                    "only those expiring within this duration, e.g. 30d");
    cmd->add_option("--issuer", o->issuer, "issuer DN contains this");
    cmd->add_option("--authority", o->authority, "issued by this internal authority");
    cmd->add_option("--key-algorithm", o->key_algorithm, "rsa, rsa-pss, ecdsa, ed25519");
    cmd->add_option("--key-bits", o->key_bits, "key size in bits");
    cmd->add_option("--search", o->search, "subject or any name contains this");
    cmd->add_option("--owner", o->owner, "owner");
    cmd->add_option("--team", o->team, "team");
    cmd->add_option("--origin", o->origin, "issued, imported, discovered, upstream");
    cmd->add_option("--tag", o->tag, "has this tag");
    cmd->add_option("--limit", o->limit, "page size (1-1000)")->capture_default_str();
    cmd->add_option("--cursor", o->cursor, "continue after a previous page (its next_cursor)");
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            const SysTime now = c.clock().now();
            CW_ASSIGN_OR_RETURN(auto filter, make_filter(*o, now));
            CW_ASSIGN_OR_RETURN(auto page, c.inventory().query(filter, {o->limit, o->cursor}));
            json items = json::array();
            for (const auto& r : page.items) items.push_back(record_json(r, now));
            return json{
                {"items", items},
                {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
          },
          [o](const Remote& r) { return r.get("/api/v1/certificates" + list_query(*o)); },
          print_page);
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* cmd = cert_cmd->add_subcommand("show", "show one certificate");
    cmd->add_option("id", *id, "fingerprint (or a unique prefix of 8+ digits) or serial")
        ->required();
    cmd->callback([&g, id] {
      run_either(
          g, [id](Context& c) { return show_local(c, *id); },
          [id](const Remote& r) { return r.get("/api/v1/certificates/" + url_encode(*id)); },
          print_record);
    });
  }
  {
    struct Opts {
      std::string id, format = "pem";
      std::optional<std::string> out;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = cert_cmd->add_subcommand("export", "export a certificate");
    cmd->add_option("id", o->id, "fingerprint, unique prefix or serial")->required();
    cmd->add_option("--format", o->format, "pem, der, chain (PEM with the issuers we know), p7b")
        ->capture_default_str();
    cmd->add_option("-o,--out", o->out, "output file (default: stdout)");
    cmd->callback([&g, o] {
      // The document is the file itself; --json does not apply.
      std::string data;
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(data, export_local(c, o->id, o->format));
            return json();  // printed below, as the file itself
          },
          [&](const Remote& r) -> Result<json> {
            CW_ASSIGN_OR_RETURN(data, r.get_raw("/api/v1/certificates/" + url_encode(o->id) +
                                                "/download?format=" + url_encode(o->format)));
            return json();
          },
          [](const json&) {});
      if (g.exit_code != kExitOk) return;
      if (Status written = write_document(o->out, data); !written)
        g.exit_code = report_error(written.error());
    });
  }
  {
    struct Opts {
      std::string id;
      std::optional<std::string> owner, team;
      bool no_owner = false, no_team = false, no_tags = false;
      std::vector<std::string> tags, add_tags, remove_tags;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = cert_cmd->add_subcommand("set", "change a certificate's owner, team or tags");
    cmd->add_option("id", o->id, "fingerprint, unique prefix or serial")->required();
    cmd->add_option("--owner", o->owner, "new owner");
    cmd->add_flag("--no-owner", o->no_owner, "clear the owner");
    cmd->add_option("--team", o->team, "new team (must exist)");
    cmd->add_flag("--no-team", o->no_team, "clear the team");
    cmd->add_option("--tags", o->tags, "replace all tags with these (repeatable)");
    cmd->add_flag("--no-tags", o->no_tags, "remove every tag");
    cmd->add_option("--add-tag", o->add_tags, "add a tag (repeatable)");
    cmd->add_option("--remove-tag", o->remove_tags, "remove a tag (repeatable)");
    cmd->callback([&g, o] {
      const bool conflicting =
          (o->owner && o->no_owner) || (o->team && o->no_team) || (!o->tags.empty() && o->no_tags);
      const bool nothing = !o->owner && !o->no_owner && !o->team && !o->no_team &&
                           o->tags.empty() && !o->no_tags && o->add_tags.empty() &&
                           o->remove_tags.empty();
      if (conflicting || nothing) {
        g.exit_code = report_error(
            {ErrorCode::kInvalidArgument,
             conflicting ? "give a value or its --no- flag, not both"
                         : "nothing to change: give --owner, --team, --tags, --add-tag, "
                           "--remove-tag or a --no- flag"});
        return;
      }
      // The same merge patch the REST API takes.
      json patch = json::object();
      if (o->owner) patch["owner"] = *o->owner;
      if (o->no_owner) patch["owner"] = nullptr;
      if (o->team) patch["team"] = *o->team;
      if (o->no_team) patch["team"] = nullptr;
      if (!o->tags.empty()) patch["tags"] = o->tags;
      if (o->no_tags) patch["tags"] = json::array();
      if (!o->add_tags.empty()) patch["add_tags"] = o->add_tags;
      if (!o->remove_tags.empty()) patch["remove_tags"] = o->remove_tags;
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(o->id));
            inventory::MetadataUpdate u;
            if (o->owner) u.owner = *o->owner;
            if (o->no_owner) u.owner = "";
            if (o->team) u.team = *o->team;
            if (o->no_team) u.team = "";
            if (u.team && !u.team->empty()) CW_RETURN_IF_ERROR(c.auth().require_team(*u.team));
            if (!o->tags.empty() || o->no_tags) u.tags = o->tags;
            u.add_tags = o->add_tags;
            u.remove_tags = o->remove_tags;
            CW_ASSIGN_OR_RETURN(auto updated,
                                c.inventory().update_metadata(rec.fingerprint, u, c.actor()));
            return record_json(updated, c.clock().now());
          },
          [&](const Remote& r) {
            return r.patch("/api/v1/certificates/" + url_encode(o->id), patch);
          },
          [](const json& j) {
            auto text = [&](const char* key) {
              const auto it = j.find(key);
              return it != j.end() && it->is_string() ? it->get<std::string>() : std::string("-");
            };
            std::string tags;
            for (const auto& t : j.value("tags", json::array())) {
              if (!tags.empty()) tags += ",";
              tags += t.get<std::string>();
            }
            std::printf("%s  owner %s  team %s  tags %s\n", text("fingerprint").c_str(),
                        text("owner").c_str(), text("team").c_str(),
                        tags.empty() ? "-" : tags.c_str());
          });
    });
  }
  {
    auto o = std::make_shared<ImportOpts>();
    auto* cmd = cert_cmd->add_subcommand(
        "import", "import certificates from files or directories (PEM, DER, P7B, P12)");
    cmd->add_option("paths", o->paths,
                    "files or directories (searched recursively; files only with --server)")
        ->required();
    cmd->add_option("--password-file", o->pass_file, "PKCS#12 password from this file");
    cmd->add_option("--password-env", o->pass_env, "PKCS#12 password from this variable");
    cmd->add_option("--owner", o->owner, "owner recorded for new certificates");
    cmd->add_option("--team", o->team, "team recorded for new certificates");
    cmd->add_option("--tag", o->tags, "tag recorded for new certificates (repeatable)")
        ->allow_extra_args(false);
    auto* bulk = cmd->add_flag("--bulk", o->bulk,
                               "one transaction, indexes built at the end (SQLite; other "
                               "writers wait); default: for a tree of 10,000+ files at least "
                               "a quarter the inventory's size");
    cmd->add_flag("--batched", o->batched, "a transaction per batch, other writers interleave")
        ->excludes(bulk);
    cmd->callback([&g, o] {
      int failed = 0, inserted = 0, duplicates = 0;
      bool interrupted = false;
      std::optional<ErrorCode> first_error;
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(json report, import_local(c, *o, g.json, first_error));
            failed = report.value("failed", 0);
            inserted = report.value("inserted", 0);
            duplicates = report.value("duplicates", 0);
            interrupted = report.value("interrupted", false);
            return report;
          },
          [&](const Remote& r) -> Result<json> {
            if (o->bulk || o->batched) {
              return fail(ErrorCode::kInvalidArgument,
                          "--bulk and --batched choose how a local import writes; the server "
                          "imports each file in one request");
            }
            CW_ASSIGN_OR_RETURN(auto password, read_secret(o->pass_file, o->pass_env));
            json total = {
                {"inserted", 0}, {"duplicates", 0}, {"failed", 0}, {"items", json::array()}};
            for (const auto& path : o->paths) {
              auto one = [&]() -> Result<json> {
                CW_ASSIGN_OR_RETURN(auto data, read_file(path));
                CW_ASSIGN_OR_RETURN(json body, import_body(data, password));
                if (o->owner) body["owner"] = *o->owner;
                if (o->team) body["team"] = *o->team;
                if (!o->tags.empty()) body["tags"] = o->tags;
                return r.post("/api/v1/certificates/import", body);
              }();
              if (!one) {
                ++failed;
                if (!first_error) first_error = one.error().code;
                total["items"].push_back({{"source", path},
                                          {"error",
                                           {{"code", error_code_name(one.error().code)},
                                            {"message", one.error().message}}}});
                continue;
              }
              inserted += one->value("inserted", 0);
              duplicates += one->value("duplicates", 0);
              for (auto item : (*one)["items"]) {
                item["source"] = path;
                total["items"].push_back(item);
              }
            }
            total["inserted"] = inserted;
            total["duplicates"] = duplicates;
            total["failed"] = failed;
            return total;
          },
          print_import);
      if (g.exit_code != kExitOk) return;
      if (interrupted) {
        g.exit_code = kExitInterrupted;
        return;
      }
      if (failed == 0) return;
      // Some files failed: nothing usable at all reports the first reason's code.
      g.exit_code = (inserted == 0 && duplicates == 0 && first_error) ? exit_code_for(*first_error)
                                                                      : kExitInvalidInput;
    });
  }
}

}  // namespace certward::cli
