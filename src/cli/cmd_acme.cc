// ACME administration: external account binding keys (`certward acme eab create|list|revoke`),
// locally or through --server.

#include "api/json.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

void print_keys(const json& doc) {
  Table t({"KID", "TEAM", "DIRECTORY", "ACCOUNT", "REVOKED", "DESCRIPTION"});
  const json items = doc.contains("items") ? doc["items"] : json::array({doc});
  for (const auto& k : items) {
    t.add({text(k, "kid"), text(k, "team"), text(k, "directory"), text(k, "account"),
           text(k, "revoked_at"), text(k, "description")});
  }
  t.print();
}

// The HMAC key is printed once, here; nothing stores it in the clear.
void print_created(const json& doc) {
  std::cout << "kid:      " << text(doc, "kid") << "\n"
            << "hmac_key: " << text(doc, "hmac_key") << "\n"
            << "team:     " << text(doc, "team") << "\n"
            << "Give both to the ACME client (certbot --eab-kid KID --eab-hmac-key KEY); the "
               "key is not shown again.\n";
}

}  // namespace

void add_acme_commands(CLI::App& app, Globals& g) {
  auto* acme = app.add_subcommand("acme", "ACME server administration");
  acme->require_subcommand(1);
  auto* eab = acme->add_subcommand("eab", "external account binding keys for ACME clients");
  eab->require_subcommand(1);
  {
    struct Opts {
      std::string team, description;
      std::optional<std::string> directory;
    };
    auto o = std::make_shared<Opts>();
    auto* create = eab->add_subcommand("create", "create an EAB key bound to a team");
    create->add_option("--team", o->team, "the team whose grant accounts get")->required();
    create->add_option("--directory", o->directory, "the ACME directory it is for (default: any)");
    create->add_option("--description", o->description, "who it is for");
    create->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            auth::EabKeyRequest r{o->team, o->directory, o->description};
            CW_ASSIGN_OR_RETURN(auto created, c.eab().create(r, c.actor()));
            json j = api::eab_key_json(created.info);
            j["hmac_key"] = created.hmac_key;
            return j;
          },
          [o](const Remote& r) {
            json body = {{"team", o->team}, {"description", o->description}};
            if (o->directory) body["directory"] = *o->directory;
            return r.post("/api/v1/acme/eab", body);
          },
          print_created);
    });
  }
  {
    auto team = std::make_shared<std::optional<std::string>>();
    auto* list = eab->add_subcommand("list", "list EAB keys (never their HMAC keys)");
    list->add_option("--team", *team, "only this team's keys");
    list->callback([&g, team] {
      run_either(
          g,
          [team](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto keys, c.eab().list(*team));
            json items = json::array();
            for (const auto& k : keys) items.push_back(api::eab_key_json(k));
            return json{{"items", items}};
          },
          [team](const Remote& r) {
            return r.get("/api/v1/acme/eab" + (*team ? "?team=" + **team : std::string()));
          },
          print_keys);
    });
  }
  {
    auto kid = std::make_shared<std::string>();
    auto* revoke = eab->add_subcommand("revoke", "revoke an EAB key: it binds no more accounts");
    revoke->add_option("kid", *kid, "the key id")->required();
    revoke->callback([&g, kid] {
      run_either(
          g,
          [kid](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto info, c.eab().revoke(*kid, c.actor()));
            return api::eab_key_json(info);
          },
          [kid](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/acme/eab/" + *kid));
            return json{{"kid", *kid}, {"revoked", true}};
          },
          print_keys);
    });
  }
}

}  // namespace certward::cli
