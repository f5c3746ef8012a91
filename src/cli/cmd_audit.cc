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
    cmd->add_option("--since", o->since, "only events at or after this time (RFC 3339 or YYYY-MM-DD)");
    cmd->add_option("--before-seq", o->before_seq, "continue below this sequence number");
    cmd->add_option("--limit", o->limit, "page size (1-1000)")->capture_default_str();
    cmd->callback([&g, o] {
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        audit::EventFilter f;
        f.actor = o->actor;
        f.action = o->action;
        f.target_id = o->target;
        if (o->since) {
          CW_ASSIGN_OR_RETURN(f.since, parse_time(*o->since));
        }
        f.after_seq = o->before_seq;
        f.limit = o->limit;
        CW_ASSIGN_OR_RETURN(auto events, c.audit().list(c.db(), f));
        if (g.json) {
          nlohmann::json j = nlohmann::json::array();
          for (const auto& e : events) j.push_back(event_json(e));
          print_json(j);
          return ok();
        }
        Table t({"SEQ", "TIME", "ACTOR", "ACTION", "TARGET"});
        for (const auto& e : events) {
          t.add({std::to_string(e.seq), format_time(e.time), e.event.actor, e.event.action,
                 e.event.target_type + ":" + e.event.target_id.substr(0, 16)});
        }
        t.print();
        return ok();
      });
    });
  }
  audit->add_subcommand("verify", "recompute the hash chain; exit 8 if it is broken")->callback([&g] {
    run(g, Init::kOpenExisting, [&](Context& c) -> Status {
      CW_ASSIGN_OR_RETURN(auto report, c.audit().verify(c.db()));
      if (g.json) {
        nlohmann::json j = {{"ok", report.ok}, {"events_checked", report.events_checked}};
        if (!report.ok) {
          j["first_bad_seq"] = *report.first_bad_seq;
          j["problem"] = report.problem;
        }
        print_json(j);
      } else if (report.ok) {
        std::printf("audit chain intact: %lld events verified\n", static_cast<long long>(report.events_checked));
      } else {
        std::fprintf(stderr, "certward: audit chain broken at event %lld: %s\n",
                     static_cast<long long>(report.first_bad_seq.value_or(0)), report.problem.c_str());
      }
      if (!report.ok) g.exit_code = kExitAuditBroken;
      return ok();
    });
  });
}

}  // namespace certward::cli
