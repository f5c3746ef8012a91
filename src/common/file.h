#pragma once
// Reading files, and writing files that other people's processes may share a directory with:
// keys, tokens, certificates, configuration deployed to a host.

#include <string>
#include <string_view>

#include "common/error.h"

namespace certward {

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
// An existing symlink at `path` is replaced by the file (rename does not follow it); its
// target is left alone.
//
// Errors: kUnavailable (with the path and the reason). On any failure before the rename the
// temporary file is removed and `path` is left as it was; a failure to sync the directory is
// reported although the new file is already in place (it may not survive a crash).
Status write_file_atomic(const std::string& path, std::string_view data, unsigned mode);

}  // namespace certward
