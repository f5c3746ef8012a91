// The files target on this host: every previous file is read (bytes, owner, mode) before the
// first one changes, so that a rollback puts back exactly what was there, or removes what was
// not.

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/file.h"
#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy::detail {
namespace {

constexpr std::size_t kMaxPrevious = 64u << 20;

struct Previous {
  bool existed = false;
  std::string data;
  FileOwner owner;
  mode_t mode = 0;
};

struct LocalFile {
  OutputFile output;
  std::string write_path;  // the path with its parents' symlinks resolved, as check_target judged
  Previous previous;
};

// Owns the files for the whole deployment; the secrets among them (new keys, old keys) are
// overwritten when it ends, whichever way it ends.
struct Files {
  std::vector<LocalFile> list;
  Files() = default;
  Files(const Files&) = delete;
  Files& operator=(const Files&) = delete;
  ~Files() {
    for (auto& f : list) {
      if (f.output.sensitivity == Sensitivity::kSecret) {
        crypto::cleanse(f.output.data);
        crypto::cleanse(f.previous.data);
      }
    }
  }
};

// Looks `name` up with getpwnam_r or getgrnam_r (`get`) and returns `extract` of the entry
// (only its numbers: the strings it points to live in a buffer that ends here).
template <typename Entry, typename Get, typename Extract>
auto find_account(std::string_view kind, const std::string& name, Get get, Extract extract)
    -> Result<decltype(extract(std::declval<const Entry&>()))> {
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  Entry entry{};
  Entry* found = nullptr;
  int rc = 0;
  while ((rc = get(name.c_str(), &entry, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  const std::string what = std::string(kind) + " " + name;
  if (rc != 0)
    return fail(ErrorCode::kUnavailable, "looking up " + what + ": " + std::strerror(rc));
  if (found == nullptr) return fail(ErrorCode::kNotFound, "there is no " + what + " on this host");
  return extract(entry);
}

// The owner: the named user (default: this process's), the named group (default: the
// owner's primary group, or this process's when no owner is named).
Result<FileOwner> resolve_owner(const FileOutputs& files) {
  FileOwner owner{::geteuid(), ::getegid()};
  if (files.owner) {
    CW_ASSIGN_OR_RETURN(
        owner, find_account<passwd>("user", *files.owner, ::getpwnam_r, [](const passwd& pw) {
          return FileOwner{pw.pw_uid, pw.pw_gid};
        }));
  }
  if (files.group) {
    CW_ASSIGN_OR_RETURN(owner.gid, find_account<group>("group", *files.group, ::getgrnam_r,
                                                       [](const group& gr) { return gr.gr_gid; }));
  }
  return owner;
}

// What is at `path` now. A symlink or anything but a regular file is refused: the target
// writes files, never through links or onto devices.
Result<Previous> read_previous(const std::string& path) {
  Previous prev;
  // Opened without following a symlink, at the file or on its way: a directory swapped for a
  // link since the path was judged does not make this read (and the rollback write) elsewhere.
  auto opened = open_file_strict(path, O_RDONLY | O_NONBLOCK);
  if (!opened) {
    if (opened.error().code == ErrorCode::kNotFound) return prev;
    if (opened.error().code == ErrorCode::kInvalidArgument) {
      return fail(ErrorCode::kInvalidArgument,
                  "refusing to write " + path + ": " + opened.error().message);
    }
    return fail(ErrorCode::kUnavailable, "cannot read " + opened.error().message);
  }
  const int fd = *opened;
  struct stat st {};
  Status status = ::fstat(fd, &st) == 0
                      ? ok()
                      : Status(fail(ErrorCode::kUnavailable, "cannot examine " + path));
  if (status && !S_ISREG(st.st_mode)) {
    status =
        fail(ErrorCode::kInvalidArgument, "refusing to write " + path + ": not a regular file");
  }
  if (status && static_cast<std::size_t>(st.st_size) > kMaxPrevious) {
    status = fail(ErrorCode::kInvalidArgument, "refusing to replace " + path + ": over 64 MiB");
  }
  char buf[16384];
  while (status) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      status = fail(ErrorCode::kUnavailable, "cannot read " + path + ": " + std::strerror(errno));
    if (n <= 0) break;
    prev.data.append(buf, static_cast<std::size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  ::close(fd);
  if (!status) {
    crypto::cleanse(prev.data);
    return std::unexpected(status.error());
  }
  prev.existed = true;
  prev.owner = {st.st_uid, st.st_gid};
  prev.mode = st.st_mode & 07777;
  return prev;
}

// The directory a file goes into must exist: the target writes files, it makes no directories.
Status check_directory(const std::string& path) {
  const std::string dir = path.substr(0, std::max<std::size_t>(path.rfind('/'), 1));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::kUnavailable, "cannot write " + path + ": no directory " + dir);
  }
  return ok();
}

// Everything that can fail without changing anything: owner, contents, paths, what is there.
Status prepare(const TargetSpec& spec, const Material& material, const Policy& policy, Files& files,
               FileOwner& owner) {
  CW_ASSIGN_OR_RETURN(owner, resolve_owner(spec.files));
  CW_ASSIGN_OR_RETURN(auto outputs, render(spec.files, material));
  for (auto& o : outputs) files.list.push_back({std::move(o), {}, {}});
  for (auto& f : files.list) {
    // Resolved and judged once more, here: the path written is the path the policy allowed,
    // even if a symlink changed since check_target.
    CW_ASSIGN_OR_RETURN(f.write_path, allowed_write_path(f.output.role, f.output.path, policy));
    CW_RETURN_IF_ERROR(check_directory(f.write_path));
    CW_ASSIGN_OR_RETURN(f.previous, read_previous(f.write_path));
  }
  return ok();
}

// Puts back the first `changed` files, last first. Keeps going after a failure so that as
// much as possible is restored, and reports the first.
Status restore(const Files& files, std::size_t changed) {
  Status first = ok();
  for (std::size_t i = changed; i-- > 0;) {
    const LocalFile& f = files.list[i];
    Status s = ok();
    if (f.previous.existed) {
      s = replace_file_atomic(f.write_path, f.previous.data, f.previous.mode, f.previous.owner);
    } else {
      s = remove_file_strict(f.write_path);
    }
    if (!s && first) first = s;
  }
  return first;
}

Step run_reload(const Reload& reload, const std::string& name) {
  StepTimer timer;
  RunOptions options;
  options.timeout = reload.timeout;
  auto run = run_process(reload.argv, options);
  if (!run) return timer.finish(name, false, run.error().message);
  if (run->timed_out) {
    return timer.finish(name, false,
                        "timed out after " + std::to_string(reload.timeout.count()) + "s");
  }
  return timer.finish(name, run->succeeded(), run->describe());
}

// After a failure: the previous files back, the reload again if it ran. Records both steps.
void roll_back(const TargetSpec& spec, const Files& files, std::size_t changed, bool reloaded,
               Outcome& out) {
  StepTimer timer;
  Status restored = restore(files, changed);
  out.steps.push_back(timer.finish(
      "restore", restored.has_value(),
      restored ? "restored " + std::to_string(changed) + " file(s)" : restored.error().message));
  if (reloaded && spec.reload) {
    out.steps.push_back(run_reload(*spec.reload, "reload-after-restore"));
  }
  out.rolled_back = restored.has_value();
}

}  // namespace

void deploy_files(const TargetSpec& spec, const Material& material, const Policy& policy,
                  Outcome& out) {
  Files files;
  FileOwner owner;
  StepTimer write_timer;
  if (Status ready = prepare(spec, material, policy, files, owner); !ready) {
    out.steps.push_back(write_timer.finish("write", false, ready.error().message));
    out.error = ready.error();
    return;
  }
  std::size_t changed = 0;
  for (const auto& f : files.list) {
    ++changed;  // counted before: a failure after the rename (the directory sync) left it changed
    Status written = replace_file_atomic(f.write_path, f.output.data, f.output.mode, owner);
    if (!written) {
      out.steps.push_back(write_timer.finish("write", false, written.error().message));
      out.error = written.error();
      roll_back(spec, files, changed, false, out);
      return;
    }
  }
  out.steps.push_back(
      write_timer.finish("write", true, "wrote " + std::to_string(changed) + " file(s)"));
  if (spec.reload) {
    Step reload = run_reload(*spec.reload, "reload");
    const bool reloaded = reload.ok;
    if (!reloaded) out.error = Error{ErrorCode::kUnavailable, "reload failed: " + reload.detail};
    out.steps.push_back(std::move(reload));
    if (!reloaded) {
      roll_back(spec, files, changed, true, out);
      return;
    }
  }
  if (spec.verify) {
    Step verify = verify_served(*spec.verify, material, policy);
    const bool verified = verify.ok;
    if (!verified) {
      out.error = Error{ErrorCode::kUnavailable, "verification failed: " + verify.detail};
    }
    out.steps.push_back(std::move(verify));
    if (!verified) {
      roll_back(spec, files, changed, spec.reload.has_value(), out);
      return;
    }
  }
  out.deployed = true;
}

}  // namespace certward::lifecycle::deploy::detail
