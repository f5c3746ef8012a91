#include "common/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <streambuf>
#include <utility>

#include "common/encoding.h"

namespace certward {
namespace {

std::unexpected<Error> io_error(const std::string& path, std::string_view what, int err) {
  return fail(ErrorCode::kUnavailable,
              "cannot write " + path + ": " + std::string(what) + ": " + std::strerror(err));
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

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A directory descriptor (O_PATH) closed when it goes.
class DirFd {
 public:
  explicit DirFd(int fd) : fd_(fd) {}
  DirFd(DirFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  DirFd& operator=(DirFd&& o) noexcept {
    if (this != &o) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~DirFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The directory `path` is in, as the path names it (symlinks followed).
Result<DirFd> open_directory(const std::string& path) {
  const int fd = ::open(directory_of(path).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "opening its directory", errno);
  return DirFd(fd);
}

// The directory `path` is in, opened one component at a time from the root, refusing a
// symlink at any of them: the directory opened is the one the caller named and judged, not
// one a local user swapped a link in for since. `path` must be absolute.
Result<DirFd> open_directory_strict(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    return fail(ErrorCode::kInvalidArgument, "refusing to write " + path + ": not absolute");
  }
  const std::string dir = directory_of(path);
  DirFd fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return io_error(path, "opening /", errno);
  std::size_t start = 1;
  while (start < dir.size()) {
    const std::size_t end = std::min(dir.find('/', start), dir.size());
    const std::string part = dir.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    // With O_PATH, O_NOFOLLOW opens a symlink itself, which O_DIRECTORY then refuses.
    const int next =
        part == "." || part == ".."
            ? -1
            : ::openat(fd.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      const int err = part == "." || part == ".." ? ENOTDIR : errno;
      if (err == ENOTDIR || err == ELOOP) {
        return fail(ErrorCode::kInvalidArgument, "refusing to write " + path + ": " +
                                                     dir.substr(0, end) +
                                                     " is not a directory (a symlink?)");
      }
      return io_error(path, "opening " + dir.substr(0, end), err);
    }
    fd = DirFd(next);
  }
  return fd;
}

// Creates the temporary file exclusively; never follows or reuses what is already there.
Result<int> create_temporary(const DirFd& dir, const std::string& path, unsigned mode,
                             std::string* tmp) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    CW_ASSIGN_OR_RETURN(std::string suffix, random_suffix());
    *tmp = base_name(path) + ".tmp-" + suffix;
    const int fd =
        ::openat(dir.get(), tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
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

Status sync_directory(const DirFd& dir, const std::string& path) {
  const int fd = ::openat(dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "opening its directory to sync it", errno);
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) return io_error(path, "syncing its directory (the new file is in place)", err);
  return ok();
}

// Whether what is at `name` in `dir` may be replaced by a new file: nothing, or a regular
// file.
Status check_replaceable(const DirFd& dir, const std::string& path, struct stat* st) {
  if (::fstatat(dir.get(), base_name(path).c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) {
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

Status check_replaceable(const std::string& path, struct stat* st) {
  CW_ASSIGN_OR_RETURN(auto dir, open_directory(path));
  return check_replaceable(dir, path, st);
}

// The temporary file `tmp`, once `filled` (closed and synced), renamed over `path` in `dir`
// and the directory synced; removed instead when filling failed or the rename does.
Status put_in_place(const DirFd& dir, const std::string& path, const std::string& tmp,
                    Status filled) {
  if (filled) {
    // Checked again just before the rename: what appeared meanwhile is not replaced either.
    struct stat st {};
    filled = check_replaceable(dir, path, &st);
  }
  if (filled && ::renameat(dir.get(), tmp.c_str(), dir.get(), base_name(path).c_str()) != 0) {
    filled = io_error(path, "rename", errno);
  }
  if (!filled) {
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return filled;
  }
  return sync_directory(dir, path);
}

// A stream buffer over a file descriptor that remembers the first write error: the stream
// then fails, and its writers stop.
class FdStreamBuf final : public std::streambuf {
 public:
  FdStreamBuf(int fd, const std::string& path) : fd_(fd), path_(path) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  // The error of the first write that failed, after writing what is buffered.
  Status finish() {
    sync();
    return status_;
  }

 protected:
  int_type overflow(int_type ch) override {
    if (sync() != 0) return traits_type::eof();
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
    return ch;
  }
  int sync() override {
    if (status_ && pptr() != pbase()) {
      status_ = write_all(
          fd_, std::string_view(pbase(), static_cast<std::size_t>(pptr() - pbase())), path_);
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return status_ ? 0 : -1;
  }

 private:
  int fd_;
  const std::string& path_;
  std::array<char, 1 << 16> buf_{};
  Status status_ = ok();
};

// The temporary file, filled and renamed over `path` in `dir`, and the directory synced.
Status replace(const DirFd& dir, const std::string& path, std::string_view data, unsigned mode,
               const FileOwner* owner) {
  std::string tmp;
  CW_ASSIGN_OR_RETURN(const int fd, create_temporary(dir, path, mode, &tmp));
  return put_in_place(dir, path, tmp, fill(fd, data, mode, path, owner));
}

}  // namespace

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

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
  CW_ASSIGN_OR_RETURN(auto dir, open_directory(path));
  return replace(dir, path, data, mode & 07777, nullptr);
}

Status write_file_atomic_streamed(const std::string& path, unsigned mode,
                                  const std::function<Status(std::ostream&)>& produce) {
  mode &= 07777;
  CW_RETURN_IF_ERROR(check_output_path(path));
  CW_ASSIGN_OR_RETURN(auto dir, open_directory(path));
  std::string tmp;
  CW_ASSIGN_OR_RETURN(const int fd, create_temporary(dir, path, mode, &tmp));
  Status written = ::fchmod(fd, static_cast<mode_t>(mode)) == 0
                       ? Status(ok())
                       : Status(io_error(path, "fchmod", errno));
  if (written) {
    FdStreamBuf buf(fd, path);
    std::ostream out(&buf);
    written = produce(out);
    const Status flushed = buf.finish();
    if (written) written = flushed;
  }
  if (written && ::fsync(fd) != 0) written = io_error(path, "fsync", errno);
  if (::close(fd) != 0 && written) written = io_error(path, "close", errno);
  return put_in_place(dir, path, tmp, std::move(written));
}

Status replace_file_atomic(const std::string& path, std::string_view data, unsigned mode,
                           const FileOwner& owner) {
  CW_ASSIGN_OR_RETURN(auto dir, open_directory_strict(path));
  struct stat st {};
  CW_RETURN_IF_ERROR(check_replaceable(dir, path, &st));
  return replace(dir, path, data, mode & 07777, &owner);
}

Status remove_file_strict(const std::string& path) {
  CW_ASSIGN_OR_RETURN(auto dir, open_directory_strict(path));
  if (::unlinkat(dir.get(), base_name(path).c_str(), 0) != 0 && errno != ENOENT) {
    return fail(ErrorCode::kUnavailable, "cannot remove " + path + ": " + std::strerror(errno));
  }
  return ok();
}

Result<int> open_file_strict(const std::string& path, int flags) {
  CW_ASSIGN_OR_RETURN(auto dir, open_directory_strict(path));
  const int fd = ::openat(dir.get(), base_name(path).c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  const int err = errno;
  if (err == ENOENT) return fail(ErrorCode::kNotFound, path + " does not exist");
  if (err == ELOOP) return fail(ErrorCode::kInvalidArgument, path + " is a symlink");
  return fail(ErrorCode::kUnavailable, path + ": " + std::strerror(err));
}

Status create_file_exclusive(const std::string& path, std::string_view data, unsigned mode) {
  mode &= 07777;
  CW_ASSIGN_OR_RETURN(auto dir, open_directory(path));
  std::string tmp;
  CW_ASSIGN_OR_RETURN(const int fd, create_temporary(dir, path, mode, &tmp));
  Status filled = fill(fd, data, mode, path);
  // linkat() fails if `path` exists (and does not follow a symlink there): the complete file
  // appears under its name, or nothing does.
  int link_errno = 0;
  if (filled && ::linkat(dir.get(), tmp.c_str(), dir.get(), base_name(path).c_str(), 0) != 0) {
    link_errno = errno;
  }
  ::unlinkat(dir.get(), tmp.c_str(), 0);
  if (!filled) return filled;
  if (link_errno == EEXIST) return fail(ErrorCode::kConflict, path + " already exists");
  if (link_errno != 0) return io_error(path, "link", link_errno);
  return sync_directory(dir, path);
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
