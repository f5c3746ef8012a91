#include "common/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/encoding.h"

namespace certward {
namespace {

std::unexpected<Error> io_error(const std::string& path, std::string_view what, int err) {
  return fail(ErrorCode::kUnavailable,
              "cannot write " + path + ": " + std::string(what) + ": " + std::strerror(err));
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// 64 bits from the kernel's CSPRNG: a name nobody can plant a file or symlink under ahead of
// time (O_EXCL makes a collision harmless anyway; it only costs another try).
Result<std::string> random_suffix() {
  std::array<std::uint8_t, 8> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(ErrorCode::kUnavailable, "getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  return to_hex(bytes);
}

// Creates the temporary file exclusively; never follows or reuses what is already there.
Result<int> create_temporary(const std::string& path, unsigned mode, std::string* tmp) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    CW_ASSIGN_OR_RETURN(std::string suffix, random_suffix());
    *tmp = path + ".tmp-" + suffix;
    const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          static_cast<mode_t>(mode));
    if (fd >= 0) return fd;
    if (errno != EEXIST) return io_error(path, "creating a temporary file", errno);
  }
  return io_error(path, "creating a temporary file", EEXIST);
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(path, "write", errno);
    if (n == 0) return io_error(path, "write", EIO);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

// Writes, syncs and closes `fd`; the file is complete and on disk when this succeeds. The
// owner, when given, is set first: chown clears set-id bits, and the data goes in only once
// owner and mode are final.
Status fill(int fd, std::string_view data, unsigned mode, const std::string& path,
            const FileOwner* owner = nullptr) {
  if (owner != nullptr && ::fchown(fd, owner->uid, owner->gid) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(path, "fchown", err);
  }
  // The mode given to open() was narrowed by the umask; the caller asked for exactly `mode`.
  Status written = ::fchmod(fd, static_cast<mode_t>(mode)) == 0
                       ? write_all(fd, data, path)
                       : Status(io_error(path, "fchmod", errno));
  if (written && ::fsync(fd) != 0) written = io_error(path, "fsync", errno);
  if (::close(fd) != 0 && written) written = io_error(path, "close", errno);
  return written;
}

Status sync_directory(const std::string& dir, const std::string& path) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "opening its directory to sync it", errno);
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) return io_error(path, "syncing its directory (the new file is in place)", err);
  return ok();
}

// Whether what is at `path` may be replaced by a new file: nothing, or a regular file.
Status check_replaceable(const std::string& path, struct stat* st) {
  if (::lstat(path.c_str(), st) != 0) {
    if (errno == ENOENT) return ok();
    return io_error(path, "lstat", errno);
  }
  if (!S_ISREG(st->st_mode)) {
    return fail(ErrorCode::kInvalidArgument,
                "refusing to replace " + path + ": it is not a regular file" +
                    (S_ISLNK(st->st_mode) ? " but a symlink; name its target instead" : ""));
  }
  return ok();
}

// The temporary file, filled and renamed over `path`, and the directory synced.
Status replace(const std::string& path, std::string_view data, unsigned mode,
               const FileOwner* owner) {
  std::string tmp;
  CW_ASSIGN_OR_RETURN(const int fd, create_temporary(path, mode, &tmp));
  Status filled = fill(fd, data, mode, path, owner);
  if (filled) {
    // Checked again just before the rename: what appeared meanwhile is not replaced either.
    struct stat st {};
    filled = check_replaceable(path, &st);
  }
  if (filled && ::rename(tmp.c_str(), path.c_str()) != 0) filled = io_error(path, "rename", errno);
  if (!filled) {
    ::unlink(tmp.c_str());
    return filled;
  }
  return sync_directory(directory_of(path), path);
}

}  // namespace

Status check_output_path(const std::string& path) {
  const std::string dir = directory_of(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::kUnavailable,
                "cannot write " + path + ": directory " + dir + " does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return io_error(path, "directory " + dir + " is not writable", errno);
  }
  st = {};
  CW_RETURN_IF_ERROR(check_replaceable(path, &st));
  if (st.st_mode == 0) return ok();  // nothing there
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorCode::kUnavailable,
                "cannot write " + path + ": it belongs to uid " + std::to_string(st.st_uid));
  }
  return ok();
}

Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  CW_RETURN_IF_ERROR(check_output_path(path));
  return replace(path, data, mode & 07777, nullptr);
}

Status replace_file_atomic(const std::string& path, std::string_view data, unsigned mode,
                           const FileOwner& owner) {
  struct stat st {};
  CW_RETURN_IF_ERROR(check_replaceable(path, &st));
  return replace(path, data, mode & 07777, &owner);
}

Status create_file_exclusive(const std::string& path, std::string_view data, unsigned mode) {
  mode &= 07777;
  std::string tmp;
  CW_ASSIGN_OR_RETURN(const int fd, create_temporary(path, mode, &tmp));
  Status filled = fill(fd, data, mode, path);
  // link() fails if `path` exists (and does not follow a symlink there): the complete file
  // appears under its name, or nothing does.
  int link_errno = 0;
  if (filled && ::link(tmp.c_str(), path.c_str()) != 0) link_errno = errno;
  ::unlink(tmp.c_str());
  if (!filled) return filled;
  if (link_errno == EEXIST) return fail(ErrorCode::kConflict, path + " already exists");
  if (link_errno != 0) return io_error(path, "link", link_errno);
  return sync_directory(directory_of(path), path);
}

Status check_private_file(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(ErrorCode::kUnavailable, "cannot examine " + what + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return fail(ErrorCode::kPolicyRejected, what + " is not a file");
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorCode::kPolicyRejected,
                what + " belongs to uid " + std::to_string(st.st_uid) +
                    ", not to this user: refusing to use a file someone else made");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::kPolicyRejected,
                what + " is accessible by group or others; chmod 600 it");
  }
  return ok();
}

Status check_private_directory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorCode::kUnavailable, "cannot examine " + path + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::kPolicyRejected, path + " is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorCode::kPolicyRejected,
                "data directory " + path + " belongs to uid " + std::to_string(st.st_uid) +
                    ", not to this user: refusing to use a directory someone else made");
  }
  if ((st.st_mode & 022) != 0) {
    return fail(ErrorCode::kPolicyRejected,
                "data directory " + path + " is writable by group or others; chmod 700 it");
  }
  return ok();
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kNotFound, "cannot read " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace certward
