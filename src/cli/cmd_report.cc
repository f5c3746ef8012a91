// Reports from the command line: `certward report expiring|violations|summary|posture|
// lifetimes|cbom`, against the data directory or a server (--server), as a table (default),
// CSV, JSON, HTML or, for cbom, CycloneDX. Locally the report is written as it is computed
// (bounded memory over any inventory), to --output through a temporary file renamed into
// place (common/file.h), so a failed report leaves no half file behind.

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/config.h"
#include "common/file.h"
#include "reports/reports.h"

namespace certward::cli {
namespace {

struct ReportOpts {
  std::string format;  // empty: table, or json with --json; cbom for the cbom report
  std::string output;  // empty: standard output
  std::string window = "30d";
  std::string team;
};

Result<reports::ReportRequest> request(reports::Kind kind, const ReportOpts& o, bool json) {
  reports::ReportRequest r;
  r.kind = kind;
  if (!o.format.empty()) {
    CW_ASSIGN_OR_RETURN(r.format, reports::parse_format(o.format));
  } else if (kind == reports::Kind::kCbom) {
    r.format = reports::Format::kCbom;
  } else {
    r.format = json ? reports::Format::kJson : reports::Format::kTable;
  }
  CW_ASSIGN_OR_RETURN(r.window, parse_duration(o.window));
  if (!o.team.empty()) r.team = o.team;
  CW_RETURN_IF_ERROR(reports::check_request(r));
  return r;
}

// A report names the inventory's certificates, owners and teams: its file is the caller's
// alone (0600), whatever the umask, until they choose to share it.
constexpr unsigned kReportFileMode = 0600;

// Streams the report into `output` (a temporary file beside it, created exclusively and
// renamed when complete) or standard output.
Status write_local(Context& c, const reports::ReportRequest& r, const std::string& output) {
  const reports::ReportService service(reports::Sources{.clock = c.clock(),
                                                        .inventory = c.inventory(),
                                                        .sightings = c.sightings(),
                                                        .managed = &c.managed(),
                                                        .policy = &c.policy()});
  if (output.empty() || output == "-") return service.write(r, std::cout);
  return write_file_atomic_streamed(output, kReportFileMode,
                                    [&](std::ostream& out) { return service.write(r, out); });
}

std::string remote_path(const reports::ReportRequest& r, const ReportOpts& o) {
  std::string path = "/api/v1/reports/" + std::string(reports::kind_name(r.kind)) +
                     "?format=" + std::string(reports::format_name(r.format));
  if (r.kind == reports::Kind::kExpiring) path += "&window=" + url_encode(o.window);
  if (r.team) path += "&team=" + url_encode(*r.team);
  return path;
}

void add_report(CLI::App* group, Globals& g, reports::Kind kind, const char* help) {
  auto o = std::make_shared<ReportOpts>();
  auto* cmd = group->add_subcommand(std::string(reports::kind_name(kind)), help);
  cmd->add_option("--format", o->format,
                  kind == reports::Kind::kCbom ? "cbom (CycloneDX 1.6 JSON)"
                                               : "table (default), csv, json or html");
  cmd->add_option("--output,-o", o->output, "write the report to this file (default: stdout)");
  if (kind == reports::Kind::kExpiring) {
    cmd->add_option("--window", o->window, "how far ahead: 30d (default), 12h, 1y");
  }
  cmd->add_option("--team", o->team, "only this team's certificates and SSH keys");
  cmd->callback([&g, o, kind] {
    auto r = request(kind, *o, g.json);
    if (!r) {
      g.exit_code = report_error(r.error());
      return;
    }
    const auto req = *r;
    run_either(
        g,
        [req, o](Context& c) -> Result<nlohmann::json> {
          CW_RETURN_IF_ERROR(write_local(c, req, o->output));
          return nlohmann::json();
        },
        [req, o](const Remote& remote) -> Result<nlohmann::json> {
          CW_ASSIGN_OR_RETURN(auto body, remote.get_raw(remote_path(req, *o)));
          if (o->output.empty() || o->output == "-") {
            std::fwrite(body.data(), 1, body.size(), stdout);
          } else {
            CW_RETURN_IF_ERROR(write_file_atomic(o->output, body, kReportFileMode));
          }
          return nlohmann::json();
        },
        nullptr);
  });
}

}  // namespace

void add_report_commands(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand(
      "report",
      "reports over the inventory: expiry, violations, posture, CBOM (docs/governance.md)");
  group->require_subcommand(1);
  using reports::Kind;
  add_report(group, g, Kind::kExpiring, "certificates expiring within a window");
  add_report(group, g, Kind::kViolations, "policy violations over every certificate and SSH key");
  add_report(group, g, Kind::kSummary,
             "counts by issuer, algorithm and size, owner, team, status and origin");
  add_report(group, g, Kind::kPosture,
             "crypto posture: algorithms, quantum-vulnerable keys, who renews them");
  add_report(group, g, Kind::kLifetimes,
             "renewals per month per team under 200-, 100- and 47-day maximum validity");
  add_report(group, g, Kind::kCbom, "a CycloneDX 1.6 cryptographic bill of materials");
}

}  // namespace certward::cli
