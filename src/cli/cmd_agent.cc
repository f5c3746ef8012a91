// `certward agent`: the file scanner on a host certward does not run on, reporting to a server
// over the REST API with a token of its own (role agent), on a schedule. It opens no port: it
// only calls out. What it sends is what `scan files` records, in parts a server accepts.
// With --deploy-dir it also receives the deployments made to it (agent_deploy.h), under its
// own allow-list; without, it never asks for one.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "cli/agent_deploy.h"
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
// The longest answer an agent takes: a deployment (its certificate, chain and key) is under
// 1 MiB, a list of 20 smaller still, a scan's report a list of fingerprints; a server that
// was taken over sends no more.
constexpr std::size_t kMaxAnswer = 16u << 20;

struct AgentOpts {
  std::vector<std::string> paths, include, exclude, password_files;
  std::string host;
  std::optional<std::string> every;
  bool once = false;
  std::vector<std::string> deploy_dirs, allow_reload, allow_owner;
  std::optional<std::string> deploy_every;
  bool deploy_only = false;
};

// When each kind of work runs next; unset: never again.
struct Schedule {
  std::optional<std::chrono::seconds> scan_every, deploy_every;
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

// The scan and deployment periods the options ask for. Errors: kInvalidArgument.
Result<Schedule> schedule_of(const AgentOpts& o) {
  Schedule s;
  if (o.once) return s;
  if (o.every) {
    auto d = parse_duration(*o.every);
    if (!d || *d < std::chrono::minutes(1)) {
      return fail(ErrorCode::kInvalidArgument, "--every must be at least 1m");
    }
    s.scan_every = *d;
  }
  if (o.deploy_every) {
    auto d = parse_duration(*o.deploy_every);
    if (!d || *d < std::chrono::seconds(5)) {
      return fail(ErrorCode::kInvalidArgument, "--deploy-every must be at least 5s");
    }
    s.deploy_every = *d;
  } else if (s.scan_every) {
    s.deploy_every = std::chrono::minutes(1);
  }
  if (o.deploy_dirs.empty()) s.deploy_every.reset();
  if (o.deploy_only) s.scan_every.reset();
  return s;
}

Status check_options(const AgentOpts& o) {
  if (o.deploy_only && o.deploy_dirs.empty()) {
    return fail(ErrorCode::kInvalidArgument, "--deploy-only needs --deploy-dir");
  }
  if (!o.deploy_only && o.paths.empty()) {
    return fail(ErrorCode::kInvalidArgument, "give --path (or --deploy-only with --deploy-dir)");
  }
  if ((!o.allow_reload.empty() || !o.allow_owner.empty()) && o.deploy_dirs.empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "--allow-reload and --allow-owner are for deployments: give --deploy-dir");
  }
  for (const auto& dir : o.deploy_dirs) {
    if (!dir.starts_with('/')) {
      return fail(ErrorCode::kInvalidArgument, "--deploy-dir must be absolute: " + dir);
    }
  }
  for (const auto& command : o.allow_reload) {
    if (!command.starts_with('/')) {
      return fail(ErrorCode::kInvalidArgument,
                  "--allow-reload must start with an absolute path: " + command);
    }
  }
  return ok();
}

std::vector<std::string> absolute_roots(const std::vector<std::string>& paths) {
  std::vector<std::string> roots;
  for (const auto& p : paths) {
    std::error_code ec;
    std::string abs = std::filesystem::absolute(p, ec).lexically_normal().string();
    while (abs.size() > 1 && abs.ends_with('/')) abs.pop_back();
    roots.push_back(ec ? p : abs);
  }
  return roots;
}

// One scan; on a schedule a failure is logged and the next run tries again.
Status scan_round(const Globals& g, const Remote& remote, const AgentOpts& o,
                  const std::vector<std::string>& roots, bool scheduled) {
  std::vector<crypto::SecretBytes> passwords;
  for (const auto& f : o.password_files) {
    CW_ASSIGN_OR_RETURN(auto pw, read_secret_bytes(f, std::nullopt));
    if (pw) passwords.push_back(std::move(*pw));
  }
  auto scan = report_once(remote, o, roots, std::move(passwords));
  if (!scan) {
    if (!scheduled) return std::unexpected(scan.error());
    // On a schedule, a server that is down is tried again at the next run.
    log::warn("agent_report_failed", {{"error", scan.error().message}});
  } else if (g.json) {
    print_json(*scan);
  } else {
    print_report(*scan);
  }
  return ok();
}

// One round of deployments; once (not scheduled), a failed deployment fails the command.
Status deploy_round(const Globals& g, const Remote& remote, const lifecycle::deploy::Policy& policy,
                    bool scheduled) {
  auto round = receive_deployments(remote, policy, g.json);
  if (!round) {
    if (!scheduled) return std::unexpected(round.error());
    log::warn("agent_deployments_failed", {{"error", round.error().message}});
    return ok();
  }
  if (!scheduled && round->first_failure) return std::unexpected(*round->first_failure);
  return ok();
}

int run_agent(Globals& g, const AgentOpts& o) {
  if (!g.server) {
    return report_error(
        {ErrorCode::kInvalidArgument, "the agent reports to a server: give --server and a token"});
  }
  if (Status checked = check_options(o); !checked) return report_error(checked.error());
  auto remote = make_remote(g);
  if (!remote) return report_error(remote.error());
  remote->limit_answers(kMaxAnswer);
  auto schedule = schedule_of(o);
  if (!schedule) return report_error(schedule.error());
  const bool scheduled = schedule->scan_every || schedule->deploy_every;
  const std::vector<std::string> roots = absolute_roots(o.paths);
  const auto policy = agent_host_policy(o.deploy_dirs, o.allow_reload, o.allow_owner);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  using Clock = std::chrono::steady_clock;
  // Both run at once at the start; then each at its own period.
  std::optional<Clock::time_point> next_scan, next_deploy;
  if (!o.deploy_only) next_scan = Clock::now();
  if (!o.deploy_dirs.empty()) next_deploy = Clock::now();
  while (!g_stop && (next_scan || next_deploy)) {
    const auto now = Clock::now();
    if (next_scan && now >= *next_scan) {
      if (Status st = scan_round(g, *remote, o, roots, scheduled); !st) {
        return report_error(st.error());
      }
      next_scan = schedule->scan_every ? std::optional(now + *schedule->scan_every) : std::nullopt;
    }
    if (next_deploy && now >= *next_deploy) {
      if (Status st = deploy_round(g, *remote, policy, scheduled); !st) {
        return report_error(st.error());
      }
      next_deploy =
          schedule->deploy_every ? std::optional(now + *schedule->deploy_every) : std::nullopt;
    }
    if (!next_scan && !next_deploy) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return kExitOk;
}

}  // namespace

void add_agent_command(CLI::App& app, Globals& g) {
  auto o = std::make_shared<AgentOpts>();
  auto* cmd = app.add_subcommand(
      "agent",
      "scan this host's files and report to a server (--server, an agent token), once or on a "
      "schedule");
  cmd->add_option("--path", o->paths, "a file or directory to scan (repeatable)");
  cmd->add_option("--include", o->include, "only files matching this glob (repeatable)");
  cmd->add_option("--exclude", o->exclude, "not files or directories matching (repeatable)");
  cmd->add_option("--password-file", o->password_files,
                  "a password to try on keystores (repeatable; never sent)");
  cmd->add_option("--host", o->host, "the name to report this host as (default: its hostname)");
  cmd->add_option("--every", o->every, "scan again after this long (30m, 6h, 1d)");
  cmd->add_flag("--once", o->once, "scan once and exit (the default without --every)");
  cmd->add_option("--deploy-dir", o->deploy_dirs,
                  "receive deployments for this host, writing only under this directory "
                  "(repeatable; without it the agent takes no deployment)");
  cmd->add_option("--allow-reload", o->allow_reload,
                  "a reload command deployments may run, exactly, as one string "
                  "(\"/usr/sbin/nginx -s reload\"; repeatable; none by default)");
  cmd->add_option("--allow-owner", o->allow_owner,
                  "a user or group name deployments may give their files to (repeatable; none "
                  "by default: the files are the agent's user's)");
  cmd->add_option("--deploy-every", o->deploy_every,
                  "ask for deployments this often (default: 1m with --every; at least 5s)");
  cmd->add_flag("--deploy-only", o->deploy_only, "receive deployments only; no file scan");
  cmd->callback([&g, o] { g.exit_code = run_agent(g, *o); });
}

}  // namespace certward::cli
