// audit list|verify.

#include "cli/commands.h"

namespace certward::cli {

void add_audit_commands(CLI::App& app, Globals& g) {
  auto* audit = app.add_subcommand("audit", "read and verify the hash-chained audit log");
  audit->require_subcommand(1);
  {
    struct Opts {
      std::optional<std::string> actor, action, target, since;
      std::optional<std::int64_t> before_seq;
      int limit = 50;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = audit->add_subcommand("list", "list events, newest first");
    cmd->add_option("--actor", o->actor, "only this actor");
    cmd->add_option("--action", o->action, "only this action, e.g. certificate.issue");
    cmd->add_option("--target", o->target, "only this target id (fingerprint, authority name)");
    cmd->add_option("--since", o->since,
                    "only events at or after this time (RFC 3339 or YYYY-MM-DD)");
    cmd->add_option("--before-seq", o->before_seq, "continue below this sequence number");
    cmd->add_option("--limit", o->limit, "page size (1-1000)")->capture_default_str();
    cmd->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<nlohmann::json> {
            audit::EventFilter f;
            f.actor = o->actor;
            f.action = o->action;
            f.target_id = o->target;
            if (o->since) {
              CW_ASSIGN_OR_RETURN(f.since, parse_time(*o->since));
            }
            f.after_seq = o->before_seq;
            f.limit = o->limit;
            CW_ASSIGN_OR_RETURN(auto events, c.audit().list(f));
            nlohmann::json items = nlohmann::json::array();
            for (const auto& e : events) items.push_back(event_json(e));
            return nlohmann::json{{"items", items}};
          },
          [o](const Remote& r) {
            std::string q = "?limit=" + std::to_string(o->limit);
            if (o->actor) q += "&actor=" + url_encode(*o->actor);
            if (o->action) q += "&action=" + url_encode(*o->action);
            if (o->target) q += "&target_id=" + url_encode(*o->target);
            if (o->since) q += "&since=" + url_encode(*o->since);
            if (o->before_seq) q += "&before_seq=" + std::to_string(*o->before_seq);
            return r.get("/api/v1/audit/events" + q);
          },
          [](const nlohmann::json& doc) {
            Table t({"SEQ", "TIME", "ACTOR", "ACTION", "TARGET"});
            for (const auto& e : doc["items"]) {
              t.add({std::to_string(e.value("seq", 0)), e.value("time", ""), e.value("actor", ""),
                     e.value("action", ""),
                     e.value("target_type", "") + ":" + e.value("target_id", "").substr(0, 16)});
            }
            t.print();
          });
    });
  }
  {
    auto checkpoint_text = std::make_shared<std::optional<std::string>>();
    auto* cmd = audit->add_subcommand("verify", "recompute the hash chain; exit 8 if it is broken");
    cmd->add_option("--checkpoint", *checkpoint_text,
                    "SEQ:HASH printed by an earlier verify and kept outside certward; the chain "
                    "must still hold that event with that hash");
    cmd->callback([&g, checkpoint_text] {
      std::optional<audit::Checkpoint> checkpoint;
      if (*checkpoint_text) {
        auto parsed = audit::parse_checkpoint(**checkpoint_text);
        if (!parsed) {
          g.exit_code = report_error(parsed.error());
          return;
        }
        checkpoint = *parsed;
      }
      bool broken = false;
      run_either(
          g,
          [&](Context& c) -> Result<nlohmann::json> {
            CW_ASSIGN_OR_RETURN(auto report, c.audit().verify(checkpoint));
            broken = !report.ok;
            return api::verify_report_json(report, checkpoint.has_value());
          },
          [&](const Remote& r) -> Result<nlohmann::json> {
            std::string path = "/api/v1/audit/verify";
            if (checkpoint) path += "?checkpoint=" + url_encode(**checkpoint_text);
            CW_ASSIGN_OR_RETURN(auto j, r.get(path));
            broken = !j.value("ok", false);
            return j;
          },
          [](const nlohmann::json& j) {
            if (!j.value("ok", false)) {
              std::fprintf(stderr, "certward: audit chain broken at event %lld: %s\n",
                           j.value("first_bad_seq", 0LL), j.value("problem", "").c_str());
              return;
            }
            std::printf("audit chain intact: %lld events verified%s\n",
                        j.value("events_checked", 0LL),
                        j.value("checkpoint_matched", false) ? ", checkpoint matched" : "");
            // The line to keep somewhere certward cannot write (a ticket, a log, a vault).
            if (j.contains("head") && j["head"].value("seq", 0LL) > 0) {
              std::printf("checkpoint: %s\n", j["head"].value("checkpoint", "").c_str());
            }
          });
      if (g.exit_code == kExitOk && broken) g.exit_code = kExitAuditBroken;
    });
  }
}

void add_whoami_command(CLI::App& app, Globals& g) {
  app.add_subcommand("whoami", "show the principal a --server token authenticates as")
      ->callback([&g] {
        if (!g.server) {
          g.exit_code = report_error(
              {ErrorCode::kInvalidArgument, "whoami asks a server: give --server and a token"});
          return;
        }
        run_either(
            g,
            [](Context&) -> Result<nlohmann::json> {
              return fail(ErrorCode::kInvalidArgument,
                          "whoami asks a server: give --server and a token");
            },
            [](const Remote& r) { return r.get("/api/v1/whoami"); },
            [](const nlohmann::json& j) {
              std::printf(
                  "%s (%s%s)\n", j.value("principal", "").c_str(), j.value("role", "").c_str(),
                  j["team"].is_string() ? (", team " + j["team"].get<std::string>()).c_str() : "");
            });
      });
}

}  // namespace certward::cli
