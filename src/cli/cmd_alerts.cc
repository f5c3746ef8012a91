// Alerts from the command line: `certward alerts list|silence|silences|unsilence`, against the
// data directory or a server (--server). The local commands call the same
// lifecycle::alerts::AlertService a server does, as an unscoped local operator.

#include "cli/commands.h"
#include "cli/output.h"
#include "lifecycle/alerts/evaluator.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

std::string deliveries_of(const json& a) {
  std::string out;
  for (const auto& d : a.value("deliveries", json::array())) {
    if (!out.empty()) out += " ";
    out += json_text(d, "channel", "?") + ":" + json_text(d, "state", "?");
    if (d.value("attempts", 0) > 1) out += "(" + std::to_string(d.value("attempts", 0)) + ")";
  }
  return out.empty() ? "-" : out;
}

void print_alerts(const json& doc) {
  Table t({"AT", "SEVERITY", "KIND", "SUBJECT", "DELIVERIES", "MESSAGE"});
  for (const auto& a : doc["items"]) {
    std::string subject = json_text(a, "managed_name", "");
    if (subject.empty()) subject = json_text(a, "fingerprint", "-").substr(0, 16);
    t.add({text(a, "at"), text(a, "severity"), text(a, "kind"), printable(subject),
           printable(deliveries_of(a)), printable(text(a, "message"))});
  }
  t.print();
}

void print_silences(const json& doc) {
  Table t({"ID", "CERTIFICATE", "TEAM", "UNTIL", "BY", "REASON"});
  for (const auto& s : doc["items"]) {
    t.add({text(s, "id"), text(s, "fingerprint"), text(s, "team"), text(s, "until"),
           text(s, "created_by"), printable(text(s, "reason"))});
  }
  t.print();
}

void add_list(CLI::App* alerts, Globals& g) {
  auto limit = std::make_shared<int>(100);
  auto* cmd = alerts->add_subcommand("list", "alerts raised, newest first, with their deliveries");
  cmd->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->callback([&g, limit] {
    run_either(
        g,
        [limit](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto list, c.alerts().list(*limit, {}, c.requester()));
          json items = json::array();
          for (const auto& a : list) items.push_back(lifecycle::alert_json(a));
          return json{{"items", items}};
        },
        [limit](const Remote& r) {
          return r.get("/api/v1/alerts?limit=" + std::to_string(*limit));
        },
        print_alerts);
  });
}

struct SilenceOpts {
  std::string certificate, team, until, reason;
};

// "7d" is from now; otherwise an RFC 3339 time.
Result<SysTime> until_of(const std::string& text, SysTime now) {
  if (auto t = parse_time(text)) return *t;
  auto d = parse_duration(text);
  if (!d) return fail(ErrorCode::kInvalidArgument, "--until must be a time or a duration (7d)");
  return now + *d;
}

void add_silence(CLI::App* alerts, Globals& g) {
  auto o = std::make_shared<SilenceOpts>();
  auto* cmd =
      alerts->add_subcommand("silence", "raise no alert for a certificate or a team until a time");
  auto* cert = cmd->add_option("--certificate", o->certificate, "fingerprint, prefix or serial");
  auto* team = cmd->add_option("--team", o->team, "every certificate of this team");
  cert->excludes(team);
  cmd->add_option("--until", o->until, "a time (RFC 3339) or a duration from now (7d)")->required();
  cmd->add_option("--reason", o->reason, "why, for the record");
  cmd->callback([&g, o] {
    if (o->certificate.empty() == o->team.empty()) {
      throw CLI::ValidationError("give --certificate or --team");
    }
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          lifecycle::alerts::SilenceRequest r;
          if (!o->certificate.empty()) r.certificate = o->certificate;
          if (!o->team.empty()) r.team = o->team;
          CW_ASSIGN_OR_RETURN(r.until, until_of(o->until, c.clock().now()));
          r.reason = o->reason;
          CW_ASSIGN_OR_RETURN(auto s, c.alerts().silence(r, c.requester()));
          return lifecycle::alerts::silence_json(s);
        },
        [o](const Remote& r) {
          json body = {{"until", o->until}, {"reason", o->reason}};
          if (!o->certificate.empty()) body["certificate"] = o->certificate;
          if (!o->team.empty()) body["team"] = o->team;
          return r.post("/api/v1/alerts/silences", body);
        },
        [](const json& j) {
          std::cout << "silenced until " << json_text(j, "until", "-") << " ("
                    << json_text(j, "id", "-") << ")\n";
        });
  });
}

void add_silences(CLI::App* alerts, Globals& g) {
  auto* cmd = alerts->add_subcommand("silences", "the silences in force");
  cmd->callback([&g] {
    run_either(
        g,
        [](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto list, c.alerts().silences(c.requester()));
          json items = json::array();
          for (const auto& s : list) items.push_back(lifecycle::alerts::silence_json(s));
          return json{{"items", items}};
        },
        [](const Remote& r) { return r.get("/api/v1/alerts/silences"); }, print_silences);
  });
}

void add_unsilence(CLI::App* alerts, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = alerts->add_subcommand("unsilence", "end a silence now");
  cmd->add_option("id", *id, "the silence's id")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_RETURN_IF_ERROR(c.alerts().unsilence(*id, c.requester()));
          return json{{"id", *id}, {"deleted", true}};
        },
        [id](const Remote& r) -> Result<json> {
          CW_RETURN_IF_ERROR(r.del("/api/v1/alerts/silences/" + url_encode(*id)));
          return json{{"id", *id}, {"deleted", true}};
        },
        [](const json& j) { std::cout << "unsilenced " << json_text(j, "id") << "\n"; });
  });
}

// One evaluation here, now, over the data directory's inventory (what the servers' recurring
// job does): for an operator who wants the alerts raised at once, and for the benchmark. The
// deliveries it schedules are sent by the servers.
void add_evaluate(CLI::App* alerts, Globals& g) {
  auto* cmd = alerts->add_subcommand(
      "evaluate", "raise due expiry, discovery-change and (with --policy) policy alerts now "
                  "(local only)");
  auto policy = std::make_shared<bool>(false);
  cmd->add_flag("--policy", *policy, "also look for new policy violations");
  cmd->callback([&g, policy] {
    run_either(
        g,
        [policy](Context& c) -> Result<json> {
          const auto start = std::chrono::steady_clock::now();
          CW_ASSIGN_OR_RETURN(auto r, c.alerts().evaluate());
          std::int64_t violations = 0;
          if (*policy) {
            CW_ASSIGN_OR_RETURN(violations, c.alerts().evaluate_policy());
          }
          const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
          return json{{"examined", r.examined},
                      {"reached", r.reached},
                      {"raised", r.raised},
                      {"violations_told", violations},
                      {"seconds", took.count()}};
        },
        [](const Remote&) -> Result<json> {
          return fail(ErrorCode::kInvalidArgument,
                      "alerts evaluate runs on the data directory; the servers evaluate on their "
                      "own");
        },
        [](const json& j) {
          std::cout << "examined " << j.value("examined", 0) << ", at a threshold "
                    << j.value("reached", 0) << ", raised " << j.value("raised", 0)
                    << ", new policy violations " << j.value("violations_told", 0) << " in "
                    << j.value("seconds", 0.0) << " s\n";
        });
  });
}

}  // namespace

void add_alert_commands(CLI::App& app, Globals& g) {
  auto* alerts = app.add_subcommand("alerts", "alerts raised and sent, and their silences");
  alerts->require_subcommand(1);
  add_list(alerts, g);
  add_silence(alerts, g);
  add_silences(alerts, g);
  add_unsilence(alerts, g);
  add_evaluate(alerts, g);
}

}  // namespace certward::cli
