#pragma once
// Backup and restore of an embedded (SQLite) deployment (docs/operations.md).
//
// A backup is one SQLite file: a consistent copy of the live database taken while the server
// runs, plus a `certward_backup` table that says what it is (version, schema, time, the audit
// head at the copy, the configuration file, where the master key lives and a check value
// sealed under it) and, only when asked, the master key itself sealed under a key derived
// from a passphrase (scrypt, AES-256-GCM). `sqlite3 FILE` can read it; nothing else is needed.
//
// Restore checks before it writes: the file is such a backup and intact, its schema is not
// newer than this binary's, its audit chain verifies to the head recorded at backup time,
// and the master key that will open it (the configured one, or the one in the backup with
// its passphrase) is the one its CA keys are sealed under. It never replaces a database.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/context.h"

namespace certward::cli {

struct BackupOptions {
  std::string file;                            // must not exist
  std::optional<std::string> config_path;      // the configuration file to carry, if any
  bool include_master_key = false;             // then a passphrase is required
  std::optional<std::string> passphrase_file;  // else CERTWARD_BACKUP_PASSPHRASE
};

// Whether the deployment the configuration names can be backed up by create_backup, asked
// before the database is opened. Errors: kInvalidArgument (PostgreSQL: its own tools), those
// of load_config.
Status check_backup_supported(const std::optional<std::string>& config_path,
                              const std::optional<std::string>& data_dir);

// Errors: kInvalidArgument (PostgreSQL; no or short passphrase), kConflict (file exists),
// kAuditBroken is reported through `audit_broken` (the live chain does not verify: no
// backup is written); those of the store.
Result<nlohmann::json> create_backup(Context& c, const BackupOptions& o, bool& audit_broken);

struct RestoreOptions {
  std::string file;
  std::optional<std::string> config_path;
  std::optional<std::string> data_dir;
  std::optional<std::string> passphrase_file;  // else CERTWARD_BACKUP_PASSPHRASE
  std::optional<std::string> config_out;       // write the backup's configuration here
  // "SEQ:HASH" kept outside certward: the backup's chain must hold that event with that hash
  // (it is not older than that event, and its history up to it is as it was).
  std::optional<std::string> checkpoint;
};

// Errors: kMalformed (not a certward backup, damaged), kConflict (a database is already
// there; a newer schema), kBadPassword (wrong passphrase, or the configured master key is not
// the backup's), kNotFound (no master key here and none in the backup); `audit_broken` when
// the backup's audit chain does not verify (or does not hold the checkpoint). Nothing is left
// written on any error.
Result<nlohmann::json> restore_backup(const RestoreOptions& o, bool& audit_broken);

}  // namespace certward::cli
