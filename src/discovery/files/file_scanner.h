#pragma once
// The file and keystore scanner: walks directories on this machine and reports, for every
// regular file it is allowed to look at, one FileObservation — what the file holds
// (certificates, keys, SSH keys), whether the certificate's private key is in it or beside it,
// and what is wrong (a key others can read, a container no configured password opens, a
// malformed line). "Every file is accounted for": a file nothing was recognised in still gets
// an observation, with an empty format; only files excluded by a glob get none.
//
// The walk is safe in directories other people write to: files are opened with O_NOFOLLOW and
// O_NONBLOCK and checked with fstat, so a FIFO or device cannot hang the scan and a file
// replaced by a symbolic link between the directory listing and the open is not followed.
// Nothing here aborts the scan: unreadable files and directories are observations with an
// error. A FileScanner is thread-compatible (one scan at a time).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/secret_bytes.h"
#include "discovery/discovery.h"

namespace certward::discovery::files {

enum class SymlinkPolicy : std::uint8_t {
  kSkip,    // symbolic links met during the walk are counted as skipped ("symlink")
  kFollow,  // followed, to files and directories; a directory already visited is not
            // entered again ("symlink_loop"), so loops end
};
enum class FilesystemPolicy : std::uint8_t {
  kCross,  // descend into every mount
  kStay,   // stay on the device of each root (find -xdev); others are "other_filesystem"
};

struct FileScanOptions {
  // Files or directories to scan. Relative paths are made absolute against the working
  // directory. A root that is itself a symbolic link is followed whatever `symlinks` says (it
  // was named explicitly, as with find -H).
  std::vector<std::string> paths;
  // Globs (see path_glob.h for the exact rule: no '/' = the name; else the whole path, '**'
  // any depth). A file is scanned when it matches some include (all files when empty) and no
  // exclude; a directory matching an exclude is not entered.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  // Larger files are not read: an observation with error kPolicyRejected, skipped
  // "too_large". Default 1 MiB.
  std::uint64_t max_file_size = 1 << 20;
  SymlinkPolicy symlinks = SymlinkPolicy::kSkip;
  FilesystemPolicy filesystems = FilesystemPolicy::kCross;
  // At most this many observations per scan; the summary says when the cap stopped it.
  std::size_t max_files = 1'000'000;
  // Passwords to try on PKCS#12 files, Java keystores and encrypted keys, after the empty
  // password and "changeit" (keytool's customary default), which are always tried first.
  std::vector<crypto::SecretBytes> passwords;
  // When not empty, only what lies under one of these directories once every symbolic link is
  // resolved is read: a root, or a link followed inside it, that leads elsewhere is an
  // observation with error kPolicyRejected (roots) or skipped "symlink_outside" (links).
  std::vector<std::string> confine_to;
  // The machine the files are on, as FileObservation::host; gethostname() when empty.
  std::string host;

  // Test hook: called with a file's path after the directory listing said it is a regular file
  // and before it is opened, so that tests can swap it for a link or a FIFO in that window.
  std::function<void(const std::string& path)> TEST_before_open;
};

struct FileScanSummary {
  std::size_t files_seen = 0;  // observations reported (files, and unreadable directories)
  std::size_t recognised = 0;  // observations with a format
  std::size_t errors = 0;      // observations with an error
  // Reason -> count of what was passed over: "excluded" (files and directories),
  // "too_large" (also reported as an observation), "symlink", "broken_symlink",
  // "symlink_loop", "special_file" (FIFOs, sockets, devices), "other_filesystem", "too_deep"
  // (below 128 directories), "vanished" (deleted between the listing and the look),
  // "symlink_outside" (a link leading out of FileScanOptions::confine_to).
  std::map<std::string, std::size_t> skipped;
  bool max_files_reached = false;  // the scan stopped at FileScanOptions::max_files
};

class FileScanner {
 public:
  // `clock` dates SSH certificates' validity; it must outlive the scanner.
  FileScanner(FileScanOptions options, const Clock& clock);

  // Walks every root in order, calling `on_file` once per observation, synchronously, in
  // directory order (names sorted bytewise) so that scans are reproducible.
  FileScanSummary scan(const std::function<void(FileObservation)>& on_file);

 private:
  class Walk;
  FileScanOptions options_;
  const Clock& clock_;
};

}  // namespace certward::discovery::files
