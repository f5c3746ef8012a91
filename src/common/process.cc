#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace certward::common {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxInput = 32 * 1024;

// Closes what it holds when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int* out() { return &fd_; }

 private:
  int fd_ = -1;
};

// The spawn attributes and file actions, destroyed with the object.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// A group of its own (so that a timeout kills the command and whatever it started), default
// signal dispositions and an empty mask (the server may ignore SIGPIPE; its children must
// not inherit that).
void set_attributes(SpawnSetup& s) {
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setflags(&s.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &all);
}

Status write_input(int fd, std::string_view input) {
  while (!input.empty()) {
    const ssize_t n = ::write(fd, input.data(), input.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(ErrorCode::kInternal,
                  "writing a child's input: " + std::string(std::strerror(errno)));
    input.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

// Reads what is there without blocking; false at end of file.
bool drain(int fd, std::string& out, std::size_t max) {
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;  // EAGAIN: nothing more for now
    if (n == 0) return false;
    const std::size_t keep = std::min(static_cast<std::size_t>(n), max - std::min(max, out.size()));
    out.append(buf, keep);
  }
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string RunResult::describe() const {
  std::string what;
  if (timed_out) {
    what = "timed out";
  } else if (signal != 0) {
    what = "killed by signal " + std::to_string(signal);
  } else {
    what = "exit status " + std::to_string(exit_status);
  }
  const std::string said = one_line(output);
  return said.empty() ? what : what + ": " + said;
}

std::string one_line(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Result<RunResult> run_process(const std::vector<std::string>& argv, const RunOptions& options) {
  CW_CHECK(!argv.empty() && options.input.size() <= kMaxInput);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorCode::kUnavailable, "pipe: " + std::string(std::strerror(errno)));
  }
  Fd out_read(pipe_fds[0]);
  Fd out_write(pipe_fds[1]);
  Fd in_read;
  if (!options.input.empty()) {
    // The input fits in the pipe's buffer (64 KiB on Linux), so it is written before the
    // child starts and the child sees its end of file.
    int in_fds[2];
    if (::pipe2(in_fds, O_CLOEXEC) != 0) {
      return fail(ErrorCode::kUnavailable, "pipe: " + std::string(std::strerror(errno)));
    }
    *in_read.out() = in_fds[0];
    Fd in_write(in_fds[1]);
    CW_RETURN_IF_ERROR(write_input(in_write.get(), options.input));
  }

  SpawnSetup setup;
  set_attributes(setup);
  if (in_read.get() >= 0) {
    posix_spawn_file_actions_adddup2(&setup.actions, in_read.get(), STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, out_write.get(), STDERR_FILENO);
  // Nothing else of the server's: a descriptor some library opened without O_CLOEXEC (a
  // database connection, a listening socket) must not outlive us in a reloaded daemon.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);

  static char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static char lang_env[] = "LANG=C";
  char* envp[] = {path_env, lang_env, nullptr};
  auto args = c_argv(argv);
  pid_t pid = -1;
  const int spawned =
      ::posix_spawn(&pid, argv[0].c_str(), &setup.actions, &setup.attr, args.data(), envp);
  if (spawned != 0) {
    return fail(ErrorCode::kUnavailable,
                "cannot run " + argv[0] + ": " + std::string(std::strerror(spawned)));
  }
  out_write.reset();
  in_read.reset();
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);

  RunResult result;
  const auto deadline = SteadyClock::now() + options.timeout;
  bool open = true;
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      // Exited. Whatever it left in the pipe is read; a daemon it started may keep the pipe
      // open for ever, so end of file is not waited for.
      if (open) drain(out_read.get(), result.output, options.max_output);
      break;
    }
    if (done < 0 && errno != EINTR) {
      return fail(ErrorCode::kInternal, "waitpid: " + std::string(std::strerror(errno)));
    }
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return result;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd p{out_read.get(), POLLIN, 0};
    const int wait_ms = static_cast<int>(std::min<std::int64_t>(left.count() + 1, 50));
    if (open && ::poll(&p, 1, wait_ms) > 0) {
      open = drain(out_read.get(), result.output, options.max_output);
    } else if (!open) {
      ::poll(nullptr, 0, wait_ms);
    }
  }
  if (WIFEXITED(status)) {
    result.exit_status = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace certward::common
