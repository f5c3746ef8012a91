// The walk works on directory descriptors (openat/fstatat) rather than path strings, so that
// what is checked (lstat: a regular file, not a link) is what is opened (O_NOFOLLOW, then
// fstat compared by device and inode), and a directory swapped for a link mid-walk leads
// nowhere. Directories are remembered by (device, inode): that ends symlink loops and keeps
// overlapping roots from reporting a file twice.

#include "discovery/files/file_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "discovery/files/contents.h"
#include "discovery/files/path_glob.h"

namespace certward::discovery::files {

namespace {

// Deep enough for any real tree, shallow enough that the open directory descriptors along
// the path stay far below the process's limit.
constexpr int kMaxDepth = 128;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

Error errno_error(int err, std::string_view what) {
  ErrorCode code = ErrorCode::kUnavailable;
  if (err == EACCES || err == EPERM) code = ErrorCode::kUnauthorized;
  if (err == ENOENT || err == ENOTDIR) code = ErrorCode::kNotFound;
  if (err == ELOOP) return Error{code, std::string(what) + ": replaced by a symbolic link"};
  return Error{code, std::string(what) + ": " + std::strerror(err)};
}

Result<Bytes> read_fd(int fd, std::uint64_t limit) {
  Bytes out;
  std::array<std::uint8_t, 64 * 1024> buf{};
  while (out.size() <= limit) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_error(errno, "read"));
    if (n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + n);
  }
  return out;
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

std::string local_host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return buf.data();
}

std::string mode_text(mode_t m) { return fmt::format("{:04o}", m & 07777); }

}  // namespace

class FileScanner::Walk {
 public:
  Walk(const FileScanOptions& o, SysTime now, const std::function<void(FileObservation)>& sink)
      : o_(o), sink_(sink), host_(o.host.empty() ? local_host_name() : o.host) {
    passwords_.push_back(crypto::SecretBytes::copy_of(""));
    passwords_.push_back(crypto::SecretBytes::copy_of("changeit"));
    for (const auto& pw : o.passwords) {
      const bool dup = std::ranges::any_of(passwords_, [&](const crypto::SecretBytes& p) {
        return p.size() == pw.size() && std::equal(p.data(), p.data() + p.size(), pw.data());
      });
      if (!dup) passwords_.emplace_back(std::span<const std::uint8_t>(pw.data(), pw.size()));
    }
    inspect_.passwords = passwords_;
    inspect_.now = now;
    for (const auto& root : o.confine_to) {
      std::error_code ec;
      auto real = std::filesystem::canonical(root, ec);
      // A root that does not exist confines to nothing.
      if (!ec) confine_.push_back(real.string());
    }
  }

  void root(const std::string& given) {
    if (stopped()) return;
    std::string path = std::filesystem::absolute(given).lexically_normal().string();
    while (path.size() > 1 && path.ends_with('/')) path.pop_back();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return report_error(path, errno_error(errno, "stat"));
    if (!confined(path, st)) {
      return report_error(path, Error{ErrorCode::kPolicyRejected,
                                      "leads outside the allowed paths through a symbolic link"});
    }
    if (S_ISDIR(st.st_mode)) {
      if (excluded(path)) return skip("excluded");
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd.valid()) return report_error(path, errno_error(errno, "open directory"));
      struct stat now {};
      // What was checked is what is walked, even if a link on the way changed meanwhile.
      if (::fstat(fd.get(), &now) != 0 || !same_file(now, st)) {
        return report_error(path, Error{ErrorCode::kUnavailable,
                                        "the directory was replaced while it was scanned"});
      }
      return directory(std::move(fd), path, st.st_dev, 0);
    }
    if (!S_ISREG(st.st_mode)) return skip("special_file");
    if (!wanted(path)) return skip("excluded");
    const std::filesystem::path p(path);
    UniqueFd parent(::open(p.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent.valid()) return report_error(path, errno_error(errno, "open directory"));
    file(parent.get(), p.filename().string(), path, st, LinkPolicy::kFollow);
  }

  FileScanSummary summary() && { return std::move(summary_); }

 private:
  enum class LinkPolicy : std::uint8_t { kRefuse, kFollow };

  bool stopped() const { return summary_.max_files_reached; }

  // Whether `path` (which `st` describes, links followed) resolves to a place under
  // confine_to. The canonical name is compared by identity with `st`, so a link changed
  // between the two looks is not let through; later opens compare with `st` again.
  bool confined(const std::string& path, const struct stat& st) const {
    if (o_.confine_to.empty()) return true;
    std::error_code ec;
    const auto real = std::filesystem::canonical(path, ec);
    struct stat again {};
    if (ec || ::stat(real.c_str(), &again) != 0 || !same_file(again, st)) return false;
    const std::string r = real.string();
    return std::ranges::any_of(confine_, [&](const std::string& root) {
      return root == "/" || r == root || (r.starts_with(root) && r[root.size()] == '/');
    });
  }
  void skip(const std::string& reason) { ++summary_.skipped[reason]; }

  bool excluded(const std::string& path) const {
    return std::ranges::any_of(o_.exclude,
                               [&](const std::string& g) { return path_glob_match(g, path); });
  }
  bool wanted(const std::string& path) const {
    const bool included =
        o_.include.empty() || std::ranges::any_of(o_.include, [&](const std::string& g) {
          return path_glob_match(g, path);
        });
    return included && !excluded(path);
  }

  // Whether there is room for one more observation; sets the cap flag when there is not.
  bool room() {
    if (summary_.files_seen < o_.max_files) return true;
    summary_.max_files_reached = true;
    return false;
  }

  void emit(FileObservation obs) {
    ++summary_.files_seen;
    if (!obs.format.empty()) ++summary_.recognised;
    if (obs.error) ++summary_.errors;
    sink_(std::move(obs));
  }

  void report_error(const std::string& path, Error e) {
    if (!room()) return;
    FileObservation obs;
    obs.host = host_;
    obs.path = path;
    obs.error = std::move(e);
    emit(std::move(obs));
  }

  void directory(UniqueFd fd, const std::string& path, dev_t root_dev, int depth) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return report_error(path, errno_error(errno, "stat"));
    if (!visited_.insert({st.st_dev, st.st_ino}).second) return skip("symlink_loop");
    DirPtr dir(::fdopendir(fd.get()));
    if (!dir) return report_error(path, errno_error(errno, "read directory"));
    fd.release();  // now owned by dir
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(dir.get())) {
      const std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    if (errno != 0) report_error(path, errno_error(errno, "read directory"));
    std::ranges::sort(names);
    for (const std::string& name : names) {
      if (stopped()) return;
      entry(::dirfd(dir.get()), path, name, root_dev, depth);
    }
  }

  void entry(int dfd, const std::string& dir_path, const std::string& name, dev_t root_dev,
             int depth) {
    const std::string path = join(dir_path, name);
    struct stat st {};
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return skip("vanished");
    LinkPolicy links = LinkPolicy::kRefuse;
    if (S_ISLNK(st.st_mode)) {
      if (o_.symlinks == SymlinkPolicy::kSkip) return skip("symlink");
      if (::fstatat(dfd, name.c_str(), &st, 0) != 0) return skip("broken_symlink");
      if (!confined(path, st)) return skip("symlink_outside");
      links = LinkPolicy::kFollow;
    }
    if (S_ISDIR(st.st_mode)) {
      if (excluded(path)) return skip("excluded");
      if (o_.filesystems == FilesystemPolicy::kStay && st.st_dev != root_dev) {
        return skip("other_filesystem");
      }
      if (depth + 1 > kMaxDepth) return skip("too_deep");
      if (visited_.contains({st.st_dev, st.st_ino})) return skip("symlink_loop");
      const int flags =
          O_RDONLY | O_DIRECTORY | O_CLOEXEC | (links == LinkPolicy::kRefuse ? O_NOFOLLOW : 0);
      UniqueFd sub(::openat(dfd, name.c_str(), flags));
      if (!sub.valid()) return report_error(path, errno_error(errno, "open directory"));
      struct stat now {};
      if (::fstat(sub.get(), &now) != 0 || !same_file(now, st)) {
        return report_error(path, Error{ErrorCode::kUnavailable,
                                        "the directory was replaced while it was scanned"});
      }
      return directory(std::move(sub), path, root_dev, depth + 1);
    }
    if (!S_ISREG(st.st_mode)) return skip("special_file");
    if (!wanted(path)) return skip("excluded");
    file(dfd, name, path, st, links);
  }

  void file(int dfd, const std::string& name, const std::string& path, const struct stat& seen,
            LinkPolicy links) {
    if (!room()) return;
    FileObservation obs;
    obs.host = host_;
    obs.path = path;
    read_into(dfd, name, seen, links, obs);
    emit(std::move(obs));
  }

  void read_into(int dfd, const std::string& name, const struct stat& seen, LinkPolicy links,
                 FileObservation& obs) {
    if (o_.TEST_before_open) o_.TEST_before_open(obs.path);
    // O_NONBLOCK: a FIFO put in place of the file after the listing must not block the open.
    const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
                      (links == LinkPolicy::kRefuse ? O_NOFOLLOW : 0);
    UniqueFd fd(::openat(dfd, name.c_str(), flags));
    if (!fd.valid()) {
      obs.error = errno_error(errno, "open");
      return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      obs.error = errno_error(errno, "stat");
      return;
    }
    if (!S_ISREG(st.st_mode) || !same_file(st, seen)) {
      obs.error = Error{ErrorCode::kUnavailable, "the file was replaced while it was scanned"};
      return;
    }
    auto too_large = [&] {
      skip("too_large");
      obs.error = Error{ErrorCode::kPolicyRejected,
                        fmt::format("larger than the scan's limit of {} bytes", o_.max_file_size)};
    };
    if (static_cast<std::uint64_t>(st.st_size) > o_.max_file_size) return too_large();
    auto data = read_fd(fd.get(), o_.max_file_size);
    if (!data) {
      obs.error = data.error();
      return;
    }
    if (data->size() > o_.max_file_size) return too_large();  // it grew while being read
    FileContents c = inspect_contents(*data, name, inspect_);
    obs.format = std::move(c.format);
    obs.certificates = std::move(c.certificates);
    obs.ssh_keys = std::move(c.ssh_keys);
    obs.findings = std::move(c.findings);
    obs.error = std::move(c.error);
    if (c.holds_key_material && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
      obs.findings.push_back(
          {.code = "key_readable_by_others",
           .severity = Severity::kHigh,
           .detail = "the file holds a private key and its mode is " + mode_text(st.st_mode),
           .fingerprint = {}});
    }
    if (!obs.certificates.empty()) {
      const Bytes& first = obs.certificates.front();
      obs.key_present = c.key_bound_to_first ||
                        std::ranges::any_of(c.keys,
                                            [&](const crypto::EvpPkeyPtr& k) {
                                              return key_matches_certificate(k.get(), first);
                                            }) ||
                        sibling_key_matches(dfd, name, first, links);
    }
  }

  // server.crt's key as server.key, server.pem or server-key.pem in the same directory.
  bool sibling_key_matches(int dfd, const std::string& name, const Bytes& cert,
                           LinkPolicy links) const {
    const std::size_t dot = name.rfind('.');
    const std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
    for (const std::string& candidate : {stem + ".key", stem + ".pem", stem + "-key.pem"}) {
      if (candidate == name) continue;
      const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
                        (links == LinkPolicy::kRefuse ? O_NOFOLLOW : 0);
      UniqueFd fd(::openat(dfd, candidate.c_str(), flags));
      struct stat st {};
      if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
          static_cast<std::uint64_t>(st.st_size) > o_.max_file_size) {
        continue;
      }
      auto data = read_fd(fd.get(), o_.max_file_size);
      if (!data) continue;
      for (const auto& k : unencrypted_pem_keys(*data)) {
        if (key_matches_certificate(k.get(), cert)) return true;
      }
    }
    return false;
  }

  const FileScanOptions& o_;
  const std::function<void(FileObservation)>& sink_;
  const std::string host_;
  std::vector<crypto::SecretBytes> passwords_;
  InspectOptions inspect_;
  std::set<std::pair<dev_t, ino_t>> visited_;
  std::vector<std::string> confine_;  // canonical FileScanOptions::confine_to
  FileScanSummary summary_;
};

FileScanner::FileScanner(FileScanOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

FileScanSummary FileScanner::scan(const std::function<void(FileObservation)>& on_file) {
  Walk walk(options_, clock_.now(), on_file);
  for (const std::string& p : options_.paths) walk.root(p);
  return std::move(walk).summary();
}

}  // namespace certward::discovery::files
