// team, principal and token management: locally (e.g. to recover a lost admin token on the
// server host) or through --server.

#include "cli/commands.h"
#include "x509/bundle.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

json items_of(const json& doc) { return doc.contains("items") ? doc["items"] : json::array({doc}); }

void print_teams(const json& doc) {
  Table t({"NAME", "PROFILES", "DOMAINS", "AUTHORITIES", "DESCRIPTION"});
  auto joined = [](const json& team, const char* key, const char* none) {
    std::string out;
    if (team.contains(key)) {
      for (const auto& v : team[key]) out += (out.empty() ? "" : ",") + v.get<std::string>();
    }
    return out.empty() ? std::string(none) : out;
  };
  for (const auto& team : items_of(doc)) {
    t.add({text(team, "name"), joined(team, "allowed_profiles", "-"),
           joined(team, "allowed_domains", "-"), joined(team, "allowed_authorities", "(default)"),
           text(team, "description")});
  }
  t.print();
}

void print_principals(const json& doc) {
  Table t({"NAME", "ROLE", "TEAM", "DISABLED", "CREATED"});
  for (const auto& p : items_of(doc)) {
    t.add({text(p, "name"), text(p, "role"), text(p, "team"),
           p.value("disabled", false) ? "yes" : "no", text(p, "created_at")});
  }
  t.print();
}

void print_tokens(const json& doc) {
  Table t({"ID", "PRINCIPAL", "ROLE", "TEAM", "EXPIRES", "REVOKED", "DESCRIPTION"});
  for (const auto& k : items_of(doc)) {
    t.add({text(k, "id"), text(k, "principal"), text(k, "role"), text(k, "team"),
           text(k, "expires_at"), text(k, "revoked_at"), text(k, "description")});
  }
  t.print();
}

Result<json> list_json(const auto& list,
                       json (*to_json)(const std::remove_cvref_t<decltype(list[0])>&)) {
  json items = json::array();
  for (const auto& x : list) items.push_back(to_json(x));
  return json{{"items", items}};
}

}  // namespace

void add_auth_commands(CLI::App& app, Globals& g) {
  {
    auto* team = app.add_subcommand("team", "manage teams (issuance scopes for requesters)");
    team->require_subcommand(1);
    team->add_subcommand("list", "list teams")->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto list, c.auth().list_teams());
            return list_json(list, &api::team_json);
          },
          [](const Remote& r) { return r.get("/api/v1/teams"); }, print_teams);
    });
    struct Opts {
      std::string name, description;
      std::vector<std::string> profiles, domains, authorities;
    };
    auto o = std::make_shared<Opts>();
    auto* create = team->add_subcommand("create", "create a team");
    create->add_option("name", o->name, "team name")->required();
    create->add_option("--description", o->description, "what the team is");
    create->add_option("--profile", o->profiles, "profile its requesters may use (repeatable)");
    create->add_option("--domain", o->domains,
                       "DNS suffix its requesters may request (repeatable)");
    create->add_option("--authority", o->authorities,
                       "authority its requesters may name (repeatable; default: only the "
                       "default authority)");
    create->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(
                ca::check_grant(c.profiles(), c.authorities(), o->profiles, o->authorities));
            auth::Team t;
            t.name = o->name;
            t.description = o->description;
            t.allowed_profiles = o->profiles;
            t.allowed_domains = o->domains;
            t.allowed_authorities = o->authorities;
            CW_ASSIGN_OR_RETURN(auto created, c.auth().create_team(t, c.actor()));
            return api::team_json(created);
          },
          [o](const Remote& r) {
            return r.post("/api/v1/teams", {{"name", o->name},
                                            {"description", o->description},
                                            {"allowed_profiles", o->profiles},
                                            {"allowed_domains", o->domains},
                                            {"allowed_authorities", o->authorities}});
          },
          print_teams);
    });
  }
  {
    auto* principal = app.add_subcommand("principal", "manage principals (users and services)");
    principal->require_subcommand(1);
    principal->add_subcommand("list", "list principals")->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto list, c.auth().list_principals());
            return list_json(list, &api::principal_json);
          },
          [](const Remote& r) { return r.get("/api/v1/principals"); }, print_principals);
    });
    struct Opts {
      std::string name, role;
      std::optional<std::string> team;
    };
    auto o = std::make_shared<Opts>();
    auto* create = principal->add_subcommand("create", "create a principal");
    create->add_option("name", o->name, "principal name")->required();
    create->add_option("--role", o->role, "admin, operator, requester, auditor, agent or approver")->required();
    create->add_option("--team", o->team, "team (required for requesters)");
    create->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            auth::Principal p;
            p.name = o->name;
            CW_ASSIGN_OR_RETURN(p.role, auth::parse_role(o->role));
            p.team = o->team;
            CW_ASSIGN_OR_RETURN(auto created, c.auth().create_principal(p, c.actor()));
            return api::principal_json(created);
          },
          [o](const Remote& r) {
            json body = {{"name", o->name}, {"role", o->role}};
            if (o->team) body["team"] = *o->team;
            return r.post("/api/v1/principals", body);
          },
          print_principals);
    });

    // Client-certificate logins: a certificate (by SHA-256 of its DER) authenticates as the
    // principal once mapped; unmapping cuts it off with the next request.
    struct MapOpts {
      std::string name;
      std::optional<std::string> cert_file, fingerprint;
    };
    auto m = std::make_shared<MapOpts>();
    auto* map =
        principal->add_subcommand("map", "let a TLS client certificate log in as a principal");
    map->add_option("name", m->name, "principal name")->required();
    auto* cert_opt = map->add_option("--cert", m->cert_file, "the client certificate (PEM or DER)");
    auto* fp_opt =
        map->add_option("--fingerprint", m->fingerprint, "its SHA-256 fingerprint (hex)");
    cert_opt->excludes(fp_opt);
    map->callback([&g, m] {
      if (!m->cert_file && !m->fingerprint) {
        g.exit_code = report_error(
            {ErrorCode::kInvalidArgument, "give the certificate: --cert FILE or --fingerprint"});
        return;
      }
      auto fingerprint_of = [m]() -> Result<std::string> {
        if (m->fingerprint) return auth::certificate_fingerprint(*m->fingerprint);
        CW_ASSIGN_OR_RETURN(auto text, read_file(*m->cert_file));
        CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(text)));
        return certs.front().info().sha256_hex;
      };
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto fp, fingerprint_of());
            CW_RETURN_IF_ERROR(c.auth().map_certificate(fp, m->name, c.actor()));
            return json{{"principal", m->name}, {"fingerprint", fp}};
          },
          [&](const Remote& r) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto fp, fingerprint_of());
            return r.post("/api/v1/principals/" + url_encode(m->name) + "/certificates",
                          json{{"fingerprint", fp}});
          },
          [](const json& j) {
            std::printf("mapped %s to %s\n", j.value("fingerprint", "").c_str(),
                        j.value("principal", "").c_str());
          });
    });
    auto mapped = std::make_shared<std::string>();
    auto* mappings = principal->add_subcommand(
        "mappings", "list the client certificates that log in as a principal");
    mappings->add_option("name", *mapped, "principal name")->required();
    mappings->callback([&g, mapped] {
      run_either(
          g,
          [mapped](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto found, c.auth().certificate_mappings(*mapped));
            return api::mappings_json(*mapped, found);
          },
          [mapped](const Remote& r) {
            return r.get("/api/v1/principals/" + url_encode(*mapped) + "/certificates");
          },
          [](const json& j) {
            for (const auto& one : j.at("items")) {
              std::printf("%s  %s\n", one.value("fingerprint", "").c_str(),
                          one.value("created_at", "").c_str());
            }
          });
    });
    auto u = std::make_shared<std::pair<std::string, std::string>>();
    auto* unmap = principal->add_subcommand("unmap", "stop a client certificate logging in");
    unmap->add_option("name", u->first, "principal name")->required();
    unmap->add_option("fingerprint", u->second, "the certificate's SHA-256 fingerprint")
        ->required();
    unmap->callback([&g, u] {
      run_either(
          g,
          [u](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(c.auth().unmap_certificate(u->second, u->first, c.actor()));
            return json{{"principal", u->first}, {"unmapped", u->second}};
          },
          [u](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/principals/" + url_encode(u->first) +
                                     "/certificates/" + url_encode(u->second)));
            return json{{"principal", u->first}, {"unmapped", u->second}};
          },
          [](const json& j) {
            std::printf("unmapped %s from %s\n", j.value("unmapped", "").c_str(),
                        j.value("principal", "").c_str());
          });
    });
  }
  {
    auto* token = app.add_subcommand("token", "manage API tokens");
    token->require_subcommand(1);
    auto principal_filter = std::make_shared<std::optional<std::string>>();
    auto* list = token->add_subcommand("list", "list tokens (never their secrets)");
    list->add_option("--principal", *principal_filter, "only this principal's tokens");
    list->callback([&g, principal_filter] {
      run_either(
          g,
          [principal_filter](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto tokens, c.auth().list_tokens(*principal_filter));
            return list_json(tokens, &api::token_json);
          },
          [principal_filter](const Remote& r) {
            return r.get("/api/v1/tokens" +
                         (*principal_filter ? "?principal=" + url_encode(**principal_filter) : ""));
          },
          print_tokens);
    });
    struct Opts {
      std::string principal, description, ttl;
      std::optional<std::string> role, team, out;
      bool no_expiry = false;
    };
    auto o = std::make_shared<Opts>();
    auto* create = token->add_subcommand("create", "create a token; its secret is shown once");
    create->add_option("--principal", o->principal, "the principal it authenticates as")
        ->required();
    create->add_option("--role", o->role, "role (default: the principal's; never above it)");
    create->add_option("--team", o->team, "team (default: the principal's)");
    create->add_option("--description", o->description, "what it is for");
    create->add_option("--ttl", o->ttl, "lifetime, e.g. 90d (default 90d, at most 2y)");
    create->add_flag("--no-expiry", o->no_expiry, "never expires (bootstrap and break-glass only)");
    create->add_option("-o,--out", o->out,
                       "write the secret to this file (0600) instead of stdout");
    create->callback([&g, o] {
      std::string secret;
      // A bad --out must fail before a token exists whose secret nobody would have.
      if (o->out) {
        if (auto checked = check_output_path(*o->out); !checked) {
          g.exit_code = report_error(checked.error());
          return;
        }
      }
      const bool json_requested = g.json;
      g.json = false;
      run_either(
          g,
          [&](Context& c) -> Result<json> {
            auth::TokenRequest t;
            t.principal = o->principal;
            if (o->role) {
              CW_ASSIGN_OR_RETURN(t.role, auth::parse_role(*o->role));
            }
            t.team = o->team;
            t.description = o->description;
            if (!o->ttl.empty()) {
              CW_ASSIGN_OR_RETURN(t.ttl, parse_duration(o->ttl));
            }
            t.no_expiry = o->no_expiry;
            CW_ASSIGN_OR_RETURN(auto created, c.auth().create_token(t, c.actor()));
            secret = created.secret;
            return api::token_json(created.info);
          },
          [&](const Remote& r) -> Result<json> {
            json body = {{"principal", o->principal}, {"description", o->description}};
            if (o->role) body["role"] = *o->role;
            if (o->team) body["team"] = *o->team;
            if (!o->ttl.empty()) body["ttl"] = o->ttl;
            if (o->no_expiry) body["no_expiry"] = true;
            CW_ASSIGN_OR_RETURN(auto doc, r.post("/api/v1/tokens", body));
            secret = doc.value("token", "");
            doc.erase("token");
            return doc;
          },
          [](const json&) {});
      g.json = json_requested;
      if (g.exit_code != kExitOk) return;
      if (o->out) {
        if (auto st = write_file_atomic(*o->out, secret + "\n", 0600); !st)
          g.exit_code = report_error(st.error());
      } else if (g.json) {
        print_json({{"token", secret}});
      } else {
        std::printf("%s\n", secret.c_str());
      }
    });
    auto id = std::make_shared<std::string>();
    auto* revoke = token->add_subcommand("revoke", "revoke a token");
    revoke->add_option("id", *id, "token id (the 16 hex digits after cwt_)")->required();
    revoke->callback([&g, id] {
      run_either(
          g,
          [id](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(c.auth().revoke_token(*id, c.actor()));
            return json{{"revoked", *id}};
          },
          [id](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/tokens/" + url_encode(*id)));
            return json{{"revoked", *id}};
          },
          [](const json& j) {
            std::printf("revoked %s\n", j["revoked"].get<std::string>().c_str());
          });
    });
  }
}

}  // namespace certward::cli
