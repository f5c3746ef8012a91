#pragma once
// Reading files, and writing files that other people's processes may share a directory with:
// keys, tokens, certificates, configuration deployed to a host.

#include <sys/types.h>

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "common/error.h"

namespace certward {

// The directory that holds `path`: "." for a bare name, "/" for a file in the root.
std::string directory_of(const std::string& path);

// The whole content of the file at `path`. Errors: kNotFound with the path and the reason.
Result<std::string> read_file(const std::string& path);

// Replaces the file at `path` with `data`, atomically and durably, with permissions exactly
// `mode` (umask does not apply; 0600 for anything secret).
//
// The data goes to a new temporary file in the same directory, named `<path>.tmp-<random>` and
// created exclusively (O_EXCL | O_NOFOLLOW) with `mode` from the start, so a file or symlink
// that someone else planted under a guessable name is never opened, and the data is never
// readable by others, not even for a moment. The file is fsync'd, renamed over `path`, and
// the directory is fsync'd so that the rename survives a crash. A reader sees the old file
// or the new one, never a mix. The new file belongs to the calling user.
//
// What may already be at `path` is what check_output_path allows: nothing, or a regular file
// of the caller's (checked again here, just before the rename).
//
// Errors: kUnavailable (with the path and the reason). On any failure before the rename the
// temporary file is removed and `path` is left as it was; a failure to sync the directory is
// reported although the new file is already in place (it may not survive a crash).
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

// As write_file_atomic, for data produced as it is written (a report over an inventory of any
// size, which must not be held in memory): `produce` writes onto a stream over the temporary
// file, and the file replaces `path` only if `produce` succeeds and every byte reached the
// disk. Otherwise the temporary file is removed and `path` is left as it was.
// Errors: those of `produce`; as write_file_atomic.
Status write_file_atomic_streamed(const std::string& path, unsigned mode,
                                  const std::function<Status(std::ostream&)>& produce);
// Who a file written by replace_file_atomic belongs to.
struct FileOwner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// As write_file_atomic, for a file handed over to other programs (a deployed certificate or
// key read by a web server): the file belongs to `owner`, set on the temporary file before
// its mode and before any data is written, so it is never readable by anyone the final
// owner, group and mode would not let read it. Changing the owner needs the privilege to
// (root, or the caller itself and one of its groups).
//
// What may already be at `path` is nothing or a regular file of anyone's: replacing the file
// that a service reads is the point, and who may write where is the caller's policy. A
// symlink, a device, a FIFO or a directory there is refused rather than replaced.
//
// `path` is absolute and its directories are opened one by one from the root without
// following a symlink, and every step after that is relative to the directory so opened: a
// local user who can write somewhere along the path cannot swap a directory for a link to
// /etc between the caller's check of the path and the write (the caller resolves links first,
// then judges and writes the resolved path).
//
// Errors: kInvalidArgument (not a regular file; a symlink or non-directory on the way),
// kUnavailable (with the path and the reason; the same guarantees on failure as
// write_file_atomic).
Status replace_file_atomic(const std::string& path, std::string_view data, unsigned mode,
                           const FileOwner& owner);
// Removes the file at `path` (nothing there is not an error), its directories opened as
// replace_file_atomic opens them. Errors: as replace_file_atomic.
Status remove_file_strict(const std::string& path);
// Opens the file at `path` with `flags` (O_NOFOLLOW and O_CLOEXEC added), its directories
// opened as replace_file_atomic opens them; the caller closes the descriptor.
// Errors: kNotFound (no such file), kInvalidArgument (the file or something on the way is a
// symlink, or not a directory), kUnavailable.
Result<int> open_file_strict(const std::string& path, int flags);

// Whether `path` can take an output file, asked before the work that produces it (issuing a
// certificate, minting a token), so that a bad path costs nothing: its directory must exist
// and be writable; what is at `path` may be nothing or a regular file of the caller's. A
// symlink, a device, a FIFO or a directory there is refused rather than replaced (run as
// root, `--out-key /dev/null` must not turn /dev/null into a key file), and so is a file of
// another user's (in a shared sticky directory, theirs to keep).
// Errors: kInvalidArgument (not a regular file), kUnavailable (no such directory, not
// writable, another user's file).
Status check_output_path(const std::string& path);

// Creates the file at `path` with `data` and exactly `mode`, complete and durable, unless
// something already exists there: the data is written and fsync'd under a temporary name as
// above, then linked to `path`, which fails rather than replace anything, and the directory is
// fsync'd. A crash leaves either no file or the whole one (never a truncated key), and two
// processes creating the same file at once cannot both succeed.
// Errors: kConflict (`path` exists), kUnavailable.
Status create_file_exclusive(const std::string& path, std::string_view data, unsigned mode);

// Whether an open file may hold this user's secrets (a database, a master key): it must be a
// regular file owned by the effective user and closed to group and others. A file that
// another local user planted (or can write) would hand them everything stored in it.
// `what` names it in the message. Errors: kPolicyRejected.
Status check_private_file(int fd, const std::string& what);

// Whether a directory may hold such files: owned by the effective user and writable by
// nobody else (so nobody else can plant or replace a file in it). Follows symlinks.
// Errors: kPolicyRejected; kUnavailable when it cannot be examined.
Status check_private_directory(const std::string& path);

}  // namespace certward
