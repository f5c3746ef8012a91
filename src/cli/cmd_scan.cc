// Discovery from the command line: `certward scan net|files` (run here against the data
// directory, or by a server with --server), `scan list|show`, recurring scans (`scan schedule
// create|list|delete`) and where a certificate was seen (`cert sightings`).

#include <unistd.h>

#include <chrono>
#include <thread>

#include "api/json.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "discovery/service.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

std::string short_fp(const json& j, const char* key) {
  const std::string fp = json_text(j, key, "");
  return fp.size() > 16 ? fp.substr(0, 16) : (fp.empty() ? "-" : fp);
}

// One line per place, then what the scan found in all.
void print_scan(const json& scan) {
  const json report = scan.value("report", json::object());
  if (report.contains("results")) {
    Table t({"PLACE", "RESULT", "PROTOCOL", "FINDINGS"});
    for (const auto& r : report["results"]) {
      std::string findings;
      for (const auto& f : r.value("findings", json::array())) {
        if (!findings.empty()) findings += ",";
        findings += json_text(f, "code");
      }
      const std::string result =
          r.contains("error") ? "error: " + json_text(r, "error") : short_fp(r, "leaf");
      std::string protocol = json_text(r, "tls_version");
      if (protocol.empty()) protocol = json_text(r, "format");
      if (protocol.empty()) protocol = json_text(r, "banner");
      t.add({text(r, "location"), result, protocol.empty() ? "-" : protocol,
             findings.empty() ? "-" : findings});
    }
    t.print();
  }
  std::cout << "scan " << text(scan, "id") << " (" << text(scan, "kind")
            << "): " << text(scan, "status");
  if (scan.contains("error")) std::cout << ": " << printable(text(scan, "error"));
  std::cout << "\n";
  if (report.is_object() && report.contains("places")) {
    const json f = report.value("findings", json::object());
    std::cout << "  places " << report.value("places", 0) << ", reachable "
              << report.value("reachable", 0) << ", errors " << report.value("errors", 0)
              << "; certificates " << report.value("certificates", 0) << " ("
              << report.value("new_certificates", json::array()).size() << " new), SSH keys "
              << report.value("ssh_keys", 0) << "; changed "
              << report.value("changed", json::array()).size() << ", gone "
              << report.value("gone", json::array()).size() << "\n  findings: critical "
              << f.value("critical", 0) << ", high " << f.value("high", 0) << ", medium "
              << f.value("medium", 0) << ", low " << f.value("low", 0) << ", info "
              << f.value("info", 0) << "\n";
    if (const json skipped = report.value("skipped", json::object()); !skipped.empty()) {
      std::cout << "  passed over:";
      for (const auto& [reason, n] : skipped.items()) std::cout << " " << reason << " " << n;
      std::cout << (report.value("max_files_reached", false) ? " (stopped at the file cap)" : "")
                << "\n";
    }
    if (report.value("results_left_out", 0) > 0) {
      std::cout << "  (" << report.value("results_left_out", 0)
                << " more places are recorded as sightings, not listed here)\n";
    }
  }
}

void print_scans(const json& doc) {
  Table t({"ID", "KIND", "STATUS", "BY", "CREATED", "PLACES", "NEW", "GONE"});
  for (const auto& s : doc["items"]) {
    const json r = s.value("report", json::object());
    t.add({text(s, "id"), text(s, "kind"), text(s, "status"), text(s, "requested_by"),
           text(s, "created_at"), r.is_object() ? std::to_string(r.value("places", 0)) : "-",
           r.is_object() ? std::to_string(r.value("new_certificates", json::array()).size()) : "-",
           r.is_object() ? std::to_string(r.value("gone", json::array()).size()) : "-"});
  }
  t.print();
}

void print_schedules(const json& doc) {
  Table t({"NAME", "EVERY", "NEXT RUN", "LAST SCAN", "SPEC"});
  const json items = doc.contains("items") ? doc["items"] : json::array({doc});
  for (const auto& s : items) {
    t.add({text(s, "name"), text(s, "interval"), text(s, "next_run"), text(s, "last_scan"),
           s.value("spec", json::object()).dump()});
  }
  t.print();
}

void print_sightings(const json& doc) {
  Table t({"KIND", "LOCATION", "FIRST SEEN", "LAST SEEN", "GONE", "TEAM"});
  for (const auto& s : doc["items"]) {
    t.add({text(s, "kind"), text(s, "location"), text(s, "first_seen"), text(s, "last_seen"),
           text(s, "gone_at"), text(s, "team")});
  }
  t.print();
}

// A server runs the scan as a job: wait for its end, boundedly.
Result<json> wait_for(const Remote& r, const std::string& id, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    CW_ASSIGN_OR_RETURN(json scan, r.get("/api/v1/discovery/scans/" + id));
    const std::string status = json_text(scan, "status");
    if (status == "done" || status == "failed") return scan;
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(ErrorCode::kUnavailable, "scan " + id + " is still " + status +
                                               " after the wait: see `certward scan show " + id +
                                               "`");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

struct ScanOpts {
  std::vector<std::string> targets, sni, paths, include, exclude, password_files;
  std::string ports = "tls";
  std::optional<std::size_t> concurrency;
  std::optional<double> rate;
  bool no_legacy = false, check_revocation = false, follow = false, one_fs = false;
  bool restricted = false, no_wait = false;
  int wait_seconds = 3600;
};

discovery::ScanSpec spec_of(const ScanOpts& o, std::string kind) {
  discovery::ScanSpec s;
  s.kind = std::move(kind);
  if (s.kind == "net") {
    s.targets = o.targets;
    s.ports = o.ports;
    s.sni = o.sni;
    s.concurrency = o.concurrency;
    s.rate_limit = o.rate;
    if (o.no_legacy) s.probe_legacy = false;
    if (o.check_revocation) s.check_revocation = true;
  } else {
    for (const auto& p : o.paths) {
      std::error_code ec;
      const auto abs = std::filesystem::absolute(p, ec).lexically_normal().string();
      s.paths.push_back(ec ? p : abs);
    }
    for (auto& p : s.paths) {
      while (p.size() > 1 && p.ends_with('/')) p.pop_back();
    }
    s.include = o.include;
    s.exclude = o.exclude;
    s.follow_symlinks = o.follow;
    s.one_filesystem = o.one_fs;
  }
  return s;
}

void run_scan(Globals& g, const std::shared_ptr<ScanOpts>& o, const std::string& kind) {
  run_either(
      g,
      [o, kind, json_output = g.json](Context& c) -> Result<json> {
        // The same checks a server applies to a spec it is sent.
        CW_ASSIGN_OR_RETURN(
            auto spec, discovery::parse_scan_spec(discovery::scan_spec_json(spec_of(*o, kind))));
        std::vector<crypto::SecretBytes> passwords;
        for (const auto& f : o->password_files) {
          CW_ASSIGN_OR_RETURN(auto pw, read_secret_bytes(f, std::nullopt));
          if (pw) passwords.push_back(std::move(*pw));
        }
        Progress progress("places", std::nullopt, json_output);
        std::function<void(std::size_t, std::size_t)> meter;
        if (progress.shown()) {
          meter = [&progress](std::size_t done, std::size_t total) {
            if (total) progress.set_total(static_cast<std::int64_t>(total));
            progress.update(static_cast<std::int64_t>(done));
          };
        }
        auto scan =
            c.discovery().run_here(spec, c.actor(), o->restricted, std::move(passwords), meter);
        progress.finish();
        CW_RETURN_IF_ERROR(scan);
        return discovery::scan_record_json(*scan);
      },
      [o, kind](const Remote& r) -> Result<json> {
        if (!o->password_files.empty()) {
          return fail(ErrorCode::kInvalidArgument,
                      "--password-file is for scans run here: a server never receives them");
        }
        CW_ASSIGN_OR_RETURN(json queued, r.post("/api/v1/discovery/scans",
                                                discovery::scan_spec_json(spec_of(*o, kind))));
        if (o->no_wait) return queued;
        return wait_for(r, json_text(queued, "id"), std::chrono::seconds(o->wait_seconds));
      },
      print_scan);
}

void add_common(CLI::App* cmd, const std::shared_ptr<ScanOpts>& o) {
  cmd->add_flag("--restricted", o->restricted,
                "apply [discovery] allowed_networks / allowed_paths, as a server does");
  cmd->add_flag("--no-wait", o->no_wait, "with --server: print the queued scan and return");
  cmd->add_option("--wait", o->wait_seconds, "with --server: wait at most this many seconds")
      ->check(CLI::Range(1, 86400));
}

}  // namespace

void add_scan_commands(CLI::App& app, Globals& g) {
  auto* scan =
      app.add_subcommand("scan", "discover certificates and SSH keys on networks and in files");
  scan->require_subcommand(1);
  {
    auto o = std::make_shared<ScanOpts>();
    auto* net = scan->add_subcommand(
        "net", "scan TLS (and STARTTLS, SSH) endpoints: names, addresses, CIDR ranges, host:port");
    net->add_option("targets", o->targets, "what to dial")->required();
    net->add_option("--ports", o->ports,
                    "ports and groups: 443,8443  1000-1010  tls mail ldap ftp postgres ssh  "
                    "25/smtp (default tls)");
    net->add_option("--sni", o->sni, "a server name to send to address targets (repeatable)");
    net->add_option("--concurrency", o->concurrency, "endpoints in flight")
        ->check(CLI::Range(1, 10000));
    net->add_option("--rate", o->rate, "new connections per second (0: unlimited)")
        ->check(CLI::Range(0.0, 1e6));
    net->add_flag("--no-legacy", o->no_legacy, "do not probe for TLS 1.0/1.1");
    net->add_flag("--check-revocation", o->check_revocation,
                  "ask each leaf's OCSP responder or CRL (over http)");
    add_common(net, o);
    net->callback([&g, o] { run_scan(g, o, "net"); });
  }
  {
    auto o = std::make_shared<ScanOpts>();
    auto* files = scan->add_subcommand(
        "files", "scan files and directories: PEM, DER, PKCS#7, PKCS#12, JKS, SSH key files");
    files->add_option("paths", o->paths, "files or directories")->required();
    files->add_option("--include", o->include, "only files matching this glob (repeatable)");
    files->add_option("--exclude", o->exclude, "not files or directories matching (repeatable)");
    files->add_option("--password-file", o->password_files,
                      "a password to try on keystores (repeatable; never stored)");
    files->add_flag("--follow-symlinks", o->follow, "follow symbolic links (loops end)");
    files->add_flag("--one-filesystem", o->one_fs, "stay on each path's filesystem");
    add_common(files, o);
    files->callback([&g, o] { run_scan(g, o, "files"); });
  }
  {
    auto limit = std::make_shared<int>(50);
    auto* list = scan->add_subcommand("list", "list scans, newest first");
    list->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000));
    list->callback([&g, limit] {
      run_either(
          g,
          [limit](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto scans, c.discovery().list(*limit));
            json items = json::array();
            for (const auto& s : scans) {
              json j = discovery::scan_record_json(s);
              if (j.contains("report")) j["report"].erase("results");
              items.push_back(std::move(j));
            }
            return json{{"items", items}};
          },
          [limit](const Remote& r) {
            return r.get("/api/v1/discovery/scans?limit=" + std::to_string(*limit));
          },
          print_scans);
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* show = scan->add_subcommand("show", "a scan and its report");
    show->add_option("id", *id, "the scan id")->required();
    show->callback([&g, id] {
      run_either(
          g,
          [id](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto s, c.discovery().get(*id));
            return discovery::scan_record_json(s);
          },
          [id](const Remote& r) { return r.get("/api/v1/discovery/scans/" + url_encode(*id)); },
          print_scan);
    });
  }
  auto* schedule = scan->add_subcommand("schedule", "recurring scans, run by the servers");
  schedule->require_subcommand(1);
  {
    struct Opts {
      std::string name, every, spec;
    };
    auto o = std::make_shared<Opts>();
    auto* create = schedule->add_subcommand("create", "create a recurring scan");
    create->add_option("name", o->name, "its name")->required();
    create->add_option("--every", o->every, "how often: 30m, 6h, 1d")->required();
    create
        ->add_option("--spec", o->spec,
                     "the scan, as JSON: '{\"kind\":\"net\",\"targets\":[\"10.0.0.0/24\"]}'")
        ->required();
    create->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            const json j = json::parse(o->spec, nullptr, false);
            if (j.is_discarded()) return fail(ErrorCode::kMalformed, "--spec is not JSON");
            CW_ASSIGN_OR_RETURN(auto spec, discovery::parse_scan_spec(j));
            CW_ASSIGN_OR_RETURN(auto every, parse_duration(o->every));
            CW_ASSIGN_OR_RETURN(auto s,
                                c.discovery().create_schedule(o->name, spec, every, c.actor()));
            return discovery::schedule_json(s);
          },
          [o](const Remote& r) -> Result<json> {
            const json j = json::parse(o->spec, nullptr, false);
            if (j.is_discarded()) return fail(ErrorCode::kMalformed, "--spec is not JSON");
            return r.post("/api/v1/discovery/schedules",
                          {{"name", o->name}, {"interval", o->every}, {"spec", j}});
          },
          print_schedules);
    });
  }
  {
    auto* list = schedule->add_subcommand("list", "list recurring scans");
    list->callback([&g] {
      run_either(
          g,
          [](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto all, c.discovery().schedules());
            json items = json::array();
            for (const auto& s : all) items.push_back(discovery::schedule_json(s));
            return json{{"items", items}};
          },
          [](const Remote& r) { return r.get("/api/v1/discovery/schedules"); }, print_schedules);
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* del = schedule->add_subcommand("delete", "delete a recurring scan");
    del->add_option("name", *name, "its name")->required();
    del->callback([&g, name] {
      run_either(
          g,
          [name](Context& c) -> Result<json> {
            CW_RETURN_IF_ERROR(c.discovery().delete_schedule(*name, c.actor()));
            return json{{"name", *name}, {"deleted", true}};
          },
          [name](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/discovery/schedules/" + url_encode(*name)));
            return json{{"name", *name}, {"deleted", true}};
          },
          [](const json& j) { std::cout << "deleted " << json_text(j, "name") << "\n"; });
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* sightings = scan->add_subcommand(
        "sightings", "where a certificate was seen (fingerprint, prefix or serial)");
    sightings->add_option("id", *id, "the certificate")->required();
    sightings->callback([&g, id] {
      run_either(
          g,
          [id](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto rec, c.inventory().resolve(*id));
            inventory::SightingFilter f;
            f.fingerprint = rec.fingerprint;
            CW_ASSIGN_OR_RETURN(auto list, c.sightings().list(f, 1000));
            json items = json::array();
            for (const auto& s : list) items.push_back(api::sighting_json(s));
            return json{{"fingerprint", rec.fingerprint}, {"items", items}};
          },
          [id](const Remote& r) {
            return r.get("/api/v1/certificates/" + url_encode(*id) + "/sightings");
          },
          print_sightings);
    });
  }
}

}  // namespace certward::cli
