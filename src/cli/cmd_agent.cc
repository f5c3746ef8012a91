// `certward agent`: the file scanner on a host certward does not run on, reporting to a server
// over the REST API with a token of its own (role agent), on a schedule. It opens no port: it
// only calls out. What it sends is what `scan files` records, in parts a server accepts.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/log.h"
#include "discovery/files/file_scanner.h"
#include "discovery/service.h"
#include "discovery/wire.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

// Keeps a part well under a server's default body limit (1 MiB).
constexpr std::size_t kPartBytes = 600 * 1024;

struct AgentOpts {
  std::vector<std::string> paths, include, exclude, password_files;
  std::string host;
  std::optional<std::string> every;
  bool once = false;
};

// One file scan of this host, sent in parts. Returns the finished scan.
Result<json> report_once(const Remote& remote, const AgentOpts& o,
                         const std::vector<std::string>& roots,
                         std::vector<crypto::SecretBytes> passwords) {
  discovery::files::FileScanOptions fo;
  fo.paths = roots;
  fo.include = o.include;
  fo.exclude = o.exclude;
  fo.passwords = std::move(passwords);
  fo.host = o.host;
  SystemClock clock;
  discovery::files::FileScanner scanner(std::move(fo), clock);

  std::string host = o.host;
  if (host.empty()) {
    char name[256] = {};
    gethostname(name, sizeof name - 1);
    host = name;
  }
  std::optional<std::string> scan_id;
  json part = json::array();
  std::size_t part_bytes = 0;
  Status failed = ok();
  json last;
  auto send = [&](bool final) -> Status {
    json body = {{"host", host}, {"roots", roots}, {"final", final}, {"observations", part}};
    if (scan_id) body["scan"] = *scan_id;
    CW_ASSIGN_OR_RETURN(last, remote.post("/api/v1/discovery/agent-reports", body));
    scan_id = json_text(last, "id");
    part = json::array();
    part_bytes = 0;
    return ok();
  };
  scanner.scan([&](discovery::FileObservation obs) {
    if (!failed) return;
    // Whoever can write under a root chooses names and contents: one odd file must not make
    // the server refuse every part (or this process throw on a name that is not UTF-8).
    std::string path = obs.path;
    auto fitted = discovery::fit_for_wire(std::move(obs), kPartBytes);
    if (!fitted) {
      log::warn("agent_file_not_reported",
                {{"path", printable(path.substr(0, 256))}, {"reason", "path too long"}});
      return;
    }
    json j = discovery::file_observation_json(*fitted);
    const std::size_t bytes =
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
    if (!part.empty() &&
        (part.size() >= discovery::Discovery::kMaxAgentPart || part_bytes + bytes > kPartBytes)) {
      failed = send(false);
    }
    part.push_back(std::move(j));
    part_bytes += bytes;
  });
  CW_RETURN_IF_ERROR(failed);
  CW_RETURN_IF_ERROR(send(true));
  return last;
}

void print_report(const json& scan) {
  const json r = scan.value("report", json::object());
  std::cout << "agent scan " << json_text(scan, "id") << " " << json_text(scan, "status") << ": "
            << r.value("places", 0) << " files, " << r.value("certificates", 0) << " certificates ("
            << r.value("new_certificates", json::array()).size() << " new), "
            << r.value("gone", json::array()).size() << " gone" << std::endl;
}

}  // namespace

void add_agent_command(CLI::App& app, Globals& g) {
  auto o = std::make_shared<AgentOpts>();
  auto* cmd = app.add_subcommand(
      "agent",
      "scan this host's files and report to a server (--server, an agent token), once or on a "
      "schedule");
  cmd->add_option("--path", o->paths, "a file or directory to scan (repeatable)")->required();
  cmd->add_option("--include", o->include, "only files matching this glob (repeatable)");
  cmd->add_option("--exclude", o->exclude, "not files or directories matching (repeatable)");
  cmd->add_option("--password-file", o->password_files,
                  "a password to try on keystores (repeatable; never sent)");
  cmd->add_option("--host", o->host, "the name to report this host as (default: its hostname)");
  cmd->add_option("--every", o->every, "scan again after this long (30m, 6h, 1d)");
  cmd->add_flag("--once", o->once, "scan once and exit (the default without --every)");
  cmd->callback([&g, o] {
    if (!g.server) {
      g.exit_code = report_error({ErrorCode::kInvalidArgument,
                                  "the agent reports to a server: give --server and a token"});
      return;
    }
    auto remote = make_remote(g);
    if (!remote) {
      g.exit_code = report_error(remote.error());
      return;
    }
    std::optional<std::chrono::seconds> every;
    if (o->every && !o->once) {
      auto d = parse_duration(*o->every);
      if (!d || *d < std::chrono::minutes(1)) {
        g.exit_code = report_error({ErrorCode::kInvalidArgument, "--every must be at least 1m"});
        return;
      }
      every = *d;
    }
    std::vector<std::string> roots;
    for (const auto& p : o->paths) {
      std::error_code ec;
      std::string abs = std::filesystem::absolute(p, ec).lexically_normal().string();
      while (abs.size() > 1 && abs.ends_with('/')) abs.pop_back();
      roots.push_back(ec ? p : abs);
    }
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGINT, on_stop_signal);
    for (;;) {
      std::vector<crypto::SecretBytes> passwords;
      for (const auto& f : o->password_files) {
        auto pw = read_secret_bytes(f, std::nullopt);
        if (!pw) {
          g.exit_code = report_error(pw.error());
          return;
        }
        if (*pw) passwords.push_back(std::move(**pw));
      }
      auto scan = report_once(*remote, *o, roots, std::move(passwords));
      if (!scan) {
        if (!every) {
          g.exit_code = report_error(scan.error());
          return;
        }
        // On a schedule, a server that is down is tried again at the next run.
        log::warn("agent_report_failed", {{"error", scan.error().message}});
      } else if (g.json) {
        print_json(*scan);
      } else {
        print_report(*scan);
      }
      if (!every) return;
      for (auto waited = std::chrono::seconds(0); waited < *every && !g_stop;
           waited += std::chrono::seconds(1)) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (g_stop) return;
    }
  });
}

}  // namespace certward::cli
