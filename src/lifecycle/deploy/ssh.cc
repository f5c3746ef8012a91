// The SSH target, with the system's ssh and scp: key authentication only, the host key
// checked against the target's known_hosts, no configuration file, no agent, no prompt.
//
// The files are copied beside their final paths under temporary names first (nothing the
// service reads has changed yet); then one remote script keeps the previous files (a hard
// link, so bytes, owner and mode stay exactly as they were), moves the new ones into place and
// runs the reload; after a failure another script moves the previous files back and reloads
// again. The scripts go to `/bin/sh -s` on stdin, so the remote login shell only ever parses
// "/bin/sh -s", and every value in them is single-quoted.

#include <sys/random.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/encoding.h"
#include "common/file.h"
#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy::detail {
namespace {

constexpr std::size_t kMaxScript = 32 * 1024;
constexpr std::size_t kReloadOutput = 2048;
constexpr std::string_view kInstalled = "certward: installed";
constexpr std::string_view kRestored = "certward: restored";
constexpr std::string_view kReloadStatus = "certward: reload status ";
constexpr std::string_view kRefused = "certward: refused: ";

// One remote file and the names used beside it during the deployment.
struct RemoteFile {
  std::string path;
  std::string temp;    // the copy, until it is moved into place
  std::string backup;  // a hard link to the previous file, while it may be needed
  std::string marker;  // exists while a file that did not exist before may need removing
  mode_t mode = 0644;
};

class StagingDir {
 public:
  StagingDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "certward-deploy-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~StagingDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Result<std::string> random_id() {
  std::uint8_t bytes[8];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return fail(ErrorCode::kUnavailable, "getrandom failed");
  }
  return to_hex(bytes);
}

std::string mode_octal(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 0777));
  return buf;
}

class Remote {
 public:
  Remote(const SshHost& host, const Policy& policy) : host_(host), policy_(policy) {}

  // ssh and scp share every option but the port's spelling.
  std::vector<std::string> options(std::string_view port_flag) const {
    return {"-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=" + host_.known_hosts,
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "KbdInteractiveAuthentication=no",
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "ConnectTimeout=" + std::to_string(host_.timeout.count()),
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "User=" + host_.user,
            "-i",
            host_.identity_file,
            std::string(port_flag),
            std::to_string(host_.port)};
  }

  // Runs `script` with /bin/sh on the host. `extra` is time for what the script runs.
  Result<RunResult> run(const std::string& script, std::chrono::seconds extra) const {
    if (script.size() > kMaxScript) {
      return fail(ErrorCode::kInvalidArgument, "the remote script is over 32 KiB");
    }
    std::vector<std::string> argv{policy_.ssh_binary};
    for (auto& o : options("-p")) argv.push_back(std::move(o));
    argv.insert(argv.end(), {"--", host_.host, "/bin/sh -s"});
    RunOptions o;
    o.timeout = host_.timeout + extra + std::chrono::seconds(10);
    o.max_output = 16 * 1024;
    o.input = script;
    return run_process(argv, o);
  }

  Result<RunResult> copy(const std::string& local, const std::string& remote) const {
    // -s: the SFTP protocol, where the remote path is a path, not shell input. (No -q: it
    // would hide why ssh failed.)
    std::vector<std::string> argv{policy_.scp_binary, "-s"};
    for (auto& o : options("-P")) argv.push_back(std::move(o));
    const std::string host = is_ipv6(host_.host) ? "[" + host_.host + "]" : host_.host;
    argv.insert(argv.end(), {"--", local, host + ":" + remote});
    RunOptions o;
    o.timeout = host_.timeout * 2 + std::chrono::seconds(10);
    return run_process(argv, o);
  }

  std::string where() const {
    return host_.user + "@" + host_.host + ":" + std::to_string(host_.port);
  }

 private:
  const SshHost& host_;
  const Policy& policy_;
};

// What ssh said about its failure: its last lines, without the banner of '@'s around a
// changed host key and without scp's own "Connection closed" that follows every failure.
std::string ssh_complaint(const std::string& output) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    std::string line = one_line(output.substr(start, end - start), 256);
    if (!line.empty() && line[0] != '@' && line.find("Connection closed") == std::string::npos) {
      lines.push_back(std::move(line));
    }
    start = end + 1;
  }
  std::string out;
  for (std::size_t i = lines.size() > 2 ? lines.size() - 2 : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : "; ") + lines[i];
  }
  return out.empty() ? one_line(output, 256) : out;
}

// The message of a failed ssh or scp run; ssh's own failures exit 255.
Error remote_error(const Remote& remote, const std::string& what, const RunResult& r) {
  const std::string said = ssh_complaint(r.output);
  if (r.timed_out) return {ErrorCode::kUnavailable, what + " on " + remote.where() + " timed out"};
  return {ErrorCode::kUnavailable, what + " on " + remote.where() + " failed (" +
                                       (r.exit_status == 255 ? std::string("ssh") : r.describe()) +
                                       ")" +
                                       (said.empty() || r.exit_status != 255 ? "" : ": " + said)};
}

std::string reload_script(const std::optional<Reload>& reload) {
  if (!reload) return {};
  std::string cmd;
  for (const auto& a : reload->argv) cmd += " " + shell_quote(a);
  const std::string t = std::to_string(reload->timeout.count());
  // Its stdin is /dev/null: the script itself is what sh is reading from stdin.
  return "if command -v timeout >/dev/null 2>&1; then out=$(timeout -k 5 " + t + cmd +
         " </dev/null 2>&1); else out=$(" + cmd.substr(1) + " </dev/null 2>&1); fi; st=$?\n" +
         "printf '%s\\n' \"$out\" | head -c " + std::to_string(kReloadOutput) + "\n" +
         "echo; echo \"" + std::string(kReloadStatus) + "$st\"\n";
}

std::string owner_spec(const FileOutputs& f) {
  if (f.owner) return *f.owner + ":" + f.group.value_or("");
  if (f.group) return ":" + *f.group;
  return {};
}

std::string set_names(const RemoteFile& f) {
  return "p=" + shell_quote(f.path) + "; t=" + shell_quote(f.temp) +
         "; b=" + shell_quote(f.backup) + "; n=" + shell_quote(f.marker) + "\n";
}

// Keeps the previous files, checks and prepares the copies, then moves them into place and
// reloads. Nothing the service reads changes before every check has passed.
std::string install_script(const TargetSpec& spec, const std::vector<RemoteFile>& files) {
  std::string s =
      "set -u\numask 077\nrefuse() { echo \"" + std::string(kRefused) + "$1\"; exit 3; }\n";
  const std::string owner = owner_spec(spec.files);
  for (const auto& f : files) {
    s += set_names(f);
    s += "if [ -L \"$p\" ]; then refuse \"$p is a symlink\"; fi\n"
         "if [ -e \"$p\" ]; then [ -f \"$p\" ] || refuse \"$p is not a regular file\"; "
         "ln \"$p\" \"$b\" 2>/dev/null || cp -p \"$p\" \"$b\" || refuse \"cannot keep $p\"; "
         "else : > \"$n\" || refuse \"cannot write beside $p\"; fi\n"
         "if [ -L \"$t\" ] || [ ! -f \"$t\" ]; then refuse \"the copy of $p is missing\"; fi\n";
    if (!owner.empty()) {
      s += "chown " + shell_quote(owner) + " \"$t\" || refuse \"cannot chown $p\"\n";
    }
    s += "chmod " + mode_octal(f.mode) + " \"$t\" || refuse \"cannot chmod $p\"\n";
  }
  for (const auto& f : files) {
    s += set_names(f) +
         "mv -f \"$t\" \"$p\" || { echo 'certward: cannot move into place'; exit 4; }\n";
  }
  s += "echo '" + std::string(kInstalled) + "'\n";
  return s + reload_script(spec.reload);
}

// Puts every previous file back (or removes a file that did not exist), drops the copies;
// idempotent, so it is safe whatever point the install reached.
std::string restore_script(const std::vector<RemoteFile>& files,
                           const std::optional<Reload>& reload) {
  std::string s = "set -u\nbad=0\n";
  for (const auto& f : files) {
    s += set_names(f) +
         // Still the same file when the install stopped before moving it: rename(2) would
         // leave both names, so the backup name is simply dropped.
         "if [ -e \"$b\" ] && [ \"$p\" -ef \"$b\" ]; then rm -f \"$b\" || bad=1; "
         "elif [ -e \"$b\" ]; then mv -f \"$b\" \"$p\" || bad=1; "
         "elif [ -e \"$n\" ]; then rm -f \"$p\" \"$n\" || bad=1; fi; rm -f \"$t\"\n";
  }
  s += "if [ $bad -ne 0 ]; then echo 'certward: restore failed'; exit 5; fi\n";
  s += "echo '" + std::string(kRestored) + "'\n";
  return s + reload_script(reload);
}

std::string cleanup_script(const std::vector<RemoteFile>& files) {
  std::string s;
  for (const auto& f : files) s += set_names(f) + "rm -f \"$b\" \"$n\" \"$t\"\n";
  return s;
}

bool has_line(const std::string& out, std::string_view line) {
  return out.find(std::string(line) + "\n") != std::string::npos;
}

// The reload's exit status and what it printed, when the script got to report them.
std::optional<std::pair<int, std::string>> reload_result(const std::string& out,
                                                         std::string_view after) {
  const auto begin = out.find(std::string(after) + "\n");
  const auto status = out.rfind(kReloadStatus);
  if (begin == std::string::npos || status == std::string::npos || status < begin) return {};
  const std::string said = out.substr(begin + after.size() + 1, status - begin - after.size() - 1);
  return std::pair{std::atoi(out.c_str() + status + kReloadStatus.size()), one_line(said)};
}

struct SshDeployment {
  const TargetSpec& spec;
  const Remote& remote;
  std::vector<RemoteFile> files;
  Outcome& out;

  void fail_with(Error e) {
    if (!out.error) out.error = std::move(e);
  }

  // Copies every file to its temporary name. Step "copy".
  bool copy(std::vector<OutputFile>& outputs) {
    StepTimer timer;
    StagingDir staging;
    if (staging.path().empty()) {
      fail_with({ErrorCode::kUnavailable, "cannot create a staging directory"});
      out.steps.push_back(timer.finish("copy", false, out.error->message));
      return false;
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const std::string local = staging.path() + "/" + std::to_string(i);
      Status staged = create_file_exclusive(local, outputs[i].data, 0600);
      auto copied = staged ? remote.copy(local, files[i].temp)
                           : Result<RunResult>(std::unexpected(staged.error()));
      if (!copied || !copied->succeeded()) {
        fail_with(copied ? remote_error(remote, "copying " + files[i].path, *copied)
                         : copied.error());
        out.steps.push_back(timer.finish("copy", false, out.error->message));
        if (i > 0) (void)remote.run(cleanup_script(files), std::chrono::seconds(0));
        return false;
      }
    }
    out.steps.push_back(timer.finish(
        "copy", true, "copied " + std::to_string(files.size()) + " file(s) to " + remote.where()));
    return true;
  }

  // Installs and reloads. Steps "write" and, when it got that far, "reload". Returns whether
  // the reload ran (or may have), for the rollback.
  bool install(bool& ok, bool& changed) {
    StepTimer timer;
    const std::chrono::seconds reload_time =
        spec.reload ? spec.reload->timeout : std::chrono::seconds(0);
    auto run = remote.run(install_script(spec, files), reload_time);
    changed = true;  // unless the script says it stopped before moving anything
    ok = false;
    if (!run) {
      fail_with(run.error());
      out.steps.push_back(timer.finish("write", false, run.error().message));
      return false;
    }
    const std::string& o = run->output;
    if (!has_line(o, kInstalled)) {
      const auto refused = o.find(kRefused);
      if (refused != std::string::npos) {
        changed = false;
        fail_with({ErrorCode::kInvalidArgument,
                   remote.where() + ": " + one_line(o.substr(refused + kRefused.size()), 512)});
      } else {
        fail_with(remote_error(remote, "installing the files", *run));
      }
      out.steps.push_back(timer.finish("write", false, out.error->message));
      return false;
    }
    out.steps.push_back(timer.finish(
        "write", true,
        "installed " + std::to_string(files.size()) + " file(s) on " + remote.where()));
    if (!spec.reload) {
      ok = true;
      return false;
    }
    const auto reload = reload_result(o, kInstalled);
    const bool reloaded = reload && reload->first == 0;
    const std::string detail = reload ? "exit status " + std::to_string(reload->first) +
                                            (reload->second.empty() ? "" : ": " + reload->second)
                                      : remote_error(remote, "the reload", *run).message;
    if (!reloaded) fail_with({ErrorCode::kUnavailable, "reload failed: " + detail});
    out.steps.push_back(timer.finish("reload", reloaded, detail));
    ok = reloaded;
    return true;
  }

  // Steps "restore" and, if the reload had run, "reload-after-restore".
  void roll_back(bool reloaded) {
    StepTimer timer;
    const std::optional<Reload> reload = reloaded ? spec.reload : std::nullopt;
    const std::chrono::seconds reload_time = reload ? reload->timeout : std::chrono::seconds(0);
    auto run = remote.run(restore_script(files, reload), reload_time);
    const bool restored = run && has_line(run->output, kRestored);
    out.steps.push_back(timer.finish(
        "restore", restored,
        restored ? "restored " + std::to_string(files.size()) + " file(s) on " + remote.where()
        : run    ? remote_error(remote, "restoring the files", *run).message
                 : run.error().message));
    out.rolled_back = restored;
    if (!reload || !restored) return;
    StepTimer again;
    const auto result = reload_result(run->output, kRestored);
    const bool ok = result && result->first == 0;
    out.steps.push_back(again.finish("reload-after-restore", ok,
                                     result
                                         ? "exit status " + std::to_string(result->first) +
                                               (result->second.empty() ? "" : ": " + result->second)
                                         : remote_error(remote, "the reload", *run).message));
  }
};

}  // namespace

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

void deploy_ssh(const TargetSpec& spec, const Material& material, const Policy& policy,
                Outcome& out) {
  StepTimer timer;
  auto outputs = render(spec.files, material);
  auto id = random_id();
  if (!outputs || !id) {
    out.error = !outputs ? outputs.error() : id.error();
    out.steps.push_back(timer.finish("copy", false, out.error->message));
    return;
  }
  Remote remote(*spec.ssh, policy);
  SshDeployment d{spec, remote, {}, out};
  for (const auto& o : *outputs) {
    d.files.push_back({o.path, o.path + ".certward-tmp-" + *id, o.path + ".certward-old-" + *id,
                       o.path + ".certward-new-" + *id, o.mode});
  }
  const bool copied = d.copy(*outputs);
  cleanse(*outputs);
  if (!copied) return;
  bool installed = false;
  bool changed = false;
  const bool reloaded = d.install(installed, changed);
  if (!installed) {
    if (changed) {
      d.roll_back(reloaded);
    } else {
      (void)remote.run(restore_script(d.files, std::nullopt), std::chrono::seconds(0));
    }
    return;
  }
  if (spec.verify) {
    Step verify = verify_served(*spec.verify, material, policy);
    if (!verify.ok) d.fail_with({ErrorCode::kUnavailable, "verification failed: " + verify.detail});
    const bool verified = verify.ok;
    out.steps.push_back(std::move(verify));
    if (!verified) {
      d.roll_back(spec.reload.has_value());
      return;
    }
  }
  // The previous files are no longer needed; a failure here leaves a stray backup, not a
  // broken deployment.
  (void)remote.run(cleanup_script(d.files), std::chrono::seconds(0));
  out.deployed = true;
}

}  // namespace certward::lifecycle::deploy::detail
