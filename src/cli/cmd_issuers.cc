// issuers list|show|check: every issuer (certward's authorities and the upstream CAs of
// [issuers.<name>]) with what it supports and its health (docs/issuers.md).

#include "cli/commands.h"
#include "issuers/registry.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

void print_issuers(const json& doc) {
  const json& list = doc.contains("items") ? doc["items"] : json::array({doc});
  Table t({"NAME", "TYPE", "HEALTH", "LAST ERROR", "ENDPOINT"});
  for (const auto& i : list) {
    const json health = i.value("health", json::object());
    t.add({text(i, "name"), text(i, "type"), text(health, "state"), text(health, "last_error"),
           text(i, "endpoint")});
  }
  t.print();
}

}  // namespace

void add_issuer_commands(CLI::App& app, Globals& g) {
  auto* issuers = app.add_subcommand(
      "issuers", "the issuers: certward's authorities and upstream CAs (docs/issuers.md)");
  issuers->require_subcommand(1);
  {
    auto* cmd = issuers->add_subcommand("list", "list issuers with their health");
    cmd->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto all, c.issuers().list());
            json items = json::array();
            for (const auto& v : all) items.push_back(issuers::issuer_json(v));
            return json{{"items", items}};
          },
          [](const Remote& r) { return r.get("/api/v1/issuers"); }, print_issuers);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = issuers->add_subcommand("show", "one issuer: what it supports, its health");
    cmd->add_option("name", *name, "issuer name")->required();
    cmd->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto v, c.issuers().describe(*name));
            return issuers::issuer_json(v);
          },
          [name](const Remote& r) { return r.get("/api/v1/issuers/" + url_encode(*name)); },
          print_issuers);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = issuers->add_subcommand(
        "check", "ask an upstream CA now whether it answers (its directory, CFSSL's info)");
    cmd->add_option("name", *name, "issuer name")->required();
    cmd->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto v, c.issuers().check(*name));
            return issuers::issuer_json(v);
          },
          [name](const Remote& r) {
            return r.post("/api/v1/issuers/" + url_encode(*name) + "/check", json::object());
          },
          print_issuers);
    });
  }
}

}  // namespace certward::cli
