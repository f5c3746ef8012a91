// ACME administration: external account binding keys (`certward acme eab create|list|revoke`)
// and directories (`certward acme directory list|show|set|delete`), locally or through --server.

#include "api/json.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "protocols/acme/directories.h"

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

void print_directories(const json& doc) {
  Table t({"NAME", "PATH", "SOURCE", "PROFILES", "AUTHORITY", "EAB"});
  const json items = doc.contains("items") ? doc["items"] : json::array({doc});
  for (const auto& d : items) {
    std::string profiles;
    for (const auto& p : d.value("profiles", json::array())) {
      if (!profiles.empty()) profiles += ",";
      profiles += p.is_string() ? p.get<std::string>() : "?";
    }
    const std::string name = d.value("name", std::string());
    t.add({name.empty() ? "(default)" : name, text(d, "path"),
           d.value("configured", false) ? "config" : "api", profiles,
           d.value("authority", std::string()).empty() ? "(default)" : text(d, "authority"),
           d.value("external_account_required", false) ? "required" : "-"});
  }
  t.print();
}

// The directories of the local data directory, with the checks `certward serve` makes.
Result<std::unique_ptr<protocols::acme::Directories>> local_directories(Context& c) {
  auto dirs = std::make_unique<protocols::acme::Directories>(
      c.clock(), c.db(), c.config().acme, c.audit(), [&c](const AcmeDirectorySettings& d) {
        return protocols::acme::check_usable(d, c.profiles(), c.authorities());
      });
  CW_RETURN_IF_ERROR(dirs->start());
  return dirs;
}

void add_directory_commands(CLI::App& acme, Globals& g) {
  auto* dir = acme.add_subcommand(
      "directory", "ACME directories: those of the configuration file, and those made here");
  dir->require_subcommand(1);
  {
    auto* list = dir->add_subcommand("list", "list the ACME directories, the default one first");
    list->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto dirs, local_directories(c));
            CW_ASSIGN_OR_RETURN(auto all, dirs->list());
            json items = json::array();
            for (const auto& r : all) items.push_back(protocols::acme::directory_json(r));
            return json{{"items", items}};
          },
          [](const Remote& r) { return r.get("/api/v1/acme/directories"); }, print_directories);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* show = dir->add_subcommand("show", "one ACME directory");
    show->add_option("name", *name, "the directory's name")->required();
    show->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto dirs, local_directories(c));
            CW_ASSIGN_OR_RETURN(auto r, dirs->get(*name));
            return protocols::acme::directory_json(r);
          },
          [name](const Remote& r) {
            return r.get("/api/v1/acme/directories/" + url_encode(*name));
          },
          print_directories);
    });
  }
  {
    struct Opts {
      std::string name;
      std::vector<std::string> profiles, caa;
      std::string default_profile, authority, tos, website;
      bool eab = false;
    };
    auto o = std::make_shared<Opts>();
    auto* set = dir->add_subcommand(
        "set", "make an ACME directory, or replace all of its settings (served at once)");
    set->add_option("name", o->name, "its name: served at /acme/<name>/directory")->required();
    set->add_option("--profile", o->profiles, "a profile newOrder may select (repeatable)")
        ->required()
        ->allow_extra_args(false);
    set->add_option("--default-profile", o->default_profile,
                    "the profile of orders that select none (default: the first --profile)");
    set->add_option("--authority", o->authority, "the issuing authority (default: the default)");
    set->add_flag("--eab-required", o->eab, "accounts must be bound to an EAB key");
    set->add_option("--terms-of-service", o->tos, "URL clients must agree to");
    set->add_option("--website", o->website, "URL in the directory's meta");
    set->add_option("--caa-identity", o->caa, "a domain name for CAA records (repeatable)")
        ->allow_extra_args(false);
    set->callback([&g, o] {
      AcmeDirectorySettings s;
      s.name = o->name;
      s.profiles = o->profiles;
      s.default_profile = o->default_profile;
      s.authority = o->authority;
      s.external_account_required = o->eab;
      s.terms_of_service = o->tos;
      s.website = o->website;
      s.caa_identities = o->caa;
      run_either(
          g,
          [s](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto dirs, local_directories(c));
            CW_ASSIGN_OR_RETURN(auto put, dirs->put(s, c.actor()));
            return protocols::acme::directory_json(put.record);
          },
          [s](const Remote& r) {
            json body = protocols::acme::settings_json(s);
            body.erase("name");
            return r.put("/api/v1/acme/directories/" + url_encode(s.name), body);
          },
          print_directories);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* del = dir->add_subcommand(
        "delete", "delete an ACME directory made here: its URLs stop answering; accounts stay");
    del->add_option("name", *name, "the directory's name")->required();
    del->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto dirs, local_directories(c));
            CW_RETURN_IF_ERROR(dirs->remove(*name, c.actor()));
            return json{{"name", *name}, {"deleted", true}};
          },
          [name](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/acme/directories/" + url_encode(*name)));
            return json{{"name", *name}, {"deleted", true}};
          },
          [](const json& doc) { std::cout << "deleted " << text(doc, "name") << "\n"; });
    });
  }
}

}  // namespace

void add_acme_commands(CLI::App& app, Globals& g) {
  auto* acme = app.add_subcommand("acme", "ACME server administration");
  acme->require_subcommand(1);
  add_directory_commands(*acme, g);
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
