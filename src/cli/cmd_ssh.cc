// ssh ca create|list|show, ssh sign, ssh list|show|revoke, ssh krl: the SSH certificate
// authority (docs/ssh.md).

#include <filesystem>

#include "cli/commands.h"
#include "cli/token_key_flags.h"
#include "common/file.h"
#include "protocols/ssh/ssh.h"

namespace certward::cli {
namespace {

using nlohmann::json;
using protocols::ssh::authority_json;
using protocols::ssh::certificate_json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

void print_authorities(const json& doc) {
  const json& list = doc.contains("items") ? doc["items"] : json::array({doc});
  Table t({"NAME", "KEY", "STORAGE", "FINGERPRINT"});
  for (const auto& a : list) {
    t.add({text(a, "name"), text(a, "key_type"), text(a, "key_storage"), text(a, "fingerprint")});
  }
  t.print();
}

void print_certificates(const json& doc) {
  const json& list = doc.contains("items") ? doc["items"] : json::array({doc});
  Table t({"ID", "CA", "TYPE", "PRINCIPALS", "VALID BEFORE", "STATUS", "KEY ID"});
  for (const auto& c : list) {
    std::string principals;
    for (const auto& p : c.value("principals", json::array())) {
      principals += (principals.empty() ? "" : ",") + p.get<std::string>();
    }
    t.add({text(c, "id").substr(0, 16), text(c, "authority"), text(c, "type"), principals,
           text(c, "valid_before"), c.contains("revoked_at") ? "revoked" : "valid",
           text(c, "key_id")});
  }
  t.print();
}

// Where `ssh sign` writes: -o, else next to the public key as ssh-keygen does
// (id_ed25519.pub → id_ed25519-cert.pub).
std::string cert_path(const std::string& key_file, const std::optional<std::string>& out) {
  if (out) return *out;
  std::string base = key_file;
  if (base.ends_with(".pub")) base.resize(base.size() - 4);
  return base + "-cert.pub";
}

// The public key to certify: a regular file of at most a few KB. A private key is refused here,
// before it could be sent anywhere (the usual slip: id_ed25519 for id_ed25519.pub).
Result<std::string> read_public_key_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return fail(ErrorCode::kNotFound, "cannot read " + path);
  }
  if (!std::filesystem::is_regular_file(status)) {
    return fail(ErrorCode::kInvalidArgument, path + " is not a regular file");
  }
  if (std::filesystem::file_size(path, ec) > 2 * certward::ssh::kMaxPublicKeyLine || ec) {
    return fail(ErrorCode::kInvalidArgument, path + " is too large for a public key");
  }
  CW_ASSIGN_OR_RETURN(std::string text, read_file(path));
  if (text.find("PRIVATE KEY") != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                path + " is a private key: give the public one (" + path + ".pub)");
  }
  return text;
}

}  // namespace

void add_ssh_commands(CLI::App& app, Globals& g) {
  auto* ssh = app.add_subcommand("ssh", "the SSH certificate authority (docs/ssh.md)");
  ssh->require_subcommand(1);
  auto* ca_cmd = ssh->add_subcommand("ca", "manage SSH CAs");
  ca_cmd->require_subcommand(1);
  {
    struct Opts {
      std::string name, key_type = "ed25519";
      TokenKeyFlags key;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ca_cmd->add_subcommand("create", "create an SSH CA");
    cmd->add_option("--name", o->name, "SSH CA name (a-z, 0-9, '-', '_')")->required();
    cmd->add_option("--key-type", o->key_type,
                    "ed25519, ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096")
        ->capture_default_str();
    add_token_key_flags(cmd, o->key);
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            certward::ssh::SshAuthorityRequest r;
            r.name = o->name;
            CW_ASSIGN_OR_RETURN(r.key_type, crypto::parse_key_type(o->key_type));
            CW_ASSIGN_OR_RETURN(r.token_key, token_key_request(o->key));
            CW_ASSIGN_OR_RETURN(auto a, c.ssh().create_authority(r, c.actor()));
            return authority_json(a);
          },
          [o](const Remote& r) -> Result<json> {
            json body = {{"name", o->name}, {"key_type", o->key_type}};
            CW_RETURN_IF_ERROR(add_token_key_body(body, o->key));
            return r.post("/api/v1/ssh/authorities", body);
          },
          print_authorities);
    });
  }
  {
    auto* cmd = ca_cmd->add_subcommand("list", "list SSH CAs");
    cmd->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto all, c.ssh().authorities());
            json items = json::array();
            for (const auto& a : all) items.push_back(authority_json(a));
            return json{{"items", items}};
          },
          [](const Remote& r) { return r.get("/api/v1/ssh/authorities"); }, print_authorities);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = ca_cmd->add_subcommand(
        "show", "print an SSH CA's public key (for TrustedUserCAKeys and @cert-authority)");
    cmd->add_option("name", *name, "SSH CA name")->required();
    cmd->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto a, c.ssh().authority(*name));
            return authority_json(a);
          },
          [name](const Remote& r) {
            return r.get("/api/v1/ssh/authorities/" + url_encode(*name));
          },
          [](const json& a) { std::printf("%s\n", text(a, "public_key").c_str()); });
    });
  }
  {
    struct Opts {
      std::string key_file;
      std::optional<std::string> user, host, profile, authority, validity, key_id, force_command,
          source_address, out;
      std::vector<std::string> principals, extensions;
      bool no_extensions = false;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ssh->add_subcommand("sign", "sign an OpenSSH user or host certificate");
    cmd->add_option("public_key", o->key_file, "the public key (id_ed25519.pub, a host key)")
        ->required();
    auto* user = cmd->add_option("--user", o->user,
                                 "a user certificate for NAME (its principal unless --principal)");
    auto* host = cmd->add_option(
        "--host", o->host, "a host certificate for NAME (its principal unless --principal)");
    user->excludes(host);
    cmd->add_option("--principal", o->principals, "a principal (repeatable)");
    cmd->add_option("--profile", o->profile, "SSH profile (default ssh-user or ssh-host)");
    cmd->add_option("--authority", o->authority, "SSH CA (default: the profile's, else [ssh])");
    cmd->add_option("--validity", o->validity, "e.g. 8h, 30m, 7d (default: the profile's)");
    cmd->add_option("--key-id", o->key_id, "key id (logged by sshd; default: you and NAME)");
    cmd->add_option("--force-command", o->force_command, "critical option force-command");
    cmd->add_option("--source-address", o->source_address,
                    "critical option source-address, e.g. 10.0.0.0/8,192.0.2.1");
    cmd->add_option("--extension", o->extensions,
                    "an extension (repeatable; default: the profile's)");
    cmd->add_flag("--no-extensions", o->no_extensions, "no extensions at all");
    cmd->add_option("-o,--out", o->out,
                    "where to write the certificate (default: KEY-cert.pub beside the key; - for "
                    "stdout)");
    cmd->callback([&g, o] {
      auto key = read_public_key_file(o->key_file);
      if (!key) {
        g.exit_code = report_error(key.error());
        return;
      }
      for (const auto* v :
           {&o->user, &o->host, &o->key_id, &o->force_command, &o->source_address}) {
        if (*v && !certward::ssh::is_display_text(**v)) {
          g.exit_code = report_error(Error{ErrorCode::kInvalidArgument,
                                           "options are UTF-8 text without control characters"});
          return;
        }
      }
      for (const auto& p : o->principals) {
        if (!certward::ssh::is_display_text(p)) {
          g.exit_code = report_error(
              Error{ErrorCode::kInvalidArgument, "a principal is UTF-8 text without controls"});
          return;
        }
      }
      if (!o->user && !o->host) {
        g.exit_code =
            report_error(Error{ErrorCode::kInvalidArgument, "give --user NAME or --host NAME"});
        return;
      }
      const std::string name = o->user ? *o->user : *o->host;
      std::vector<std::string> principals = o->principals;
      if (principals.empty()) principals.push_back(name);
      const std::string out = cert_path(o->key_file, o->out);
      if (out != "-") {
        if (Status s = check_output_path(out); !s) {
          g.exit_code = report_error(s.error());
          return;
        }
      }
      json body = {{"type", o->host ? "host" : "user"},
                   {"public_key", *key},
                   {"principals", principals},
                   {"key_id", o->key_id.value_or(name)}};
      if (o->profile) body["profile"] = *o->profile;
      if (o->authority) body["authority"] = *o->authority;
      if (o->validity) body["validity"] = *o->validity;
      if (o->force_command) body["force_command"] = *o->force_command;
      if (o->source_address) body["source_address"] = *o->source_address;
      if (o->no_extensions) {
        body["extensions"] = json::array();
      } else if (!o->extensions.empty()) {
        body["extensions"] = o->extensions;
      }
      run_either(
          g,
          [body](Context& c) -> Result<json> {
            certward::ssh::SshSignRequest r;
            r.type = body["type"] == "host" ? certward::ssh::CertType::kHost
                                            : certward::ssh::CertType::kUser;
            r.public_key = body["public_key"];
            r.principals = body["principals"].get<std::vector<std::string>>();
            r.key_id = body["key_id"].get<std::string>();
            if (body.contains("profile")) r.profile = body["profile"];
            if (body.contains("authority")) r.authority = body["authority"].get<std::string>();
            if (body.contains("validity")) {
              CW_ASSIGN_OR_RETURN(r.validity, parse_duration(body["validity"].get<std::string>()));
            }
            if (body.contains("force_command")) {
              r.force_command = body["force_command"].get<std::string>();
            }
            if (body.contains("source_address")) {
              r.source_address = body["source_address"].get<std::string>();
            }
            if (body.contains("extensions")) {
              r.extensions = body["extensions"].get<std::vector<std::string>>();
            }
            CW_ASSIGN_OR_RETURN(auto rec, c.ssh().sign(r, c.requester(), ca::Channel::kCli));
            return certificate_json(rec);
          },
          [body](const Remote& r) { return r.post("/api/v1/ssh/certificates", body); },
          [&g, out](const json& c) {
            const std::string line = text(c, "certificate") + "\n";
            if (out == "-") {
              std::fputs(line.c_str(), stdout);
              return;
            }
            if (Status s = write_file_atomic(out, line, 0644); !s) {
              g.exit_code = report_error(s.error());
              return;
            }
            std::printf("%s: %s certificate %s, serial %s, valid until %s\n", out.c_str(),
                        text(c, "type").c_str(), text(c, "key_id").c_str(),
                        text(c, "serial").c_str(), text(c, "valid_before").c_str());
          });
    });
  }
  {
    struct Opts {
      std::optional<std::string> search, authority, expiring_within;
      bool include_expired = false;
      int limit = 100;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ssh->add_subcommand("list", "list issued SSH certificates");
    cmd->add_option("--search", o->search, "a principal, key id, key fingerprint or id");
    cmd->add_option("--authority", o->authority, "SSH CA");
    cmd->add_option("--expiring-within", o->expiring_within, "e.g. 2h");
    cmd->add_flag("--include-expired", o->include_expired, "expired ones too");
    cmd->add_option("--limit", o->limit, "1..1000")->capture_default_str();
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            certward::ssh::SshCertificateFilter f;
            if (o->search && !certward::ssh::is_display_text(*o->search)) {
              return fail(ErrorCode::kInvalidArgument, "--search is UTF-8 text");
            }
            f.search = o->search;
            f.authority = o->authority;
            if (o->expiring_within) {
              CW_ASSIGN_OR_RETURN(f.expiring_within, parse_duration(*o->expiring_within));
            }
            f.include_expired = o->include_expired;
            f.limit = o->limit;
            CW_ASSIGN_OR_RETURN(auto all, c.ssh().list(f));
            json items = json::array();
            for (const auto& rec : all) items.push_back(certificate_json(rec));
            return json{{"items", items}};
          },
          [o](const Remote& r) {
            std::string q = "?limit=" + std::to_string(o->limit);
            if (o->search) q += "&search=" + url_encode(*o->search);
            if (o->authority) q += "&authority=" + url_encode(*o->authority);
            if (o->expiring_within) q += "&expiring_within=" + url_encode(*o->expiring_within);
            if (o->include_expired) q += "&include_expired=true";
            return r.get("/api/v1/ssh/certificates" + q);
          },
          print_certificates);
    });
  }
  {
    struct Opts {
      std::string id;
      std::string reason;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ssh->add_subcommand("revoke", "revoke an SSH certificate (listed in its CA's KRL)");
    cmd->add_option("id", o->id, "the certificate's id (ssh list)")->required();
    cmd->add_option("--reason", o->reason, "why (recorded in the audit log)");
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto rec, c.ssh().revoke(o->id, o->reason, c.requester()));
            return certificate_json(rec);
          },
          [o](const Remote& r) {
            return r.post("/api/v1/ssh/certificates/" + url_encode(o->id) + "/revoke",
                          json{{"reason", o->reason}});
          },
          print_certificates);
    });
  }
  {
    struct Opts {
      std::string name, out;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ssh->add_subcommand(
        "krl", "write an SSH CA's key revocation list (sshd's RevokedKeys); a server serves it "
               "at /ssh/<name>.krl on its plain-HTTP listener");
    cmd->add_option("name", o->name, "SSH CA name")->required();
    cmd->add_option("-o,--out", o->out, "output file")->required();
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [o](Context& c) -> Status {
        CW_RETURN_IF_ERROR(check_output_path(o->out));
        CW_ASSIGN_OR_RETURN(Bytes krl, c.ssh().krl(o->name));
        return write_file_atomic(o->out, as_chars(krl), 0644);
      });
    });
  }
}

}  // namespace certward::cli
