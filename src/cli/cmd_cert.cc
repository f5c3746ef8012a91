// cert list|show|export|import: the inventory.

#include "cli/commands.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::cli {
namespace {

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

std::string first_name(const inventory::CertificateRecord& r) {
  if (!r.common_name.empty()) return r.common_name;
  if (!r.sans.empty()) return r.sans.front().value;
  return r.subject;
}

}  // namespace

void add_cert_commands(CLI::App& app, Globals& g) {
  auto* cert_cmd = app.add_subcommand("cert", "query and manage the certificate inventory");
  cert_cmd->require_subcommand(1);
  {
    auto o = std::make_shared<ListOptions>();
    auto* cmd = cert_cmd->add_subcommand("list", "list certificates, soonest expiry first");
    cmd->add_option("--status", o->status, "valid, expiring, expired, revoked, superseded, not_yet_valid");
    cmd->add_option("--expiring-within", o->expiring_within, "only those expiring within this duration, e.g. 30d");
    cmd->add_option("--issuer", o->issuer, "issuer DN contains this");
    cmd->add_option("--authority", o->authority, "issued by this internal authority");
    cmd->add_option("--key-algorithm", o->key_algorithm, "rsa, ecdsa, ed25519");
    cmd->add_option("--key-bits", o->key_bits, "key size in bits");
    cmd->add_option("--search", o->search, "subject or any name contains this");
    cmd->add_option("--owner", o->owner, "owner");
    cmd->add_option("--team", o->team, "team");
    cmd->add_option("--origin", o->origin, "issued, imported, discovered, upstream");
    cmd->add_option("--tag", o->tag, "has this tag");
    cmd->add_option("--limit", o->limit, "page size (1-1000)")->capture_default_str();
    cmd->add_option("--cursor", o->cursor, "continue after a previous page (its next_cursor)");
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        const SysTime now = c.clock().now();
        CW_ASSIGN_OR_RETURN(auto filter, make_filter(*o, now));
        CW_ASSIGN_OR_RETURN(auto page, c.inventory().query(c.db(), filter, {o->limit, o->cursor}));
        if (g.json) {
          nlohmann::json items = nlohmann::json::array();
          for (const auto& r : page.items) items.push_back(record_json(r, now));
          print_json({{"items", items},
                      {"next_cursor", page.next_cursor ? nlohmann::json(*page.next_cursor) : nlohmann::json(nullptr)}});
          return ok();
        }
        Table t({"FINGERPRINT", "NAME", "STATUS", "NOT AFTER", "KEY", "ORIGIN", "ISSUER"});
        for (const auto& r : page.items) {
          t.add({r.fingerprint.substr(0, 16), first_name(r), std::string(inventory::status_name(r.status(now))),
                 format_time(r.not_after), r.key_algorithm + " " + std::to_string(r.key_bits),
                 std::string(inventory::origin_name(r.meta.origin)), r.issuer});
        }
        t.print();
        if (page.next_cursor) std::printf("\nmore: --cursor %s\n", page.next_cursor->c_str());
        return ok();
      });
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* cmd = cert_cmd->add_subcommand("show", "show one certificate");
    cmd->add_option("id", *id, "fingerprint (or a unique prefix of 8+ digits) or serial")->required();
    cmd->callback([&g, id] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(c.db(), *id));
        CW_ASSIGN_OR_RETURN(auto cert, c.inventory().certificate(c.db(), rec.fingerprint));
        const SysTime now = c.clock().now();
        if (g.json) {
          nlohmann::json j = record_json(rec, now);
          j["certificate"] = certificate_json(cert.info());
          j["pem"] = cert.pem();
          print_json(j);
          return ok();
        }
        print_certificate(cert.info());
        std::printf("%-22s %s\n%-22s %s\n", "Status:", std::string(inventory::status_name(rec.status(now))).c_str(),
                    "Origin:", std::string(inventory::origin_name(rec.meta.origin)).c_str());
        if (rec.meta.authority) std::printf("%-22s %s\n", "Authority:", rec.meta.authority->c_str());
        if (rec.meta.profile) std::printf("%-22s %s\n", "Profile:", rec.meta.profile->c_str());
        if (rec.meta.owner) std::printf("%-22s %s\n", "Owner:", rec.meta.owner->c_str());
        if (rec.meta.team) std::printf("%-22s %s\n", "Team:", rec.meta.team->c_str());
        return ok();
      });
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
    cmd->add_option("--format", o->format, "pem, der, chain (PEM with the issuers we know), p7b")->capture_default_str();
    cmd->add_option("-o,--out", o->out, "output file (default: stdout)");
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(c.db(), o->id));
        CW_ASSIGN_OR_RETURN(auto cert, c.inventory().certificate(c.db(), rec.fingerprint));
        std::vector<x509::Certificate> certs = {cert};
        if (o->format == "chain" || o->format == "p7b") {
          if (rec.meta.authority) {
            CW_ASSIGN_OR_RETURN(auto a, c.authorities().info(*rec.meta.authority));
            if (a.certificate.info().sha256_hex != cert.info().sha256_hex) certs.push_back(a.certificate);
            certs.insert(certs.end(), a.chain.begin(), a.chain.end());
          }
        }
        std::string data;
        if (o->format == "pem" || o->format == "chain") {
          data = x509::to_pem(certs);
        } else if (o->format == "der") {
          data = std::string(as_chars(cert.der()));
        } else if (o->format == "p7b") {
          CW_ASSIGN_OR_RETURN(Bytes p7, x509::make_pkcs7(certs));
          data = std::string(as_chars(p7));
        } else {
          return fail(ErrorCode::kInvalidArgument, "unknown --format '" + o->format + "' (pem, der, chain, p7b)");
        }
        if (o->out) return write_file(*o->out, data);
        std::fwrite(data.data(), 1, data.size(), stdout);
        return ok();
      });
    });
  }
  {
    struct Opts {
      std::vector<std::string> paths, tags;
      std::optional<std::string> pass_file, pass_env, owner, team;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = cert_cmd->add_subcommand("import", "import certificates from files or directories (PEM, DER, P7B, P12)");
    cmd->add_option("paths", o->paths, "files or directories (searched recursively)")->required();
    cmd->add_option("--password-file", o->pass_file, "PKCS#12 password from this file");
    cmd->add_option("--password-env", o->pass_env, "PKCS#12 password from this variable");
    cmd->add_option("--owner", o->owner, "owner recorded for new certificates");
    cmd->add_option("--team", o->team, "team recorded for new certificates");
    cmd->add_option("--tag", o->tags, "tag recorded for new certificates (repeatable)");
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        CW_ASSIGN_OR_RETURN(auto password, read_secret(o->pass_file, o->pass_env));
        inventory::RecordMeta meta{inventory::Origin::kImported, std::nullopt, std::nullopt, o->owner, o->team, o->tags};
        CW_ASSIGN_OR_RETURN(auto report, c.inventory().import_paths(c.db(), o->paths, password, meta, c.actor()));
        if (g.json) {
          nlohmann::json items = nlohmann::json::array();
          for (const auto& i : report.items) {
            nlohmann::json j = {{"source", i.source}, {"fingerprint", i.fingerprint}, {"inserted", i.inserted}};
            if (i.error) j["error"] = {{"code", error_code_name(i.error->code)}, {"message", i.error->message}};
            items.push_back(j);
          }
          print_json({{"inserted", report.inserted}, {"duplicates", report.duplicates},
                      {"failed", report.failed}, {"items", items}});
        } else {
          for (const auto& i : report.items) {
            if (i.error) std::fprintf(stderr, "certward: %s: %s\n", i.source.c_str(), i.error->message.c_str());
          }
          std::printf("imported %d, already present %d, failed %d\n", report.inserted, report.duplicates, report.failed);
        }
        if (report.failed > 0 && report.inserted == 0 && report.duplicates == 0) {
          // Nothing usable at all: fail with the first file's reason.
          for (const auto& i : report.items)
            if (i.error) {
              g.exit_code = exit_code_for(i.error->code);
              return ok();
            }
        }
        if (report.failed > 0) g.exit_code = kExitInvalidInput;
        return ok();
      });
    });
  }
}

}  // namespace certward::cli
