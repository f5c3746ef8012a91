// Managed certificates from the command line: `certward managed create|list|show|timeline|
// renew|delete|alerts`, against the data directory or a server (--server). The local commands
// call the same lifecycle::ManagedService a server does, as an unscoped local operator; the
// reconciliation itself runs on the servers (or here, with `renew --here`).

#include <filesystem>

#include "cli/commands.h"
#include "cli/output.h"
#include "lifecycle/reconciler.h"
#include "lifecycle/service.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

void print_managed(const json& m) {
  std::cout << "managed certificate " << text(m, "name") << " (" << text(m, "id") << ")\n"
            << "  state:        " << text(m, "state") << "\n"
            << "  names:        " << m.value("sans", json::array()).dump() << "\n"
            << "  profile:      " << text(m, "profile") << "  authority: " << text(m, "authority")
            << "\n  key:          " << m.value("key", json::object()).dump() << "\n"
            << "  certificate:  " << text(m, "fingerprint") << "\n"
            << "  not after:    " << text(m, "not_after") << "  renew at: " << text(m, "renew_at")
            << "\n  deployed:     " << (m.value("deployed", false) ? "yes" : "no") << " ("
            << m.value("targets", json::array()).size() << " targets)\n"
            << "  team:         " << text(m, "team") << "  owner: " << text(m, "owner") << "\n";
  if (!json_text(m, "last_error").empty()) {
    std::cout << "  last error:   " << printable(json_text(m, "last_error")) << " (attempts "
              << m.value("attempts", 0) << ")\n";
  }
  if (m.contains("timeline")) {
    Table t({"SEQ", "AT", "KIND", "ACTOR", "DETAIL"});
    for (const auto& e : m["timeline"]) {
      std::string detail = e.value("detail", json::object()).dump();
      if (detail.size() > 100) detail = detail.substr(0, 97) + "...";
      t.add({std::to_string(e.value("seq", 0)), text(e, "at"), text(e, "kind"), text(e, "actor"),
             printable(detail)});
    }
    t.print();
  }
}

void print_list(const json& doc) {
  Table t({"NAME", "ID", "STATE", "NOT AFTER", "RENEW AT", "TEAM", "ERROR"});
  for (const auto& m : doc["items"]) {
    t.add({text(m, "name"), text(m, "id"), text(m, "state"), text(m, "not_after"),
           text(m, "renew_at"), text(m, "team"), printable(json_text(m, "last_error", "-"))});
  }
  t.print();
  if (doc.contains("next_cursor") && doc["next_cursor"].is_string()) {
    std::cout << "(more: --cursor " << doc["next_cursor"].get<std::string>() << ")\n";
  }
}

void print_alerts(const json& doc) {
  Table t({"AT", "SEVERITY", "KIND", "MANAGED", "MESSAGE"});
  for (const auto& a : doc["items"]) {
    t.add({text(a, "at"), text(a, "severity"), text(a, "kind"), text(a, "managed_name"),
           printable(text(a, "message"))});
  }
  t.print();
}

struct CreateOpts {
  std::string name, cn, profile, authority, key_type, renew_before, validity, owner, team, adopt;
  std::string spec;
  std::vector<std::string> sans, targets, tags;
  bool keep_key = false;
};

// The spec as a REST body: what --spec gives, then each flag given.
Result<json> body_of(const CreateOpts& o) {
  json j = json::object();
  if (!o.spec.empty()) {
    j = json::parse(o.spec, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return fail(ErrorCode::kMalformed, "--spec is not a JSON object");
    }
  }
  j["name"] = o.name;
  auto set = [&j](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  set("common_name", o.cn);
  set("profile", o.profile);
  set("authority", o.authority);
  set("renew_before", o.renew_before);
  set("validity", o.validity);
  set("owner", o.owner);
  set("team", o.team);
  set("adopt", o.adopt);
  if (!o.sans.empty()) j["sans"] = o.sans;
  if (!o.tags.empty()) j["tags"] = o.tags;
  if (!o.key_type.empty() || o.keep_key) {
    json key = j.value("key", json::object());
    if (!o.key_type.empty()) key["type"] = o.key_type;
    if (o.keep_key) key["rotate"] = false;
    j["key"] = key;
  }
  if (!o.targets.empty()) {
    json targets = json::array();
    for (const auto& t : o.targets) {
      // A target is JSON, or @file with the JSON in it.
      std::string doc = t;
      if (t.starts_with('@')) {
        CW_ASSIGN_OR_RETURN(doc, read_file(t.substr(1)));
      }
      json target = json::parse(doc, nullptr, false);
      if (target.is_discarded()) return fail(ErrorCode::kMalformed, "--target is not JSON");
      targets.push_back(std::move(target));
    }
    j["targets"] = targets;
  }
  return j;
}

void add_create(CLI::App* managed, Globals& g) {
  auto o = std::make_shared<CreateOpts>();
  auto* cmd = managed->add_subcommand("create", "create a managed certificate");
  cmd->add_option("name", o->name, "its name (a-z, 0-9, '.', '_', '-')")->required();
  cmd->add_option("--san", o->sans, "a name: dns:, ip:, email:, uri: or a bare DNS name");
  cmd->add_option("--cn", o->cn, "the common name (default: the first DNS name)");
  cmd->add_option("--profile", o->profile, "the profile (default tls-server)");
  cmd->add_option("--authority", o->authority, "the issuing authority (default: the default)");
  cmd->add_option("--key-type", o->key_type, "ec-p256, ec-p384, rsa-2048, ... (default ec-p256)");
  cmd->add_flag("--keep-key", o->keep_key, "reuse the key at renewal (default: a new key)");
  cmd->add_option("--renew-before", o->renew_before,
                  "renew this long before expiry (default: a third of the lifetime)");
  cmd->add_option("--validity", o->validity, "the lifetime (default: the profile's)");
  cmd->add_option("--target", o->targets, "a deployment target as JSON, or @file (repeatable)");
  cmd->add_option("--owner", o->owner, "owner");
  cmd->add_option("--team", o->team, "team");
  cmd->add_option("--tag", o->tags, "a tag (repeatable)")->allow_extra_args(false);
  cmd->add_option("--adopt", o->adopt, "take over the renewal of this inventory certificate");
  cmd->add_option("--spec", o->spec, "the whole managed certificate as JSON (flags override)");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto body, body_of(*o));
          CW_ASSIGN_OR_RETURN(auto spec, lifecycle::parse_managed_spec(body));
          CW_ASSIGN_OR_RETURN(auto m, c.managed().create(std::move(spec), c.requester()));
          return lifecycle::managed_json(m);
        },
        [o](const Remote& r) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto body, body_of(*o));
          return r.post("/api/v1/managed", body);
        },
        print_managed);
  });
}

void add_list(CLI::App* managed, Globals& g) {
  struct Opts {
    std::string state, team, cursor;
    int limit = 100;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = managed->add_subcommand("list", "list managed certificates, by name");
  cmd->add_option("--state", o->state, "pending, issuing, active, renewing, failed, deleted");
  cmd->add_option("--team", o->team, "only this team's");
  cmd->add_option("--limit", o->limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->add_option("--cursor", o->cursor, "continue after a previous page");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          lifecycle::ManagedFilter f;
          if (!o->state.empty()) {
            CW_ASSIGN_OR_RETURN(f.state, lifecycle::parse_managed_state(o->state));
          }
          if (!o->team.empty()) f.team = o->team;
          if (!o->cursor.empty()) f.cursor = o->cursor;
          f.limit = o->limit;
          CW_ASSIGN_OR_RETURN(auto page, c.managed().list(f, c.requester()));
          json items = json::array();
          for (const auto& m : page.items) items.push_back(lifecycle::managed_json(m));
          return json{{"items", items},
                      {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
        },
        [o](const Remote& r) {
          std::string q = "?limit=" + std::to_string(o->limit);
          if (!o->state.empty()) q += "&state=" + url_encode(o->state);
          if (!o->team.empty()) q += "&team=" + url_encode(o->team);
          if (!o->cursor.empty()) q += "&cursor=" + url_encode(o->cursor);
          return r.get("/api/v1/managed" + q);
        },
        print_list);
  });
}

// show (with its timeline) and timeline.
void add_show(CLI::App* managed, Globals& g, const char* name, bool whole) {
  auto id = std::make_shared<std::string>();
  auto* cmd = managed->add_subcommand(
      name, whole ? "a managed certificate and its timeline" : "a managed certificate's timeline");
  cmd->add_option("id", *id, "its id or name")->required();
  cmd->callback([&g, id, whole] {
    run_either(
        g,
        [id, whole](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto m, c.managed().get(*id, c.requester()));
          CW_ASSIGN_OR_RETURN(auto events, c.managed().timeline(m.id, 100, c.requester()));
          json timeline = json::array();
          for (const auto& e : events) timeline.push_back(lifecycle::managed_event_json(e));
          json j = whole ? lifecycle::managed_json(m) : json{{"id", m.id}, {"name", m.spec.name}};
          j["timeline"] = timeline;
          return j;
        },
        [id, whole](const Remote& r) -> Result<json> {
          const std::string path = "/api/v1/managed/" + url_encode(*id);
          json j = json::object();
          if (whole) {
            CW_ASSIGN_OR_RETURN(j, r.get(path));
          }
          CW_ASSIGN_OR_RETURN(auto timeline, r.get(path + "/timeline"));
          if (!whole) j = {{"id", *id}, {"name", *id}};
          j["timeline"] = timeline.value("items", json::array());
          return j;
        },
        print_managed);
  });
}

void add_renew(CLI::App* managed, Globals& g) {
  struct Opts {
    std::string id;
    bool rotate = false, here = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = managed->add_subcommand("renew", "renew a managed certificate now");
  cmd->add_option("id", o->id, "its id or name")->required();
  cmd->add_flag("--rotate-key", o->rotate, "with a new key, whatever the key policy says");
  cmd->add_flag("--here", o->here,
                "issue and deploy in this process now instead of leaving it to the servers");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto m, c.managed().renew(o->id, o->rotate, c.requester()));
          if (o->here) {
            CW_RETURN_IF_ERROR(c.reconciler().reconcile(m.id));
            CW_ASSIGN_OR_RETURN(m, c.managed().get(m.id, c.requester()));
          }
          return lifecycle::managed_json(m);
        },
        [o](const Remote& r) -> Result<json> {
          if (o->here) {
            return fail(ErrorCode::kInvalidArgument,
                        "--here is for the data directory: a "
                        "server renews on its own");
          }
          return r.post("/api/v1/managed/" + url_encode(o->id) + "/renew",
                        {{"rotate_key", o->rotate}});
        },
        print_managed);
  });
}

void add_delete(CLI::App* managed, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = managed->add_subcommand(
      "delete", "stop managing a certificate (its files stay where they were deployed)");
  cmd->add_option("id", *id, "its id or name")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_RETURN_IF_ERROR(c.managed().remove(*id, c.requester()));
          return json{{"id", *id}, {"deleted", true}};
        },
        [id](const Remote& r) -> Result<json> {
          CW_RETURN_IF_ERROR(r.del("/api/v1/managed/" + url_encode(*id)));
          return json{{"id", *id}, {"deleted", true}};
        },
        [](const json& j) { std::cout << "deleted " << json_text(j, "id") << "\n"; });
  });
}

void add_alerts(CLI::App* managed, Globals& g) {
  auto limit = std::make_shared<int>(100);
  auto* cmd = managed->add_subcommand("alerts", "failures that raised alerts, newest first");
  cmd->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->callback([&g, limit] {
    run_either(
        g,
        [limit](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto alerts, c.managed().alerts(*limit, {}, c.requester()));
          json items = json::array();
          for (const auto& a : alerts) items.push_back(lifecycle::alert_json(a));
          return json{{"items", items}};
        },
        [limit](const Remote& r) {
          return r.get("/api/v1/alerts?limit=" + std::to_string(*limit));
        },
        print_alerts);
  });
}

}  // namespace

void add_managed_commands(CLI::App& app, Globals& g) {
  auto* managed = app.add_subcommand(
      "managed", "managed certificates: issued, renewed and deployed by certward");
  managed->require_subcommand(1);
  add_create(managed, g);
  add_list(managed, g);
  add_show(managed, g, "show", true);
  add_show(managed, g, "timeline", false);
  add_renew(managed, g);
  add_delete(managed, g);
  add_alerts(managed, g);
}

}  // namespace certward::cli
