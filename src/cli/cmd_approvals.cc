// Approval requests from the command line: `certward approvals list|show|approve|reject|cancel`,
// against the data directory or a server (--server). The local commands call the same
// ca::ApprovalService a server does, as the local operator (who, like anyone, cannot approve
// a request it made).

#include "cli/commands.h"
#include "cli/output.h"

namespace certward::cli {
namespace {

using nlohmann::json;

// Every field, as the server sent it, is text for a terminal: escaped, whoever wrote it.
std::string text(const json& j, const char* key) { return printable(json_text(j, key, "-")); }

void print_list(const json& j) {
  Table t({"ID", "STATUS", "PROFILE", "TEAM", "REQUESTER", "SUBJECT", "EXPIRES", "CERTIFICATE"});
  for (const auto& r : j.value("items", json::array())) {
    t.add({text(r, "id"), text(r, "status"), text(r, "profile"), text(r, "team"),
           text(r, "requester"), text(r, "subject"), text(r, "expires_at"),
           text(r, "certificate")});
  }
  t.print();
  if (j.contains("next_cursor") && j["next_cursor"].is_string()) {
    std::fprintf(stderr, "more: --cursor %s\n",
                 printable(j["next_cursor"].get<std::string>()).c_str());
  }
}

void print_one(const json& r) {
  auto line = [&](const char* label, const std::string& value) {
    std::printf("%-13s %s\n", label, printable(value).c_str());
  };
  line("id", text(r, "id"));
  line("status", text(r, "status"));
  line("profile", text(r, "profile"));
  line("authority", text(r, "authority"));
  line("team", text(r, "team"));
  line("requester", text(r, "requester") + " (" + text(r, "requested_by") + ")");
  line("subject", text(r, "subject"));
  std::string sans;
  for (const auto& s : r.value("sans", json::array())) {
    if (s.is_string()) sans += (sans.empty() ? "" : ", ") + s.get<std::string>();
  }
  line("names", sans.empty() ? "- (the CSR's)" : sans);
  line("key", text(r, "key"));
  line("validity", text(r, "validity"));
  line("created", text(r, "created_at"));
  line("expires", text(r, "expires_at"));
  line("decided by", text(r, "decided_by"));
  line("decided", text(r, "decided_at"));
  line("reason", text(r, "reason"));
  line("certificate", text(r, "certificate"));
}

std::string path_of(const std::string& id) { return "/api/v1/approvals/" + url_encode(id); }

struct ListOpts {
  std::string status, team, cursor;
  int limit = 50;
};

void add_list(CLI::App* group, Globals& g) {
  auto o = std::make_shared<ListOpts>();
  auto* cmd = group->add_subcommand("list", "approval requests, newest first");
  cmd->add_option("--status", o->status, "pending|issued|rejected|cancelled|expired");
  cmd->add_option("--team", o->team, "one team's requests");
  cmd->add_option("--limit", o->limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->add_option("--cursor", o->cursor, "the next page, as the previous one printed it");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          ca::ApprovalFilter f;
          if (!o->status.empty()) {
            CW_ASSIGN_OR_RETURN(f.status, ca::parse_approval_status(o->status));
          }
          if (!o->team.empty()) f.team = o->team;
          if (!o->cursor.empty()) f.cursor = o->cursor;
          f.limit = o->limit;
          CW_ASSIGN_OR_RETURN(auto page, c.approvals().list(f, c.requester()));
          json items = json::array();
          for (const auto& r : page.items) items.push_back(ca::approval_json(r));
          return json{{"items", std::move(items)},
                      {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
        },
        [o](const Remote& r) {
          std::string path = "/api/v1/approvals?limit=" + std::to_string(o->limit);
          if (!o->status.empty()) path += "&status=" + url_encode(o->status);
          if (!o->team.empty()) path += "&team=" + url_encode(o->team);
          if (!o->cursor.empty()) path += "&cursor=" + url_encode(o->cursor);
          return r.get(path);
        },
        print_list);
  });
}

void add_show(CLI::App* group, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("show", "one approval request, its CSR's subject and names");
  cmd->add_option("id", *id, "the request's id")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto r, c.approvals().get(*id, c.requester()));
          return ca::approval_json(r);
        },
        [id](const Remote& r) { return r.get(path_of(*id)); }, print_one);
  });
}

void add_approve(CLI::App* group, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("approve", "approve a pending request: it is issued now");
  cmd->add_option("id", *id, "the request's id")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto a, c.approvals().approve(*id, c.requester()));
          json j = ca::approval_json(a.request);
          j["serial"] = a.issued.certificate.info().serial_hex;
          return j;
        },
        [id](const Remote& r) { return r.post(path_of(*id) + "/approve", json::object()); },
        [](const json& j) {
          std::printf("approved %s: issued certificate %s (serial %s)\n", text(j, "id").c_str(),
                      text(j, "certificate").c_str(), text(j, "serial").c_str());
        });
  });
}

// reject and cancel: a decision with a reason.
void add_decision(CLI::App* group, Globals& g, const char* name, const char* help,
                  bool reason_required) {
  auto id = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand(name, help);
  cmd->add_option("id", *id, "the request's id")->required();
  auto* opt = cmd->add_option("--reason", *reason, "why (at most 1024 bytes, one line)");
  if (reason_required) opt->required();
  const std::string verb = name;
  cmd->callback([&g, id, reason, verb] {
    run_either(
        g,
        [id, reason, verb](Context& c) -> Result<json> {
          auto r = verb == "reject" ? c.approvals().reject(*id, *reason, c.requester())
                                    : c.approvals().cancel(*id, *reason, c.requester());
          CW_ASSIGN_OR_RETURN(auto v, std::move(r));
          return ca::approval_json(v);
        },
        [id, reason, verb](const Remote& r) {
          json body = json::object();
          if (!reason->empty() || verb == "reject") body["reason"] = *reason;
          return r.post(path_of(*id) + "/" + verb, body);
        },
        [](const json& j) {
          std::printf("%s %s\n", text(j, "id").c_str(), text(j, "status").c_str());
        });
  });
}

}  // namespace

void add_approval_commands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand(
      "approvals", "certificate requests waiting for an approver (docs/governance.md)");
  group->require_subcommand(1);
  add_list(group, g);
  add_show(group, g);
  add_approve(group, g);
  add_decision(group, g, "reject", "reject a pending request: it is never issued", true);
  add_decision(group, g, "cancel", "withdraw a pending request you made", false);
}

}  // namespace certward::cli
