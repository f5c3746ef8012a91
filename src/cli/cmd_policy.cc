// Compliance policies from the command line: `certward policy rules|add|delete|violations`,
// against the data directory or a server (--server). The local commands call the same
// policy::PolicyService a server does, as the local operator.

#include "cli/commands.h"
#include "cli/output.h"
#include "policy/service.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

std::string join(const json& list) {
  std::string out;
  if (!list.is_array()) return "-";
  for (const auto& item : list) {
    if (!item.is_string()) continue;
    out += (out.empty() ? "" : ",") + item.get<std::string>();
  }
  return out.empty() ? "-" : out;
}

void print_rules(const json& j) {
  Table t({"ID", "KIND", "SEVERITY", "ENABLED", "TEAMS", "TAGS", "SOURCE"});
  for (const auto& r : j.value("items", json::array())) {
    t.add({printable(text(r, "id")), text(r, "kind"), text(r, "severity"),
           r.value("enabled", true) ? "yes" : "no", printable(join(r.value("teams", json()))),
           printable(join(r.value("tags", json()))), text(r, "source")});
  }
  t.print();
}

void print_violations(const json& j) {
  Table t({"RULE", "SEVERITY", "TYPE", "SUBJECT", "TEAM", "FINGERPRINT", "WHY"});
  for (const auto& v : j.value("items", json::array())) {
    t.add({printable(text(v, "rule")), text(v, "severity"), text(v, "subject_type"),
           printable(text(v, "subject")), printable(text(v, "team")),
           printable(text(v, "subject_id")), printable(text(v, "message"))});
  }
  t.print();
}

void add_rules(CLI::App* group, Globals& g) {
  auto* cmd = group->add_subcommand("rules", "the compliance rules, declared and stored");
  cmd->callback([&g] {
    run_either(
        g,
        [](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto rules, c.policy().list());
          json items = json::array();
          for (const auto& r : rules) items.push_back(policy::rule_json(r));
          return json{{"items", std::move(items)}};
        },
        [](const Remote& r) { return r.get("/api/v1/policy/rules"); }, print_rules);
  });
}

void add_add(CLI::App* group, Globals& g) {
  auto file = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("add", "store a rule given as a JSON document (docs/governance.md)");
  cmd->add_option("file", *file, "the rule's JSON (\"-\": standard input)")->required();
  cmd->callback([&g, file] {
    auto body = [file]() -> Result<json> {
      CW_ASSIGN_OR_RETURN(auto text, read_file(*file));
      auto j = json::parse(text, nullptr, false);
      if (j.is_discarded()) return fail(ErrorCode::kMalformed, *file + " is not JSON");
      return j;
    };
    run_either(
        g,
        [body](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto j, body());
          CW_ASSIGN_OR_RETURN(auto rule, c.policy().create(j, c.actor()));
          return policy::rule_json(rule);
        },
        [body](const Remote& r) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto j, body());
          return r.post("/api/v1/policy/rules", j);
        },
        [](const json& j) { std::printf("stored rule %s\n", printable(text(j, "id")).c_str()); });
  });
}

void add_delete(CLI::App* group, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("delete", "delete a stored rule");
  cmd->add_option("id", *id, "the rule's id")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_RETURN_IF_ERROR(c.policy().remove(*id, c.actor()));
          return json{{"id", *id}, {"deleted", true}};
        },
        [id](const Remote& r) -> Result<json> {
          CW_RETURN_IF_ERROR(r.del("/api/v1/policy/rules/" + url_encode(*id)));
          return json{{"id", *id}, {"deleted", true}};
        },
        [](const json& j) { std::printf("deleted rule %s\n", printable(text(j, "id")).c_str()); });
  });
}

struct ViolationOpts {
  std::string rule, severity, team;
  int limit = 100;
};

// Pages until `limit` violations or the end: a page may be short (the server's scan budget).
Result<json> gather(const ViolationOpts& o,
                    const std::function<Result<json>(int, const std::optional<std::string>&)>& page) {
  json items = json::array();
  std::optional<std::string> cursor;
  do {
    const int want = std::min(1000, o.limit - static_cast<int>(items.size()));
    CW_ASSIGN_OR_RETURN(json p, page(want, cursor));
    for (auto& v : p.value("items", json::array())) items.push_back(std::move(v));
    const auto next = p.find("next_cursor");
    cursor = next != p.end() && next->is_string() ? std::optional(next->get<std::string>())
                                                   : std::nullopt;
  } while (cursor && static_cast<int>(items.size()) < o.limit);
  return json{{"items", std::move(items)},
              {"next_cursor", cursor ? json(*cursor) : json(nullptr)}};
}

void add_violations(CLI::App* group, Globals& g) {
  auto o = std::make_shared<ViolationOpts>();
  auto* cmd = group->add_subcommand(
      "violations", "certificates and SSH keys that break a rule, over the whole inventory");
  cmd->add_option("--rule", o->rule, "one rule's violations");
  cmd->add_option("--severity", o->severity, "this severity and above (low|medium|high|critical)");
  cmd->add_option("--team", o->team, "one team's certificates and SSH keys");
  cmd->add_option("--limit", o->limit, "at most this many")->check(CLI::Range(1, 1000000));
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          policy::ViolationFilter f;
          if (!o->rule.empty()) f.rule = o->rule;
          if (!o->team.empty()) f.team = o->team;
          if (!o->severity.empty()) {
            CW_ASSIGN_OR_RETURN(f.min_severity, policy::parse_severity(o->severity));
          }
          return gather(*o, [&](int limit, const std::optional<std::string>& cursor) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto page, c.policy().violations(f, limit, cursor));
            json items = json::array();
            for (const auto& v : page.items) items.push_back(policy::violation_json(v));
            return json{{"items", std::move(items)},
                        {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
          });
        },
        [o](const Remote& r) -> Result<json> {
          std::string base = "/api/v1/policy/violations?";
          if (!o->rule.empty()) base += "rule=" + url_encode(o->rule) + "&";
          if (!o->severity.empty()) base += "severity=" + url_encode(o->severity) + "&";
          if (!o->team.empty()) base += "team=" + url_encode(o->team) + "&";
          return gather(*o, [&](int limit, const std::optional<std::string>& cursor) {
            std::string path = base + "limit=" + std::to_string(limit);
            if (cursor) path += "&cursor=" + url_encode(*cursor);
            return r.get(path);
          });
        },
        print_violations);
  });
}

}  // namespace

void add_policy_commands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand(
      "policy", "compliance rules and their violations (docs/governance.md)");
  group->require_subcommand(1);
  add_rules(group, g);
  add_add(group, g);
  add_delete(group, g);
  add_violations(group, g);
}

}  // namespace certward::cli
