// The operator's limits on targets: which local directories a files target may write into,
// which hosts an SSH target may reach.

#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include "common/network.h"
#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy {
namespace {

std::unexpected<Error> rejected(std::string message) {
  return fail(ErrorCode::kPolicyRejected, "deployment policy: " + std::move(message));
}

// realpath(3); on failure, the errno it left in *err.
Result<std::string> real_path(const std::string& path, int* err = nullptr) {
  std::unique_ptr<char, decltype(&::free)> resolved(::realpath(path.c_str(), nullptr), &::free);
  if (!resolved) {
    const int e = errno;
    if (err != nullptr) *err = e;
    return fail(ErrorCode::kUnavailable, path + ": " + std::strerror(e));
  }
  return std::string(resolved.get());
}

// Whether `path` lies under `dir`, compared by whole components: /etc/nginx-evil/x is not
// under /etc/nginx.
bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return path.size() > 1 && path.front() == '/';
  return path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// An allowed directory as it really is (its own symlinks resolved when it exists), so that
// /etc/ssl -> /usr/lib/ssl allows what resolving the file's parents yields.
std::string normal_dir(const std::string& dir) {
  std::string d = dir;
  if (auto real = real_path(dir)) d = *real;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

bool same_host(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Status check_files(const TargetSpec& spec, const Policy& policy) {
  for (const auto& [role, path] : detail::output_paths(spec.files)) {
    CW_RETURN_IF_ERROR(detail::allowed_write_path(role, path, policy));
  }
  return ok();
}

Status check_ssh(const TargetSpec& spec, const Policy& policy) {
  if (!spec.ssh) return rejected("an ssh target without an ssh host");
  if (policy.allowed_ssh_hosts.empty()) {
    return rejected("no ssh target is allowed ([lifecycle] allowed_ssh_hosts is empty)");
  }
  const bool allowed =
      std::any_of(policy.allowed_ssh_hosts.begin(), policy.allowed_ssh_hosts.end(),
                  [&](const std::string& h) { return h == "*" || same_host(h, spec.ssh->host); });
  if (!allowed) return rejected("ssh host " + spec.ssh->host + " is not an allowed host");
  return ok();
}

// A file certward reads on a requester's behalf: under <team_secrets_dir>/<team>/, judged
// with its symbolic links resolved (a link out of the directory is not in it).
Status check_team_secret(const std::string& what, const std::string& path, const Policy& policy,
                         std::string_view team) {
  if (policy.team_secrets_dir.empty()) {
    return rejected(what +
                    ": a requester's target may name no such file "
                    "([lifecycle] team_secrets_dir is not set)");
  }
  if (team.empty() || team == "." || team == ".." || team.find('/') != std::string_view::npos) {
    return rejected(what + ": no secrets directory for this team");
  }
  const std::string dir = normal_dir(policy.team_secrets_dir) + "/" + std::string(team);
  std::string resolved = path;
  if (auto real = real_path(path)) {
    resolved = *real;
  } else if (auto parents = detail::resolve_parents(path)) {
    resolved = *parents;
  }
  if (!is_under(resolved, normal_dir(dir))) {
    return rejected(what + " " + path + " is not under the team's secrets directory " + dir);
  }
  return ok();
}

// Whether the spec's reload command, if any, is one of the policy's team_reload_commands
// exactly (a requester's on the server, an agent's --allow-reload on its host).
bool reload_listed(const TargetSpec& spec, const Policy& policy) {
  return !spec.reload ||
         std::any_of(
             policy.team_reload_commands.begin(), policy.team_reload_commands.end(),
             [&](const std::vector<std::string>& argv) { return argv == spec.reload->argv; });
}

}  // namespace

Status check_team_target(const TargetSpec& spec, const Policy& policy, std::string_view team) {
  if (!reload_listed(spec, policy)) {
    return rejected("target " + spec.name +
                    ": a requester's reload command must be one of [lifecycle] "
                    "team_reload_commands");
  }
  if (spec.ssh) {
    CW_RETURN_IF_ERROR(
        check_team_secret("ssh.identity_file", spec.ssh->identity_file, policy, team));
    CW_RETURN_IF_ERROR(check_team_secret("ssh.known_hosts", spec.ssh->known_hosts, policy, team));
  }
  if (spec.files.pkcs12_password_file) {
    CW_RETURN_IF_ERROR(check_team_secret("files.pkcs12_password_file",
                                         *spec.files.pkcs12_password_file, policy, team));
  }
  return ok();
}

namespace detail {

Result<std::string> resolve_parents(const std::string& path) {
  const auto slash = path.rfind('/');
  if (path.empty() || path.front() != '/' || slash == std::string::npos) {
    return fail(ErrorCode::kUnavailable, path + " is not an absolute path");
  }
  std::string existing = slash == 0 ? "/" : path.substr(0, slash);
  std::string rest = path.substr(slash);  // "/name", and the missing parents before it
  while (true) {
    int err = 0;
    auto real = real_path(existing, &err);
    if (real) return (*real == "/" ? std::string() : *real) + rest;
    if (err != ENOENT || existing == "/") return std::unexpected(real.error());
    // A parent that does not exist yet holds no symlink; judge the part that does.
    const auto up = existing.rfind('/');
    rest = existing.substr(up) + rest;
    existing = up == 0 ? "/" : existing.substr(0, up);
  }
}

Result<std::string> allowed_write_path(const std::string& role, const std::string& path,
                                       const Policy& policy) {
  if (policy.allowed_paths.empty()) {
    return rejected("no files target is allowed ([lifecycle] allowed_paths is empty)");
  }
  auto resolved = resolve_parents(path);
  if (!resolved) return rejected(role + " " + path + ": " + resolved.error().message);
  const bool inside = std::any_of(
      policy.allowed_paths.begin(), policy.allowed_paths.end(), [&](const std::string& dir) {
        return !dir.empty() && dir.front() == '/' && is_under(*resolved, normal_dir(dir));
      });
  if (!inside) {
    return rejected(role + " " + path +
                    (*resolved != path ? " (really " + *resolved + ")" : std::string()) +
                    " is not under an allowed directory");
  }
  return resolved;
}

}  // namespace detail

std::chrono::seconds longest_deployment(const TargetSpec& spec) {
  using std::chrono::seconds;
  if (spec.kind == TargetKind::kAgent) return seconds(0);
  const seconds reload = spec.reload ? spec.reload->timeout : seconds(0);
  // The last verification attempt may start just before the deadline; a second of slack.
  const seconds verify = spec.verify ? spec.verify->timeout + seconds(1) : seconds(0);
  seconds total = reload * 2 + verify + seconds(5);  // writing and restoring: a few seconds
  if (spec.ssh) {
    const seconds ssh = spec.ssh->timeout;
    const auto copies = static_cast<std::int64_t>(detail::output_paths(spec.files).size());
    // Each copy (scp: 2 x timeout + 10 s), the install and the restore scripts (timeout +
    // reload + 10 s each), and a cleanup script (timeout + 10 s).
    total += (ssh * 2 + seconds(10)) * copies + (ssh + seconds(10)) * 3;
  }
  return total;
}

namespace {

// `networks_name` names the list in the message.
Status check_verify_network(const TargetSpec& spec, const Policy& policy,
                            std::string_view networks_name) {
  if (!spec.verify) return ok();
  auto endpoint = detail::parse_endpoint(spec.verify->endpoint);
  if (!endpoint) return std::unexpected(endpoint.error());
  auto networks = NetworkSet::make(policy.verify_networks);
  if (!networks) return rejected("verify_networks: " + networks.error().message);
  if (parse_ip(endpoint->host) && !networks->contains(endpoint->host)) {
    return rejected("verify endpoint " + spec.verify->endpoint + " is not in " +
                    std::string(networks_name));
  }
  return ok();
}

}  // namespace

Result<TargetSpec> check_agent_host(const TargetSpec& spec, const Policy& policy) {
  if (spec.kind != TargetKind::kAgent || spec.ssh) {
    return fail(ErrorCode::kInvalidArgument, "not an agent target");
  }
  TargetSpec local = spec;
  local.kind = TargetKind::kFiles;
  local.agent.reset();
  if (policy.allowed_paths.empty()) {
    return rejected("this agent takes no deployment (no --deploy-dir)");
  }
  CW_RETURN_IF_ERROR(check_files(local, policy));
  // Read, not written, but a server must not choose what this host's files are read for.
  if (local.files.pkcs12_password_file) {
    CW_RETURN_IF_ERROR(detail::allowed_write_path("pkcs12_password_file",
                                                  *local.files.pkcs12_password_file, policy));
  }
  if (!reload_listed(local, policy)) {
    return rejected("target " + spec.name +
                    ": the reload command is not one this agent allows (--allow-reload)");
  }
  // Whoever owns a file may rewrite it: a server chooses no account of this host that the
  // agent does not name.
  for (const auto& account : {local.files.owner, local.files.group}) {
    if (account &&
        std::ranges::find(policy.agent_accounts, *account) == policy.agent_accounts.end()) {
      return rejected("target " + spec.name + ": the files may not be given to " + *account +
                      " (not one this agent allows: --allow-owner)");
    }
  }
  CW_RETURN_IF_ERROR(check_verify_network(local, policy, "the agent's verify networks"));
  return local;
}

Status check_target(const TargetSpec& spec, const Policy& policy) {
  // The server never dials an agent target's endpoint nor writes its files: the agent judges
  // both on its host (check_agent_host).
  if (spec.kind == TargetKind::kAgent) {
    if (spec.ssh || !spec.agent) return rejected("an agent target names its agent only");
    return ok();
  }
  CW_RETURN_IF_ERROR(check_verify_network(spec, policy, "[lifecycle] verify_networks"));
  switch (spec.kind) {
    case TargetKind::kFiles:
      if (spec.ssh) return rejected("a files target with an ssh host");
      return check_files(spec, policy);
    case TargetKind::kSsh:
      return check_ssh(spec, policy);
    case TargetKind::kAgent:
      break;
  }
  return rejected("unknown target kind");
}

}  // namespace certward::lifecycle::deploy
