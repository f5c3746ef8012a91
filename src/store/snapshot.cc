#include "store/snapshot.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace certward::store {

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

Result<DbHandle> open_file(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOFOLLOW, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kUnavailable, "store: cannot open " + path + ": " +
                                             (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // A backup may come from anywhere: no schema trick in it may write files or run code.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_busy_timeout(db.get(), 30'000);
  return db;
}

Status fail_sqlite(sqlite3* db, int rc, const std::string& what) {
  const ErrorCode code = (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) ? ErrorCode::kMalformed
                                                                       : ErrorCode::kUnavailable;
  return fail(code, "store: " + what + ": " + sqlite3_errmsg(db));
}

Status fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorCode::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return fail(ErrorCode::kUnavailable, "cannot fsync " + path + ": " + std::strerror(errno));
  return ok();
}

}  // namespace

Status sqlite_snapshot(const std::string& source, const std::string& dest) {
  // Created empty and private first: VACUUM INTO would make it with the umask's mode, and a
  // database holding sealed keys and tokens' hashes is nobody else's to read.
  const int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return fail(ErrorCode::kConflict, dest + " already exists");
    return fail(ErrorCode::kUnavailable, "cannot create " + dest + ": " + std::strerror(errno));
  }
  ::close(fd);
  auto drop = [&] { ::unlink(dest.c_str()); };
  auto src = open_file(source, SQLITE_OPEN_READONLY);
  if (!src) {
    drop();
    return std::unexpected(src.error());
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(src->get(), "VACUUM INTO ?", -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(stmt.get(), 1, dest.c_str(), -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt.get());
  }
  if (rc != SQLITE_DONE && rc != SQLITE_OK) {
    Status failed = fail_sqlite(src->get(), rc, "copying " + source);
    stmt.reset();
    drop();
    return failed;
  }
  stmt.reset();
  // VACUUM INTO writes without syncing: the copy is durable only from here.
  if (Status synced = fsync_path(dest); !synced) {
    drop();
    return synced;
  }
  return ok();
}

Status sqlite_seal_file(const std::string& path) {
  CW_ASSIGN_OR_RETURN(DbHandle db, open_file(path, SQLITE_OPEN_READWRITE));
  char* message = nullptr;
  const int rc =
      sqlite3_exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;",
                   nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kUnavailable, "store: sealing " + path + ": " + text);
  }
  db.reset();
  return fsync_path(path);
}

}  // namespace certward::store
