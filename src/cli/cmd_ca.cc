// init, ca create|list|show|export|import|cross, profile list|show.

#include <algorithm>

#include "ca/hierarchy.h"
#include "cli/commands.h"
#include "cli/token_key_flags.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

// A table of authorities from their JSON (a list, or {"items": [...]}).
void print_authorities(const json& doc) {
  const json& list = doc.is_array()          ? doc
                     : doc.contains("items") ? doc["items"]
                                             : json::array({doc});
  Table t({"NAME", "KIND", "PARENT", "KEY", "NOT AFTER", "STATUS", "SUBJECT"});
  for (const auto& a : list) {
    std::string key = text(a, "key_type");
    if (a.value("key_storage", "") == "pkcs11") key += " (token " + text(a, "key_token") + ")";
    t.add({text(a, "name"), text(a, "kind"), text(a, "parent"), key,
           text(a["certificate"], "not_after"), text(a, "status"),
           text(a["certificate"], "subject")});
  }
  t.print();
}

json authorities_json(const std::vector<ca::AuthorityInfo>& list) {
  json items = json::array();
  for (const auto& a : list) items.push_back(authority_json(a));
  return {{"items", items}};
}

void print_cross_certificates(const json& doc) {
  const json& list = doc.contains("items") ? doc["items"] : json::array({doc});
  Table t({"AUTHORITY", "SHA-256", "ISSUER", "NOT AFTER", "CHAIN"});
  for (const auto& c : list) {
    t.add({text(c, "authority"), text(c, "fingerprint"), text(c["certificate"], "issuer"),
           text(c["certificate"], "not_after"),
           std::to_string(c.contains("chain") ? c["chain"].size() : 0)});
  }
  t.print();
}

// `certward ca cross add|list|remove`: another CA's certificates of an authority's name and
// key, which ACME hands out as alternate chains.
void add_cross_commands(CLI::App& ca_cmd, Globals& g) {
  auto* cross = ca_cmd.add_subcommand(
      "cross", "cross-certificates: an authority certified by another CA (alternate chains)");
  cross->require_subcommand(1);
  {
    struct Opts {
      std::string name, cert;
      std::optional<std::string> chain;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = cross->add_subcommand("add", "add a cross-certificate to an authority");
    cmd->add_option("name", o->name, "authority name")->required();
    cmd->add_option("--cert", o->cert,
                    "the cross-certificate (PEM or DER; further certificates count as its chain)")
        ->required();
    cmd->add_option("--chain", o->chain, "PEM bundle of its issuers, nearest first");
    cmd->callback([&g, o] {
      std::vector<x509::Certificate> certs;
      auto load = [&]() -> Status {
        CW_ASSIGN_OR_RETURN(auto data, read_file(o->cert));
        CW_ASSIGN_OR_RETURN(certs, x509::parse_certificates(as_bytes(data)));
        if (o->chain) {
          CW_ASSIGN_OR_RETURN(auto more, read_file(*o->chain));
          CW_ASSIGN_OR_RETURN(auto chain, x509::parse_certificates(as_bytes(more)));
          certs.insert(certs.end(), chain.begin(), chain.end());
        }
        return ok();
      };
      if (Status loaded = load(); !loaded) {
        g.exit_code = report_error(loaded.error());
        return;
      }
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            const std::string bundle = x509::to_pem(certs);
            CW_ASSIGN_OR_RETURN(auto added, c.authorities().add_cross_certificate(
                                                o->name, as_bytes(bundle), c.actor()));
            return cross_certificate_json(added);
          },
          [&](const Remote& r) {
            return r.post("/api/v1/authorities/" + url_encode(o->name) + "/cross-certificates",
                          {{"certificate_pem", certs.front().pem()},
                           {"chain_pem", x509::to_pem(std::span(certs).subspan(1))}});
          },
          print_cross_certificates);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = cross->add_subcommand("list", "list an authority's cross-certificates");
    cmd->add_option("name", *name, "authority name")->required();
    cmd->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto list, c.authorities().cross_certificates(*name));
            json items = json::array();
            for (const auto& x : list) items.push_back(cross_certificate_json(x));
            return json{{"items", items}};
          },
          [name](const Remote& r) {
            return r.get("/api/v1/authorities/" + url_encode(*name) + "/cross-certificates");
          },
          print_cross_certificates);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto fingerprint = std::make_shared<std::string>();
    auto* cmd = cross->add_subcommand("remove", "remove a cross-certificate from an authority");
    cmd->add_option("name", *name, "authority name")->required();
    cmd->add_option("fingerprint", *fingerprint, "its SHA-256 fingerprint (hex)")->required();
    cmd->callback([&g, name, fingerprint] {
      run_either(
          g,
          [=](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(
                c.authorities().remove_cross_certificate(*name, *fingerprint, c.actor()));
            return json{{"authority", *name}, {"fingerprint", *fingerprint}, {"removed", true}};
          },
          [=](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/authorities/" + url_encode(*name) +
                                     "/cross-certificates/" + url_encode(*fingerprint)));
            return json{{"authority", *name}, {"fingerprint", *fingerprint}, {"removed", true}};
          },
          [](const json& doc) { std::printf("removed %s\n", text(doc, "fingerprint").c_str()); });
    });
  }
}

void print_profiles(const json& doc) {
  Table t({"NAME", "KEYS", "DEFAULT", "MAX", "EKU", "DESCRIPTION"});
  for (const auto& p : doc["items"]) {
    std::string keys, eku;
    for (const auto& k : p["key_types"]) keys += (keys.empty() ? "" : ",") + k.get<std::string>();
    for (const auto& e : p["extended_key_usage"])
      eku += (eku.empty() ? "" : ",") + e.get<std::string>();
    t.add({text(p, "name"), keys, text(p, "default_validity"), text(p, "max_validity"),
           eku.empty() ? "-" : eku, text(p, "description")});
  }
  t.print();
}

}  // namespace

void add_init_command(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "init", "create the data directory, master key, database and a development CA hierarchy");
  auto o = std::make_shared<InitOptions>();
  cmd->add_option("--root-subject", o->root_subject, "subject of the root CA")
      ->capture_default_str();
  cmd->add_option("--issuing-subject", o->issuing_subject, "subject of the issuing CA")
      ->capture_default_str();
  cmd->callback([&g, o] {
    run(g, Init::kCreate, [&](Context& c) -> Status {
      CW_ASSIGN_OR_RETURN(auto created, initialise_authorities(c, *o));
      CW_ASSIGN_OR_RETURN(auto all, c.authorities().list());
      if (g.json) {
        nlohmann::json j = {{"initialised", !created.empty()},
                            {"data_dir", c.config().data_dir},
                            {"authorities", nlohmann::json::array()}};
        for (const auto& a : all) j["authorities"].push_back(authority_json(a));
        print_json(j);
      } else if (created.empty()) {
        std::printf("certward is already initialised in %s; nothing changed.\n",
                    c.config().data_dir.c_str());
      } else {
        std::printf("Initialised certward in %s\n", c.config().data_dir.c_str());
        print_authorities(authorities_json(created));
        std::printf(
            "\nIssue a certificate:  certward -d %s issue --profile tls-server --cn "
            "www.example.test --key-type ec-p256\n",
            c.config().data_dir.c_str());
      }
      return ok();
    });
  });
}

void add_ca_commands(CLI::App& app, Globals& g) {
  auto* ca_cmd = app.add_subcommand("ca", "manage certificate authorities");
  ca_cmd->require_subcommand(1);

  {
    struct Opts {
      std::string name, kind = "issuing", subject, key_type, validity;
      std::optional<std::string> parent;
      std::optional<int> path_length;
      std::vector<std::string> permit, exclude;
      TokenKeyFlags key;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ca_cmd->add_subcommand("create", "create a root, intermediate or issuing CA");
    cmd->add_option("--name", o->name, "authority name (a-z, 0-9, '-', '_')")->required();
    cmd->add_option("--kind", o->kind, "root, intermediate or issuing")->capture_default_str();
    cmd->add_option("--parent", o->parent, "parent authority (intermediate and issuing)");
    cmd->add_option("--subject", o->subject, "subject, e.g. \"CN=Example Issuing CA,O=Example\"")
        ->required();
    cmd->add_option(
        "--key-type", o->key_type,
        "ec-p256, ec-p384, rsa-3072, rsa-4096 (default: ec-p384 for roots, ec-p256 otherwise)");
    cmd->add_option("--validity", o->validity,
                    "validity, e.g. 10y or 1825d (default: 20y root, 5y otherwise)");
    cmd->add_option("--path-length", o->path_length, "maximum number of CAs below this one");
    cmd->add_option("--permit", o->permit,
                    "permitted name constraint: dns:NAME, ip:CIDR, email:DOMAIN, uri:HOST");
    cmd->add_option("--exclude", o->exclude, "excluded name constraint, same forms as --permit");
    add_token_key_flags(cmd, o->key);
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            ca::AuthorityRequest r;
            r.name = o->name;
            CW_ASSIGN_OR_RETURN(r.kind, ca::parse_authority_kind(o->kind));
            r.parent = o->parent;
            r.subject = o->subject;
            if (!o->key_type.empty()) {
              CW_ASSIGN_OR_RETURN(r.key_type, crypto::parse_key_type(o->key_type));
            }
            if (!o->validity.empty()) {
              CW_ASSIGN_OR_RETURN(r.validity, parse_duration(o->validity));
            }
            r.path_length = o->path_length;
            r.permitted = o->permit;
            r.excluded = o->exclude;
            CW_ASSIGN_OR_RETURN(r.token_key, token_key_request(o->key));
            ca::Requester requester;
            requester.actor = c.actor();
            CW_ASSIGN_OR_RETURN(
                auto info, ca::create_authority(c.enrollment(), c.authorities(), r, requester));
            return authority_json(info);
          },
          [o](const Remote& r) -> Result<json> {
            json body = {{"name", o->name}, {"kind", o->kind}, {"subject", o->subject}};
            if (o->parent) body["parent"] = *o->parent;
            if (!o->key_type.empty()) body["key_type"] = o->key_type;
            if (!o->validity.empty()) body["validity"] = o->validity;
            if (o->path_length) body["path_length"] = *o->path_length;
            if (!o->permit.empty()) body["permitted"] = o->permit;
            if (!o->exclude.empty()) body["excluded"] = o->exclude;
            CW_RETURN_IF_ERROR(add_token_key_body(body, o->key));
            return r.post("/api/v1/authorities", body);
          },
          print_authorities);
    });
  }
  {
    auto* cmd = ca_cmd->add_subcommand("list", "list authorities");
    cmd->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto list, c.authorities().list());
            return authorities_json(list);
          },
          [](const Remote& r) { return r.get("/api/v1/authorities"); }, print_authorities);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = ca_cmd->add_subcommand("show", "show one authority");
    cmd->add_option("name", *name, "authority name")->required();
    cmd->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto a, c.authorities().info(*name));
            return authority_json(a);
          },
          [name](const Remote& r) { return r.get("/api/v1/authorities/" + url_encode(*name)); },
          [](const json& a) {
            print_authorities(a);
            std::printf("\n%-22s %s\n%-22s %s\n%-22s %s\n",
                        "Serial:", text(a["certificate"], "serial").c_str(),
                        "Not before:", text(a["certificate"], "not_before").c_str(),
                        "SHA-256:", text(a["certificate"], "sha256").c_str());
          });
    });
  }
  for (const bool enable : {false, true}) {
    auto name = std::make_shared<std::string>();
    auto* cmd = ca_cmd->add_subcommand(
        enable ? "enable" : "disable",
        enable ? "let a disabled authority sign again"
               : "stop an authority signing anything (its certificates stay valid)");
    cmd->add_option("name", *name, "authority name")->required();
    cmd->callback([&g, name, enable] {
      run_either(
          g,
          [name, enable](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(c.authorities().set_enabled(*name, enable, c.actor()));
            CW_ASSIGN_OR_RETURN(auto a, c.authorities().info(*name));
            return authority_json(a);
          },
          [name, enable](const Remote& r) {
            return r.post(
                "/api/v1/authorities/" + url_encode(*name) + (enable ? "/enable" : "/disable"),
                json::object());
          },
          print_authorities);
    });
  }
  {
    struct Opts {
      std::string name;
      bool chain = false, der = false;
      std::optional<std::string> out;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = ca_cmd->add_subcommand("export", "export an authority's certificate (and chain)");
    cmd->add_option("name", o->name, "authority name")->required();
    cmd->add_flag("--chain", o->chain, "include the issuers above it, up to the root");
    cmd->add_flag("--der", o->der, "DER instead of PEM (certificate only)");
    cmd->add_option("-o,--out", o->out, "output file (default: stdout)");
    cmd->callback([&g, o] {
      if (o->der && o->chain) {
        g.exit_code = report_error(
            {ErrorCode::kInvalidArgument, "--der exports one certificate; drop --chain"});
        return;
      }
      std::string data;
      const bool json_requested = g.json;
      g.json = false;  // the document is the file itself
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto a, c.authorities().info(o->name));
            std::vector<x509::Certificate> certs = {a.certificate};
            if (o->chain) certs.insert(certs.end(), a.chain.begin(), a.chain.end());
            data = o->der ? std::string(as_chars(a.certificate.der())) : x509::to_pem(certs);
            return json::object();
          },
          [&](const Remote& r) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto pem,
                                r.get_raw("/api/v1/authorities/" + url_encode(o->name) + "/chain"));
            CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(pem)));
            if (!o->chain) certs.resize(1);
            data = o->der ? std::string(as_chars(certs.front().der())) : x509::to_pem(certs);
            return json::object();
          },
          [](const json&) {});
      g.json = json_requested;
      if (g.exit_code != kExitOk) return;
      if (Status written = write_document(o->out, data); !written)
        g.exit_code = report_error(written.error());
    });
  }
  {
    struct Opts {
      std::string name, cert, key;
      std::optional<std::string> chain, parent, kind, pass_file, pass_env;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd =
        ca_cmd->add_subcommand("import", "import an existing CA certificate and key to operate it");
    cmd->add_option("--name", o->name, "authority name")->required();
    cmd->add_option("--cert", o->cert, "CA certificate (PEM or DER)")->required();
    cmd->add_option("--key", o->key, "CA private key (PEM or DER, PKCS#8 or traditional)")
        ->required();
    cmd->add_option("--chain", o->chain, "PEM bundle of the issuers above it");
    cmd->add_option("--parent", o->parent, "existing authority that issued it");
    cmd->add_option("--kind", o->kind,
                    "root, intermediate or issuing (default: root if self-signed, else issuing)");
    cmd->add_option("--key-passphrase-file", o->pass_file, "file holding the key's passphrase");
    cmd->add_option("--key-passphrase-env", o->pass_env,
                    "environment variable holding the key's passphrase");
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        ca::ImportOptions io;
        io.name = o->name;
        CW_ASSIGN_OR_RETURN(auto cert, read_file(o->cert));
        CW_ASSIGN_OR_RETURN(io.private_key, read_secret_file(o->key));
        io.certificate.assign(cert.begin(), cert.end());
        if (o->chain) {
          CW_ASSIGN_OR_RETURN(auto chain, read_file(*o->chain));
          io.chain.assign(chain.begin(), chain.end());
        }
        io.parent = o->parent;
        if (o->kind) {
          CW_ASSIGN_OR_RETURN(io.kind, ca::parse_authority_kind(*o->kind));
        }
        CW_ASSIGN_OR_RETURN(io.key_passphrase, read_secret_bytes(o->pass_file, o->pass_env));
        CW_ASSIGN_OR_RETURN(auto info, c.authorities().import(io, c.actor()));
        if (g.json)
          print_json(authority_json(info));
        else
          print_authorities(authority_json(info));
        return ok();
      });
    });
  }
  add_cross_commands(*ca_cmd, g);
}

void add_profile_commands(CLI::App& app, Globals& g) {
  auto* p = app.add_subcommand("profile", "inspect certificate profiles");
  p->require_subcommand(1);
  p->add_subcommand("list", "list profiles")->callback([&g] {
    run_either(
        g,
        [](Context& c) -> Result<json> {
          json items = json::array();
          for (const auto& pr : c.profiles().all()) items.push_back(profile_json(pr));
          return json{{"items", items}};
        },
        [](const Remote& r) { return r.get("/api/v1/profiles"); }, print_profiles);
  });
  auto name = std::make_shared<std::string>();
  auto* show = p->add_subcommand("show", "show one profile (JSON)");
  show->add_option("name", *name, "profile name")->required();
  show->callback([&g, name] {
    run_either(
        g,
        [name](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(const ca::Profile* pr, c.profiles().find(*name));
          return profile_json(*pr);
        },
        [name](const Remote& r) { return r.get("/api/v1/profiles/" + url_encode(*name)); },
        [](const json& j) { print_json(j); });
  });
}

}  // namespace certward::cli
